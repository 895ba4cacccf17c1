#!/usr/bin/env python3
"""observer under a real systemd 252: a Debian 12 container booted with
`systemd-nspawn -b`, observer installed into it (the .deb when
$OBS_SYSTEMD_REAL_DEB names one, else `cmake --install` of this build tree),
and the shipped unit driven with systemctl and read back with journalctl.

How it runs
  * The root filesystem comes from tests/init/systemd_rootfs.py (debootstrap,
    cached in /var/cache/observer-test, built once under a lock). The
    container boots it with --volatile=overlay: every write lands in a tmpfs
    and the cached tree stays pristine, so runs never see each other's state.
  * --private-network: inside there is only loopback. Every URL is
    127.0.0.1; the HTTP server is python3 -m http.server started as a
    transient unit with systemd-run.
  * On a host whose PID 1 is not systemd nspawn cannot register the machine,
    so it runs with --register=no --keep-unit; `systemctl -M` and
    `systemd-run -M` then do not reach the container. Commands run inside
    with nsenter into every namespace of the container's PID 1 (found as the
    child of the nspawn process whose NSpid is 1), with a clean environment.
  * PID 1 logs at debug level, so the journal shows every sd_notify message
    systemd accepted (READY=1, WATCHDOG=1) and every signal it sent.
  * Every command has a timeout; the container is powered off at the end
    (SIGTERM to nspawn, which halts it; SIGKILL to nspawn and the
    container's PID 1 by PID after 30 s), also on failure, on SIGTERM and,
    through PR_SET_PDEATHSIG, if this script itself is killed.

Exits 77 (CTest: skipped) with the reason when it cannot run here: not root,
no systemd-nspawn, no debootstrap and no cached tree, debootstrap failing,
or a kernel or container that will not boot systemd. With
OBS_SYSTEMD_REAL_REQUIRED=1 (CI) each of those is a failure instead.

  test_systemd_real.py            every step
  test_systemd_real.py -k reload  the steps whose names match
"""
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import systemd_rootfs  # noqa: E402
from init_support import layout  # noqa: E402

SKIP = 77
UNIT = "observer.service"
CONFIG = "/etc/observer/observer.conf"
PAYLOAD = "/srv/observer-test"      # the host's staging dir, bound read-only
WWW = "/srv/www"                    # what the container's HTTP server serves
HTTP_PORT = 8080
CLOSED_PORT = 8081                  # nothing listens: connection refused
# How long systemd may take over anything the test waits for. Generous: the
# two cores are shared with other builds.
STEP = 30

GOOD_CONFIG = """\
# observer under real systemd: three targets on 127.0.0.1, probed every second.
tick=1s
timeout=1s
failure_threshold=1
success_threshold=1

[up]
url=http://127.0.0.1:%(port)d/ok.txt
status=200

[flip]
url=http://127.0.0.1:%(port)d/flip.txt
status=200

[refused]
url=http://127.0.0.1:%(closed)d/
status=200
""" % {"port": HTTP_PORT, "closed": CLOSED_PORT}

# An unknown key before the first section: the supervisor itself finds it.
BROKEN_CONFIG = GOOD_CONFIG.replace("tick=1s\n", "tick=1s\nstauts=200\n")
BROKEN_LINE = GOOD_CONFIG.splitlines().index("tick=1s") + 2


def log(msg):
    print("[%7.1fs] %s" % (time.monotonic() - STARTED, msg), flush=True)


STARTED = time.monotonic()


def skip(reason):
    """Exit 77, or 1 where the caller says this machine must run the test
    (OBS_SYSTEMD_REAL_REQUIRED=1: CI, whose machines can)."""
    if os.environ.get("OBS_SYSTEMD_REAL_REQUIRED") == "1":
        print("FAIL: cannot run, and OBS_SYSTEMD_REAL_REQUIRED=1: %s" % reason, flush=True)
        sys.exit(1)
    print("SKIP: %s" % reason, flush=True)
    sys.exit(SKIP)


def set_pdeathsig():
    """In the child before exec: SIGTERM when this script dies, so that even a
    SIGKILLed test run powers the container off."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def own_cgroups(name):
    """With --keep-unit nspawn puts the container in payload/ under its own
    cgroup. Two runs started from one cgroup would share it, and each
    container's systemd would manage the other's system.slice. So nspawn
    starts in a cgroup of its own, in every hierarchy systemd uses
    (name=systemd and cgroup2). Returns those directories."""
    dirs = []
    with open("/proc/self/cgroup") as f:
        mine = dict((line.split(":", 2)[1], line.split(":", 2)[2].strip()) for line in f)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype, options, mount = fields[fields.index("-") + 1], fields[-1], fields[4]
            if fstype == "cgroup2":
                key = ""
            elif fstype == "cgroup" and "name=systemd" in options.split(","):
                key = "name=systemd"
            else:
                continue
            if key in mine:
                d = os.path.join(mount, mine[key].lstrip("/"), name)
                os.makedirs(d, exist_ok=True)
                dirs.append(d)
    return dirs


def remove_cgroups(dirs):
    """Empties dirs as it removes them, so a second call does nothing."""
    while dirs:
        top = dirs.pop()
        for root, subdirs, _ in os.walk(top, topdown=False):
            for sub in subdirs:
                try:
                    os.rmdir(os.path.join(root, sub))
                except OSError:
                    pass
        try:
            os.rmdir(top)
        except OSError as e:
            log("cannot remove cgroup %s: %s" % (top, e))


def alive(pid):
    """pid exists and is not a zombie (a zombie has exited)."""
    state = status_field(pid, "State")
    return state is not None and state[0] != "Z"


def status_field(pid, name):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split()[1:]
    except OSError:
        return None
    return None


class Container:
    """One booted container; owns the nspawn process and its log."""

    def __init__(self, rootfs, payload_dir, workdir):
        self.rootfs = rootfs
        self.payload_dir = payload_dir
        self.name = "observer-test-%d" % os.getpid()
        self.log_path = os.path.join(workdir, "nspawn.log")
        self.proc = None
        self.leader = None      # host PID of the container's PID 1
        self.cgroups = []       # made for nspawn, removed after it

    def boot(self):
        argv = ["systemd-nspawn", "--quiet", "-D", self.rootfs, "--volatile=overlay",
                "--private-network", "-M", self.name, "--console=pipe",
                "--bind-ro=%s:%s" % (self.payload_dir, PAYLOAD), "-b"]
        preexec = set_pdeathsig
        if not os.path.isdir("/run/systemd/system"):
            # PID 1 here is not systemd: no machined to register with, no
            # scope to create; nspawn stays in its cgroup, one made for it.
            argv[1:1] = ["--register=no", "--keep-unit"]
            self.cgroups = own_cgroups(self.name)
            procs = [os.path.join(d, "cgroup.procs") for d in self.cgroups]

            def preexec():
                set_pdeathsig()
                for p in procs:
                    with open(p, "w") as f:
                        f.write("0")
        log("boot: %s" % " ".join(argv))
        self.logfile = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.logfile,
                                     stderr=subprocess.STDOUT, preexec_fn=preexec)
        deadline = time.monotonic() + 60
        while self.leader is None:
            if self.proc.poll() is not None:
                return "systemd-nspawn exited with %d before the container booted:\n%s" % (
                    self.proc.returncode, self.log_tail())
            if time.monotonic() > deadline:
                return "no PID 1 appeared in the container within 60 s:\n" + self.log_tail()
            self.leader = self._find_leader()
            time.sleep(0.1)
        # PID 1 exists before systemd listens on its private socket: until
        # then systemctl fails at once ("Failed to connect to bus"), so ask
        # again until it answers with a state.
        deadline = time.monotonic() + 90
        while True:
            r = self.run(["systemctl", "is-system-running", "--wait"],
                         timeout=max(1, deadline - time.monotonic()), check=False)
            state = r.stdout.strip()
            if state in ("running", "degraded"):
                break
            if time.monotonic() > deadline or self.proc.poll() is not None or state == "stopping":
                return "the container's systemd did not finish booting (is-system-running: %r, exit %d, %s):\n%s" % (
                    state, r.returncode, r.stderr.strip(), self.log_tail())
            time.sleep(0.2)
        if state == "degraded":
            log("boot: degraded; failed units: %s" % self.run(
                ["systemctl", "--failed", "--no-legend", "--plain"], check=False).stdout.strip())
        return None

    def _find_leader(self):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            if status_field(pid, "PPid") == [str(self.proc.pid)]:
                nspid = status_field(pid, "NSpid")
                if nspid and len(nspid) > 1 and nspid[-1] == "1":
                    return pid
        return None

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "\n".join(f.read().splitlines()[-lines:])
        except OSError:
            return ""

    def run(self, argv, timeout=STEP, check=True, input=None):
        """argv inside the container, as root, in every namespace of its PID 1."""
        full = ["nsenter", "-t", str(self.leader), "-a", "--", "env", "-i",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", "TERM=dumb"] + list(argv)
        r = subprocess.run(full, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("in the container, %s exited %d\nstdout: %s\nstderr: %s" % (
                " ".join(argv), r.returncode, r.stdout, r.stderr))
        return r

    def sh(self, script, **kw):
        return self.run(["sh", "-euc", script], **kw)

    def write(self, path, text):
        self.run(["sh", "-euc", 'mkdir -p "$(dirname "$1")"; cat > "$1"; chmod 0644 "$1"', "sh", path],
                 input=text)

    def host_pid(self, pid):
        """The host's PID of the container's process pid, or None if it is gone."""
        ns = os.readlink("/proc/%d/ns/pid" % self.leader)
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            nspid = status_field(int(entry), "NSpid")
            if nspid and nspid[-1] == str(pid) and len(nspid) > 1:
                try:
                    if os.readlink("/proc/%s/ns/pid" % entry) == ns:
                        return int(entry)
                except OSError:
                    pass
        return None

    def power_off(self):
        if self.proc is None:
            return
        if self.proc.poll() is not None:
            remove_cgroups(self.cgroups)
            return
        log("power off: SIGTERM to systemd-nspawn (pid %d)" % self.proc.pid)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log("power off: not down after 30 s; SIGKILL to nspawn and the container's PID 1")
            for pid in (self.leader, self.proc.pid):
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            self.proc.wait(timeout=30)
        self.logfile.close()
        remove_cgroups(self.cgroups)
        # nspawn leaves this behind when /run is not a tmpfs of its own.
        shutil.rmtree("/run/systemd/nspawn/propagate/" + self.name, ignore_errors=True)


C = None        # the booted container, for the tests below
INSTALL = None  # "deb" or "cmake"


def show(*props):
    r = C.run(["systemctl", "show", UNIT] + ["-p" + p for p in props])
    out = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    return out


def prop(name):
    return show(name)[name]


def cursor():
    r = C.run(["journalctl", "-n", "0", "--show-cursor", "--no-pager"])
    m = re.search(r"-- cursor: (\S+)", r.stdout)
    assert m, "no cursor from journalctl: %r" % r.stdout
    return m.group(1)


def journal(after):
    """[(priority, message, pid, source)] of the unit's journal after the cursor:
    source "unit" for the service's own output, "systemd" for PID 1 about it."""
    C.run(["journalctl", "--sync"], check=False)
    r = C.run(["journalctl", "-u", UNIT, "--after-cursor=" + after, "-o", "json", "--no-pager"])
    out = []
    for line in r.stdout.splitlines():
        e = json.loads(line)
        msg = e.get("MESSAGE", "")
        if isinstance(msg, list):
            msg = bytes(msg).decode("utf-8", "replace")
        source = "systemd" if e.get("_PID") == "1" else "unit"
        out.append((int(e.get("PRIORITY", "6")), msg, e.get("_PID"), source))
    return out


def wait_journal(after, pattern, count=1, timeout=STEP, source="unit"):
    deadline = time.monotonic() + timeout
    while True:
        entries = [e for e in journal(after) if e[3] == source and re.search(pattern, e[1])]
        if len(entries) >= count:
            return entries
        if time.monotonic() > deadline:
            raise AssertionError("journal: %d of %d lines matching %r after %ds; the unit's journal:\n%s" % (
                len(entries), count, pattern, timeout, dump(after)))
        time.sleep(0.3)


def dump(after):
    return "\n".join("<%d> %s %s" % (p, "[systemd]" if s == "systemd" else "", m)
                     for p, m, _, s in journal(after)[-60:])


def wait_until(predicate, what, timeout=STEP, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ds waiting for %s" % (timeout, what))
        time.sleep(interval)


def unit_processes():
    """[(pid, comm)] in the unit's control group, as the container sees them."""
    cg = prop("ControlGroup")
    if not cg:
        return []
    # The container may see cgroup v2 or the hybrid layout, as its host does.
    r = C.run(["sh", "-euc", 'for d in /sys/fs/cgroup/unified /sys/fs/cgroup /sys/fs/cgroup/systemd; do '
               'f="$d$1/cgroup.procs"; if [ -r "$f" ]; then '
               'for p in $(cat "$f"); do echo "$p $(cat /proc/$p/comm 2>/dev/null)"; done; exit 0; fi; done',
               "sh", cg])
    out = []
    for line in r.stdout.splitlines():
        pid, _, comm = line.partition(" ")
        out.append((int(pid), comm))
    return out


def workers():
    return [pid for pid, comm in unit_processes() if comm == "observer-worker"]


def one_worker(timeout=STEP):
    return wait_until(lambda: (lambda w: w[0] if len(w) == 1 else None)(workers()),
                      "exactly one observer-worker in the unit's cgroup", timeout)


STATE_FILE = "/var/lib/private/observer/state"  # StateDirectory= with DynamicUser=


def forget_state():
    """The unit's state file removed (the unit stopped): the next start is a
    first one, whose outages are news."""
    C.run(["rm", "-f", STATE_FILE])


def start_clean(config=GOOD_CONFIG):
    """The unit stopped, its failure state and state file reset, config
    written, started."""
    C.run(["systemctl", "stop", UNIT], timeout=STEP + 20)
    C.run(["systemctl", "reset-failed", UNIT], check=False)
    forget_state()
    C.write(CONFIG, config)
    C.run(["systemctl", "start", UNIT], timeout=STEP)


class ObserverUnderSystemd(unittest.TestCase):
    """Steps in order (unittest sorts by name); each leaves the unit active
    with GOOD_CONFIG unless it says otherwise."""

    def test_00_installed_and_enabled(self):
        self.assertEqual(C.run(["systemctl", "is-enabled", UNIT], check=False).stdout.strip(), "enabled")
        # Every program the unit runs exists: ExecReload=/bin/kill comes from
        # procps, which minimal Debian systems (debootstrap's minbase, many
        # container images) lack; the package depends on it.
        for p in ("ExecStart", "ExecReload"):
            path = re.search(r"path=(\S+)", prop(p)).group(1)
            self.assertEqual(C.run(["test", "-x", path], check=False).returncode, 0, "%s=%s is missing" % (p, path))
        if INSTALL == "deb":
            conffiles = C.run(["dpkg-query", "-W", "-f=${Conffiles}", "observer"]).stdout
            self.assertIn(CONFIG, conffiles, "the package's conffiles")
            depends = C.run(["dpkg-query", "-W", "-f=${Depends}", "observer"]).stdout
            self.assertRegex(depends, r"\bprocps\b", "ExecReload=/bin/kill needs procps")
            self.assertRegex(depends, r"\blibcurl4\b", "dpkg-shlibdeps found libcurl")
            self.assertEqual(C.run(["systemctl", "is-active", UNIT], check=False).stdout.strip(), "active",
                             "dpkg -i starts the service (dh_installsystemd)")

    def test_01_start_is_active_only_after_ready(self):
        C.run(["systemctl", "stop", UNIT], timeout=STEP + 20)
        C.write(CONFIG, GOOD_CONFIG)
        c = cursor()
        C.run(["systemctl", "start", UNIT], timeout=STEP)
        self.assertEqual(prop("ActiveState"), "active")
        main = prop("MainPID")
        sysd = [m for _, m, _, s in journal(c) if s == "systemd"]
        ready = [i for i, m in enumerate(sysd) if re.search(r"Got notification message from PID %s\b.*READY=1" % main, m)]
        running = [i for i, m in enumerate(sysd) if "Changed start -> running" in m]
        self.assertTrue(ready, "systemd logged no READY=1 from MainPID %s:\n%s" % (main, "\n".join(sysd)))
        self.assertTrue(running, "no start -> running:\n" + "\n".join(sysd))
        self.assertLess(ready[0], running[0], "the unit left 'start' before READY=1:\n" + "\n".join(sysd))
        self.assertEqual(prop("Type"), "notify")
        wait_journal(c, r"Worker \(pid \d+\) is ready\.")

    def test_02_journal_priorities(self):
        C.sh("mkdir -p %s && echo ok > %s/ok.txt && rm -f %s/flip.txt" % (WWW, WWW, WWW))
        c = cursor()
        # A restart remembers that [refused] is DOWN (test_07b): forget it.
        C.run(["systemctl", "stop", UNIT], timeout=STEP + 20)
        forget_state()
        C.run(["systemctl", "start", UNIT], timeout=STEP)
        down = wait_journal(c, r"\[refused\] DOWN: ")
        self.assertEqual(down[0][0], 3, "DOWN is <3> (err)")
        failed = wait_journal(c, r"\[refused\] Probe failed: .*Connection refused")
        self.assertEqual(failed[0][0], 4, "a probe failure is <4> (warning)")
        wait_journal(c, r"\[flip\] DOWN: Status code mismatch, got: 404")
        C.sh("echo ok > %s/flip.txt" % WWW)
        up = wait_journal(c, r"\[flip\] UP after ")
        self.assertEqual(up[0][0], 5, "UP is <5> (notice)")
        self.assertFalse([m for _, m, _, s in journal(c) if s == "unit" and m.startswith("[up] ")],
                         "the healthy target logs nothing")

    def test_03_watchdog_pings_arrive(self):
        self.assertEqual(prop("WatchdogUSec"), "30s", "the shipped WatchdogSec=")
        # The shipped 30 s would make systemd wait 15 s between pings; a
        # drop-in shortens it for the test only.
        C.write("/run/systemd/system/%s.d/watchdog-test.conf" % UNIT, "[Service]\nWatchdogSec=4s\n")
        try:
            C.run(["systemctl", "daemon-reload"])
            C.run(["systemctl", "restart", UNIT], timeout=STEP + 20)
            main = prop("MainPID")
            c = cursor()
            stamps = set()

            def three_stamps():
                stamps.add(int(prop("WatchdogTimestampMonotonic") or 0))
                return len(stamps - {0}) >= 3
            wait_until(three_stamps, "WatchdogTimestamp to advance twice", timeout=STEP, interval=0.5)
            pings = wait_journal(c, r"Got notification message from PID %s\b.*WATCHDOG=1" % main, source="systemd")
            self.assertTrue(pings)
            time.sleep(9)  # more than twice WatchdogSec: a missing ping would have killed it
            self.assertEqual(show("ActiveState", "MainPID"), {"ActiveState": "active", "MainPID": main})
            self.assertFalse([m for _, m, _, s in journal(c) if "Watchdog timeout" in m])
        finally:
            C.run(["rm", "-f", "/run/systemd/system/%s.d/watchdog-test.conf" % UNIT])
            C.run(["systemctl", "daemon-reload"])
            C.run(["systemctl", "restart", UNIT], timeout=STEP + 20)

    def test_04_five_reloads_keep_main_pid_and_end_with_one_worker(self):
        main = prop("MainPID")
        first = one_worker()
        c = cursor()
        for i in range(1, 6):
            C.run(["systemctl", "reload", UNIT])
            wait_journal(c, r"Reloaded: worker \(pid \d+\) takes over from worker", count=i)
        last = one_worker()
        self.assertNotEqual(last, first)
        self.assertEqual(show("ActiveState", "SubState", "MainPID"),
                         {"ActiveState": "active", "SubState": "running", "MainPID": main})
        self.assertTrue(prop("StatusText").startswith("Reloaded"), prop("StatusText"))
        self.assertEqual(prop("NRestarts"), "0")

    def test_05_broken_file_on_reload_keeps_the_unit_active(self):
        main, worker = prop("MainPID"), one_worker()
        c = cursor()
        C.write(CONFIG, BROKEN_CONFIG)
        try:
            C.run(["systemctl", "reload", UNIT])
            failed = wait_journal(c, r"Reload failed: ")
            self.assertIn("stauts", failed[0][1], "the reason names the bad key")
            self.assertIn("%s:%d" % (CONFIG, BROKEN_LINE), "\n".join(m for _, m, _, _ in journal(c)),
                          "the reason names file:line")
            wait_until(lambda: prop("SubState") == "running", "the reload to end")
            self.assertEqual(show("ActiveState", "MainPID"), {"ActiveState": "active", "MainPID": main})
            self.assertEqual(workers(), [worker], "the old worker keeps running")
            self.assertTrue(prop("StatusText").startswith("Reload failed"), prop("StatusText"))
        finally:
            C.write(CONFIG, GOOD_CONFIG)
        c = cursor()
        C.run(["systemctl", "reload", UNIT])
        wait_journal(c, r"Reloaded: worker")

    def test_06_stop_lets_the_supervisor_stop_its_worker(self):
        worker = one_worker()
        self.assertEqual(prop("KillMode"), "mixed")
        host_worker = C.host_pid(worker)
        c = cursor()
        C.run(["systemctl", "stop", UNIT], timeout=STEP + 20)
        s = show("ActiveState", "Result", "ExecMainCode", "ExecMainStatus", "ControlGroup")
        self.assertEqual(s, {"ActiveState": "inactive", "Result": "success", "ExecMainCode": "1",
                             "ExecMainStatus": "0", "ControlGroup": ""}, "exit 0, cgroup gone")
        wait_journal(c, r"Worker \(pid %d\) exited with status 0" % worker)
        # The supervisor's own "Got SIGINT/SIGTERM, exiting." (supervisor.stop
        # asserts it on stdout) was twice missing from the unit's journal on a
        # loaded machine while the line after it was there: not ours to fail
        # on here, but shown with where journald put every entry, to find why.
        if not [m for _, m, _, s in journal(c) if s == "unit" and "Got SIGINT/SIGTERM, exiting." in m]:
            log("the journal lacks the supervisor's stop line; its last entries:")
            r = C.run(["journalctl", "-n", "80", "-o", "json", "--no-pager"])
            for line in r.stdout.splitlines():
                e = json.loads(line)
                log("  pid=%s unit=%s id=%s prio=%s %r" % (
                    e.get("_PID"), e.get("_SYSTEMD_UNIT"), e.get("SYSLOG_IDENTIFIER"), e.get("PRIORITY"),
                    str(e.get("MESSAGE"))[:150]))
        entries = journal(c)
        kills = [m for _, m, _, _ in entries if "SIGKILL" in m]
        self.assertFalse(kills, "nothing was SIGKILLed:\n" + "\n".join(kills))
        # systemd 252 does not log the signals it sends; its states do: a
        # worker left for systemd would take the unit through final-sigterm
        # or stop-sigkill before dead.
        states = [m for _, m, _, s in entries if s == "systemd" and m.startswith(UNIT + ": Changed ")]
        self.assertIn(UNIT + ": Changed stop-sigterm -> dead", states, "\n".join(states))
        self.assertFalse([m for m in states if re.search(r"sigkill|final", m)], "\n".join(states))
        self.assertFalse(alive(host_worker), "the worker is gone")
        C.run(["systemctl", "start", UNIT], timeout=STEP)

    def test_07_kill_9_of_main_pid_ends_the_worker_and_restarts(self):
        main, worker = prop("MainPID"), one_worker()
        restarts = int(prop("NRestarts"))
        host_worker = C.host_pid(worker)
        self.assertIsNotNone(host_worker)
        c = cursor()
        os.kill(C.host_pid(int(main)), signal.SIGKILL)
        t0 = time.monotonic()
        wait_until(lambda: not alive(host_worker),
                   "the worker to exit after its supervisor was SIGKILLed", timeout=5, interval=0.01)
        gone = time.monotonic() - t0
        log("kill -9: the worker was gone %.3f s after the supervisor's SIGKILL" % gone)
        self.assertLess(gone, 1.0, "the worker outlived its supervisor by more than 1 s")
        wait_until(lambda: int(prop("NRestarts")) == restarts + 1 and prop("ActiveState") == "active"
                   and prop("MainPID") not in ("0", main), "systemd to restart the unit")
        wait_journal(c, r"Main process exited, code=killed, status=9/KILL", source="systemd")
        one_worker()

    def test_07b_the_state_directory_keeps_an_outage_across_a_restart(self):
        c = cursor()  # before the start: [refused] goes DOWN within ms of READY
        start_clean()
        wait_journal(c, r"\[refused\] DOWN: ")
        # systemd made the StateDirectory for the dynamic user; the worker
        # writes its state there within a second of a change.
        wait_until(lambda: C.run(["test", "-f", STATE_FILE], check=False).returncode == 0,
                   "the state file in the unit's StateDirectory")
        mode = C.run(["stat", "-c", "%a", os.path.dirname(STATE_FILE), STATE_FILE]).stdout.split()
        self.assertEqual(mode, ["700", "600"])
        time.sleep(1.5)
        c = cursor()
        C.run(["systemctl", "restart", UNIT], timeout=STEP + 20)
        wait_journal(c, r"State restored from /var/lib/observer/state: 3 of 3 targets, [1-3] DOWN")
        wait_journal(c, r"\[refused\] Probe failed: .*Connection refused", count=2)
        self.assertFalse([m for _, m, _, s in journal(c) if s == "unit" and "[refused] DOWN:" in m],
                         "a restart announced an outage it already knew")

    def test_08_broken_file_at_start_fails_with_78_and_is_not_restarted(self):
        s = show("RestartPreventExitStatus", "SuccessExitStatus", "Restart", "RestartUSec")
        self.assertIn("78", s["RestartPreventExitStatus"].split())
        self.assertNotIn("78", s["SuccessExitStatus"].split())
        self.assertEqual(s["Restart"], "on-failure")
        C.run(["systemctl", "stop", UNIT], timeout=STEP + 20)
        C.run(["systemctl", "reset-failed", UNIT], check=False)
        C.write(CONFIG, BROKEN_CONFIG)
        try:
            c = cursor()
            r = C.run(["systemctl", "start", UNIT], timeout=STEP, check=False)
            self.assertNotEqual(r.returncode, 0, "systemctl start of a broken file fails")
            s = show("ActiveState", "Result", "ExecMainCode", "ExecMainStatus", "NRestarts")
            self.assertEqual(s, {"ActiveState": "failed", "Result": "exit-code", "ExecMainCode": "1",
                                 "ExecMainStatus": "78", "NRestarts": "0"})
            wait_journal(c, r"stauts")
            time.sleep(2 * float(prop("RestartUSec").rstrip("s") or 2) + 2)
            self.assertEqual(show("ActiveState", "NRestarts"), {"ActiveState": "failed", "NRestarts": "0"},
                             "not restarted into the same broken file")
        finally:
            C.write(CONFIG, GOOD_CONFIG)
            C.run(["systemctl", "reset-failed", UNIT], check=False)
        C.run(["systemctl", "start", UNIT], timeout=STEP)

    def test_09_security_exposure_and_verify(self):
        r = C.run(["systemd-analyze", "security", "--no-pager", UNIT], timeout=60)
        m = re.search(r"Overall exposure level for %s: (\d+\.\d) (\S+)" % re.escape(UNIT), r.stdout)
        self.assertTrue(m, r.stdout[-2000:])
        log("systemd-analyze security: exposure %s %s" % (m.group(1), m.group(2)))
        with open(os.path.join(LAYOUT["source_dir"], "README.md")) as f:
            claimed = re.search(r"exposure (\d+\.\d) \(\"(\w+)\"\)", f.read())
        self.assertTrue(claimed, "README states the exposure")
        self.assertEqual((m.group(1), m.group(2)), claimed.groups(), "README's exposure is the one measured")
        fragment = prop("FragmentPath")
        # --man=no: the container has no man-db; init.man_pages checks the
        # pages that Documentation= names.
        r = C.run(["systemd-analyze", "verify", "--man=no", fragment], timeout=60, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([l for l in (r.stdout + r.stderr).splitlines() if "observer" in l], [],
                         "systemd-analyze verify %s" % fragment)

    def test_10_package_remove_stops_and_purge_removes_the_config(self):
        if INSTALL != "deb":
            self.skipTest("observer was installed with cmake --install, not the .deb")
        self.assertEqual(prop("ActiveState"), "active")
        C.run(["env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "-r", "observer"], timeout=60)
        self.assertEqual(C.run(["systemctl", "is-active", UNIT], check=False).stdout.strip(), "inactive")
        self.assertEqual(prop("Result"), "success")
        self.assertEqual(C.run(["test", "-e", CONFIG], check=False).returncode, 0, "remove keeps the conffile")
        C.run(["env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "-P", "observer"], timeout=60)
        self.assertNotEqual(C.run(["test", "-e", CONFIG], check=False).returncode, 0, "purge removes it")
        for d in ("/var/lib/private/observer", "/var/lib/observer"):
            self.assertNotEqual(C.run(["test", "-e", d], check=False).returncode, 0, "purge removes " + d)


def stage_payload(payload):
    """What the container installs: the .deb, or a `cmake --install` tree."""
    global INSTALL
    deb = os.environ.get("OBS_SYSTEMD_REAL_DEB")
    if deb:
        if not os.path.isfile(deb):
            raise SystemExit("OBS_SYSTEMD_REAL_DEB=%s is not a file" % deb)
        shutil.copy(deb, os.path.join(payload, "observer.deb"))
        INSTALL = "deb"
    else:
        tree = os.path.join(payload, "tree")
        r = subprocess.run([LAYOUT["cmake"], "--install", LAYOUT["build_dir"]], env=dict(os.environ, DESTDIR=tree),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        if r.returncode != 0:
            raise SystemExit("cmake --install failed:\n" + r.stdout)
        INSTALL = "cmake"
    with open(os.path.join(payload, "observer.conf"), "w") as f:
        f.write(GOOD_CONFIG)
    os.chmod(payload, 0o755)


def install(container):
    container.sh("mkdir -p %s && echo ok > %s/ok.txt" % (WWW, WWW))
    container.run(["systemd-run", "--unit=observer-test-http", "--property=Type=exec",
                   "python3", "-m", "http.server", str(HTTP_PORT), "--bind", "127.0.0.1", "--directory", WWW])
    # The test's configuration is in place before observer is, so the
    # package's postinst starts it on 127.0.0.1 only (--force-confold keeps
    # it over the shipped example, whose placeholder URLs would need DNS).
    container.write(CONFIG, GOOD_CONFIG)
    if INSTALL == "deb":
        container.run(["env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "-i", "--force-confold",
                       PAYLOAD + "/observer.deb"], timeout=120)
    else:
        container.sh("cp -a %s/tree/. / && systemctl daemon-reload && systemctl enable %s" % (PAYLOAD, UNIT),
                     timeout=60)
    # A library observer has come to link since the root filesystem's
    # package list was written shows here, not as a unit that cannot start.
    for binary in ("observer", "observer-worker"):
        path = container.sh("command -v %s || find / -xdev -path '*/libexec/observer/%s' -print -quit"
                            % (binary, binary)).stdout.strip()
        missing = [l.strip() for l in container.run(["ldd", path]).stdout.splitlines() if "not found" in l]
        if missing:
            raise SystemExit("%s needs libraries the container lacks: %s; add their packages to "
                             "PACKAGES in tests/init/systemd_rootfs.py" % (path, ", ".join(missing)))
    # PID 1 logs every notification it accepts and every signal it sends.
    container.run(["systemd-analyze", "set-log-level", "debug"])


def main():
    global C, LAYOUT
    LAYOUT = layout()
    if os.geteuid() != 0:
        skip("not root: systemd-nspawn needs root")
    if shutil.which("systemd-nspawn") is None:
        skip("systemd-nspawn is not installed (Debian package: systemd-container)")
    if shutil.which("nsenter") is None:
        skip("nsenter is not installed (Debian package: util-linux)")
    if LAYOUT.get("install_systemd") is False:
        skip("configured with OBSERVER_INSTALL_SYSTEMD=OFF")
    try:
        rootfs = systemd_rootfs.ensure(log=sys.stdout)
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        skip("no Debian 12 root filesystem to boot: %s" % e)
    log("root filesystem: %s" % rootfs)

    work = tempfile.mkdtemp(prefix="observer-systemd-real-")
    payload = os.path.join(work, "payload")
    os.makedirs(payload)
    os.chmod(work, 0o755)
    stage_payload(payload)
    C = Container(rootfs, payload, work)

    def on_signal(signum, _frame):
        raise SystemExit("killed by signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    ok = False
    try:
        failure = C.boot()
        if failure:
            C.power_off()
            skip("the container did not boot systemd here: " + failure)
        log("booted: PID 1 of the container is host pid %d; systemd %s" % (
            C.leader, C.run(["systemctl", "--version"]).stdout.split()[1]))
        install(C)
        log("observer installed (%s)" % INSTALL)
        argv = [sys.argv[0], "-v"] + sys.argv[1:]
        result = unittest.main(module=__name__, argv=argv, exit=False).result
        ok = result.wasSuccessful()
        if not ok:
            print("--- the unit's journal (last 80 lines) ---")
            print(C.run(["journalctl", "-u", UNIT, "-n", "80", "--no-pager"], check=False).stdout)
    finally:
        C.power_off()
        shutil.rmtree(work, ignore_errors=True)
        log("done")
    sys.exit(0 if ok else 1)


LAYOUT = None

if __name__ == "__main__":
    main()
