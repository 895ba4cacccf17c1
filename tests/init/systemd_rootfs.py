#!/usr/bin/env python3
"""The Debian 12 root filesystem that tests/init/test_systemd_real.py boots
with systemd-nspawn: made once with debootstrap, from the mirror this
machine's apt sources name, and cached outside the repository.

  systemd_rootfs.py [CACHE_DIR]   build it if it is missing or stale, print its path

The cache (default /var/cache/observer-test, or $OBSERVER_TEST_CACHE) holds
  bookworm-rootfs/        the tree; never written after it is complete (the
                          container boots it with --volatile=overlay)
  bookworm-rootfs.lock    flock(2)ed while a run checks or builds the tree, so
                          concurrent runs wait for one debootstrap instead of
                          racing
A tree is complete when its stamp file names exactly the packages below; a
change of that list, or an interrupted build, makes the next run build it
again (into a fresh directory, renamed into place at the end).
"""
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import time

SUITE = "bookworm"
# systemd as PID 1 and what the test drives it with; python3 for the local
# HTTP server; everything the .deb depends on (the libraries observer links,
# and procps for the unit's ExecReload=/bin/kill), so that the .deb (or a
# `cmake --install` tree) installs without network inside the container.
PACKAGES = ["systemd", "systemd-sysv", "dbus", "python3", "procps",
            "libuv1", "libcurl4", "libmicrohttpd12", "libinih1", "libpcre2-8-0", "libstdc++6",
            "ca-certificates"]
STAMP = ".observer-test-rootfs"
DEBOOTSTRAP_TIMEOUT = 1500


def cache_dir():
    return os.environ.get("OBSERVER_TEST_CACHE", "/var/cache/observer-test")


def stamp_text():
    return "suite=%s\npackages=%s\n" % (SUITE, ",".join(PACKAGES))


def debian_mirror():
    """The URI that this machine's apt sources give for SUITE's main archive
    (not -security, not -updates): debootstrap uses that and nothing else."""
    files = glob.glob("/etc/apt/sources.list") + sorted(glob.glob("/etc/apt/sources.list.d/*"))
    for path in files:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                    if m and not line.startswith("#"):
                        fields[m.group(1).lower()] = m.group(2).split()
                if "deb" in fields.get("types", []) and SUITE in fields.get("suites", []) and fields.get("uris"):
                    return fields["uris"][0]
        else:
            for line in text.splitlines():
                m = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s", line.strip() + " ")
                if m and m.group(2) == SUITE:
                    return m.group(1)
    return None


def is_complete(root):
    try:
        with open(os.path.join(root, STAMP)) as f:
            return f.read() == stamp_text()
    except OSError:
        return False


def build(root, log=sys.stderr):
    """debootstrap into root + ".new", then rename. Raises RuntimeError with
    the reason when it cannot."""
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed (Debian package: debootstrap)")
    mirror = debian_mirror()
    if mirror is None:
        raise RuntimeError("no %s entry in /etc/apt/sources.list(.d) to take a mirror from" % SUITE)
    tmp = root + ".new"
    subprocess.run(["rm", "-rf", "--one-file-system", tmp], check=True, timeout=300)
    argv = ["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), SUITE, tmp, mirror]
    print("systemd_rootfs: %s" % " ".join(argv), file=log, flush=True)
    started = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=DEBOOTSTRAP_TIMEOUT)
    if r.returncode != 0:
        tail = "\n".join(r.stdout.splitlines()[-20:])
        debootstrap_log = os.path.join(tmp, "debootstrap", "debootstrap.log")
        if os.path.exists(debootstrap_log):
            with open(debootstrap_log, errors="replace") as f:
                tail += "\n" + "\n".join(f.read().splitlines()[-20:])
        raise RuntimeError("debootstrap failed (exit %d):\n%s" % (r.returncode, tail))
    # Nothing in the container needs these, and a boot without them is quiet
    # and quick: no getty on a console nobody reads, no network setup in a
    # loopback-only namespace.
    for unit in ["getty@.service", "console-getty.service", "systemd-networkd.service",
                 "systemd-timesyncd.service", "apt-daily.timer", "apt-daily-upgrade.timer"]:
        for link in glob.glob(os.path.join(tmp, "etc/systemd/system/*.wants", unit)):
            os.unlink(link)
    with open(os.path.join(tmp, "etc/hostname"), "w") as f:
        f.write("observer-test\n")
    # A root filesystem that boots needs a machine-id; empty means "make one
    # at boot" (the overlay keeps it out of the cached tree).
    open(os.path.join(tmp, "etc/machine-id"), "w").close()
    with open(os.path.join(tmp, STAMP), "w") as f:
        f.write(stamp_text())
    subprocess.run(["rm", "-rf", "--one-file-system", root], check=True, timeout=300)
    os.rename(tmp, root)
    print("systemd_rootfs: built %s in %.0fs" % (root, time.monotonic() - started), file=log, flush=True)


def ensure(directory=None, log=sys.stderr, lock_timeout=DEBOOTSTRAP_TIMEOUT + 60):
    """The path of a complete root filesystem, built under the lock if need
    be. The lock is released on return: a complete tree is only ever read
    afterwards, and a rebuild renames a fresh tree into place."""
    directory = directory or cache_dir()
    os.makedirs(directory, mode=0o755, exist_ok=True)
    root = os.path.join(directory, SUITE + "-rootfs")
    with open(os.path.join(directory, SUITE + "-rootfs.lock"), "w") as lock:
        deadline = time.monotonic() + lock_timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError("another run has held %s.lock for %ds" % (root, lock_timeout))
                time.sleep(1)
        if not is_complete(root):
            build(root, log)
    return root


if __name__ == "__main__":
    try:
        print(ensure(sys.argv[1] if len(sys.argv) > 1 else None))
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        print("systemd_rootfs: %s" % e, file=sys.stderr)
        sys.exit(1)
