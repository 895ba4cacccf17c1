"""Helpers shared by the supervisor's process tests (on top of
tests/support/harness.py)."""
import os
import re
import shutil
import socket
import sys
import time

sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT", os.path.join(os.path.dirname(__file__), "..", "support")))
import harness
from harness import zombies_of  # noqa: E402,F401 (re-exported for the tests)

HERE = os.path.dirname(os.path.abspath(__file__))

TS = r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d "
# Every line the supervisor itself writes, in the default text format.
SUPERVISOR_LINE = re.compile(TS + r"(Got SIGHUP, reloading\.|Got SIGINT/SIGTERM, exiting\."
                             r"|Started worker \(pid \d+\)\.|Worker \(pid \d+\) is ready\."
                             r"|Reloaded: worker \(pid \d+\) takes over from worker \(pid \d+\)\."
                             r"|Worker \(pid \d+\) retired: exited with status 0\."
                             r"|Worker \(pid \d+\) \(superseded\) (exited with status \d+|was killed by signal \d+ \(\w+\))\."
                             r"|Worker \(pid \d+\) exited with status 0\.)\n$")


def supervisor_env(**extra):
    return harness.clean_env(**extra)


def worker_children(pid):
    return sorted(harness.children_of(pid))


def wait_workers(test, pid, n, timeout=10):
    """Waits until `pid` has exactly `n` live children; returns their PIDs."""
    found = []

    def check():
        found[:] = worker_children(pid)
        return len(found) == n
    harness.wait_for(check, timeout, what="%d worker(s) under pid %d" % (n, pid))
    return list(found)




def pid_of(line):
    return int(re.search(r"\(pid (\d+)\)", line).group(1))


class FakeInstall:
    """A copy of the supervisor with fake_worker.py beside it as its worker.
    `plan` is the list of behaviours, one per spawn (see fake_worker.py)."""

    def __init__(self, test, plan):
        d = harness.tempdir(test)
        self.supervisor = os.path.join(d, "observer")
        shutil.copy2(harness.SUPERVISOR, self.supervisor)
        shutil.copy2(os.path.join(HERE, "fake_worker.py"), os.path.join(d, "observer-worker"))
        os.chmod(os.path.join(d, "observer-worker"), 0o755)
        self.plan = os.path.join(d, "plan")
        with open(self.plan, "w") as f:
            f.write("\n".join(plan) + "\n")

    def env(self, **extra):
        return supervisor_env(FAKE_WORKER_PLAN=self.plan, **extra)

    def spawns(self):
        """[(n, pid, monotonic time, mode)] for every spawn so far."""
        try:
            with open(self.plan + ".log") as f:
                rows = [l.split() for l in f if l.strip()]
        except FileNotFoundError:
            return []
        return [(int(r[0]), int(r[1]), float(r[2]), r[3]) for r in rows]


class NotifySocket:
    """An AF_UNIX datagram socket bound where $NOTIFY_SOCKET will point."""

    def __init__(self, test):
        d = harness.tempdir(test)
        self.path = os.path.join(d, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        test.addCleanup(self.sock.close)
        self.received = []

    def wait_message(self, predicate, timeout=10):
        """Receives datagrams until one satisfies `predicate`; returns it."""
        deadline = time.monotonic() + timeout
        for m in self.received:
            if predicate(m):
                return m
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching sd_notify message within %.1fs; got %r" % (timeout, self.received))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            self.received.append(data)
            if predicate(data):
                return data


def fields(message):
    return dict(l.split("=", 1) for l in message.split("\n") if "=" in l)
