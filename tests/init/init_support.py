"""Helpers for tests/init: the install layout, unit-file and man-page
parsing, and the pieces of an init system the sequence tests play.

Sources of truth are read, not copied: common/keys.cc for keys and defaults,
the generated unit and plists for timeouts and commands.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT",
                                  os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support")))
import harness  # noqa: E402

clean_env = harness.clean_env


def layout():
    path = os.environ.get("OBS_INIT_LAYOUT")
    if not path or not os.path.exists(path):
        raise SystemExit("OBS_INIT_LAYOUT must name init_layout.json from the build tree (run through ctest)")
    with open(path) as f:
        return json.load(f)


def known_keys():
    """[{name, global, default}] from common/keys.cc, in its order."""
    with open(os.path.join(layout()["source_dir"], "common", "keys.cc")) as f:
        text = f.read()
    out = []
    for m in re.finditer(r'\{"([^"]+)", KeyScope::(Target|Global), (nullptr|"([^"]*)"), "', text):
        out.append({"name": m.group(1), "global": m.group(2) == "Global",
                    "default": None if m.group(3) == "nullptr" else m.group(4)})
    if not out:
        raise AssertionError("no keys found in common/keys.cc; did its format change?")
    return out


def go_seconds(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError("not a simple duration: %r" % text)
    return sum(float(n) * units[u] for n, u in parts)


def shutdown_timeout_default_seconds():
    for k in known_keys():
        if k["name"] == "shutdown_timeout":
            return go_seconds(k["default"])
    raise AssertionError("shutdown_timeout not in common/keys.cc")


def systemd_seconds(text):
    """TimeoutStopSec= values: "20", "20s", "1min 30s"."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "ms": 0.001, "h": 3600}
    total = 0.0
    for n, u in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text):
        total += float(n) * units[u]
    return total


def parse_unit(path):
    """{section: {key: [values in order]}}; continuation lines are not used
    by our files and are rejected."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith(("#", ";")):
                continue
            if line.endswith("\\"):
                raise AssertionError("%s: continuation lines not expected" % path)
            m = re.match(r"^\[(.+)\]$", line)
            if m:
                section = out.setdefault(m.group(1), {})
                continue
            key, _, value = line.partition("=")
            section.setdefault(key.strip(), []).append(value.strip())
    return out


def systemd_version():
    r = subprocess.run(["systemd-analyze", "--version"], stdout=subprocess.PIPE, text=True, timeout=30)
    return int(re.match(r"systemd (\d+)", r.stdout).group(1))


def expand_syscall_sets(names):
    """System call names of systemd's @groups (expanded recursively, as
    `systemd-analyze syscall-filter` lists them) and plain names."""
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, timeout=30).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.strip(), [])
        elif cur is not None and line.startswith("    ") and line.strip() and not line.strip().startswith("#"):
            cur.append(line.strip())

    def expand(name, seen):
        if not name.startswith("@"):
            return {name}
        if name in seen:
            return set()
        if name not in groups:
            raise AssertionError("systemd-analyze knows no syscall group %s" % name)
        seen.add(name)
        return set().union(*(expand(x, seen) for x in groups[name]))

    return set().union(*(expand(n, set()) for n in names)) if names else set()


def _man_entries(page):
    """[(section title, key, plain text)] for every .TP entry of a page."""
    with open(page) as f:
        lines = f.read().splitlines()
    entries, section, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(".SH "):
            section = line[4:].strip('"')
        if line == ".TP" and i + 1 < len(lines):
            head = lines[i + 1]
            m = re.match(r"^\.BI? (\S+)(?: NAME)?$", head)
            body, j = [], i + 2
            while j < len(lines) and not re.match(r"^\.(TP|SH|PP)\b", lines[j]):
                body.append(re.sub(r"^\.(B|BR|I|IR|BI|IB|RB)\s+", "", lines[j]))
                j += 1
            if m:
                entries.append((section, m.group(1), " ".join(body)))
            i = j
            continue
        i += 1
    return entries


def documented_keys(page):
    """{key: description} for the key sections of observer.conf(5)."""
    return {k: text for sec, k, text in _man_entries(page) if sec in ("TARGET KEYS", "PROCESS-WIDE KEYS")}


def key_section(page, key):
    for sec, k, _ in _man_entries(page):
        if k == key and sec in ("TARGET KEYS", "PROCESS-WIDE KEYS"):
            return sec
    return None


# ---- the init-system side of the sequence tests ------------------------------

class NotifySocket:
    """A datagram socket bound where $NOTIFY_SOCKET points, as systemd has;
    collects every message on a thread."""

    def __init__(self, test, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        test.addCleanup(self.close)

    def _run(self):
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._cond:
                self.messages.append(dict(l.split("=", 1) for l in data.decode().splitlines() if "=" in l))
                self._cond.notify_all()

    def wait_for(self, key, value="1", timeout=10, start=0):
        """Index of the first message at or after `start` with key=value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, m in enumerate(self.messages[start:], start):
                    if m.get(key) == value:
                        return i
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s=%s from observer within %.1fs; got %r" % (
                        key, value, timeout, self.messages))
                self._cond.wait(min(left, 0.1))

    def count(self):
        with self._cond:
            return len(self.messages)

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()


class ExitWatch:
    """Records how a process that is not our child ends, by tracing it with
    strace (ptrace sees the real exit status; /proc does not). Attaching does
    not change how the process handles signals."""

    def __init__(self, test, pid, directory):
        self.pid = pid
        self.out = os.path.join(directory, "exit-%d.strace" % pid)
        self.proc = subprocess.Popen(["strace", "-q", "-ttt", "-e", "trace=none", "-o", self.out, "-p", str(pid)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        test.addCleanup(self._cleanup)
        harness.wait_for(self._attached, 10, what="strace to attach to pid %d" % pid)

    def _attached(self):
        if self.proc.poll() is not None:
            raise AssertionError("strace could not attach to %d: %s" % (self.pid, self.proc.stderr.read().decode()))
        try:
            with open("/proc/%d/status" % self.pid) as f:
                return re.search(r"^TracerPid:\s+%d$" % self.proc.pid, f.read(), re.M) is not None
        except FileNotFoundError:
            raise AssertionError("pid %d ended before strace attached" % self.pid)

    def result(self, timeout=10):
        """("exited", code, wall time) or ("killed", signal name, wall time)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("pid %d still running" % self.pid)
        with open(self.out) as f:
            text = f.read()
        m = re.search(r"^(\d+\.\d+) \+\+\+ (exited with (\d+)|killed by (SIG\w+)(?: \(core dumped\))?) \+\+\+$",
                      text, re.M)
        if m is None:
            raise AssertionError("no exit record for pid %d:\n%s" % (self.pid, text))
        if m.group(3) is not None:
            return ("exited", int(m.group(3)), float(m.group(1)))
        return ("killed", m.group(4), float(m.group(1)))

    def signals_received(self):
        with open(self.out) as f:
            return re.findall(r"--- (SIG\w+) ", f.read())

    def _cleanup(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()




def process_group_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[2])
