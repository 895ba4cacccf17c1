#!/usr/bin/env python3
"""Each init system's stop and reload sequence, played against the real
observer and observer-worker.

observer is started the way an init system starts it: in a session of its
own (its process group stands in for systemd's control group and launchd's
job), with NOTIFY_SOCKET bound by the test where systemd would set it. The
init system's timeouts are scaled down together with observer's
shutdown_timeout, keeping the ratio the shipped files have (20 s against
10 s). Every worker is traced with strace, which sees its real exit status
although it is not the test's child, so "no worker was SIGKILLed" is
observed, not inferred.

Run one class (CTest does): test_init_sequences.py StopAndReload
"""
import os
import plistlib
import re
import signal
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import init_support as S  # noqa: E402
from init_support import harness  # noqa: E402

LAYOUT = S.layout()
GEN = LAYOUT["generated_dir"]
SUPERVISOR = harness.SUPERVISOR
SHUTDOWN_BOUND = S.shutdown_timeout_default_seconds()
# observer's bound in these tests; the init systems' stand-in timeouts keep
# the shipped ratio to it.
TEST_SHUTDOWN_TIMEOUT = 2.0


def unit_settings():
    return S.parse_unit(os.path.join(GEN, "systemd", "observer.service"))["Service"]


def systemd_stop_timeout():
    shipped = S.systemd_seconds(unit_settings()["TimeoutStopSec"][-1])
    return TEST_SHUTDOWN_TIMEOUT * shipped / SHUTDOWN_BOUND


def launchd_exit_timeout():
    with open(os.path.join(GEN, "launchd", "LaunchAgents", LAYOUT["launchd_label"] + ".plist"), "rb") as f:
        shipped = plistlib.load(f)["ExitTimeOut"]
    return TEST_SHUTDOWN_TIMEOUT * shipped / SHUTDOWN_BOUND


def require_tools(test):
    if not os.access(SUPERVISOR, os.X_OK):
        test.fail("OBS_TEST_SUPERVISOR does not name the built observer: %r" % SUPERVISOR)
    if shutil.which("strace") is None:
        test.skipTest("strace is not installed (Debian package: strace); it observes how each worker exits")


class Service:
    """One observer run as an init system runs it."""

    def __init__(self, test, notify=False, path="/health", wrapper=(), host="127.0.0.1", traced=True):
        self.test = test
        self.dir = harness.tempdir(test)
        self.srv = harness.HttpServer(test)
        self.host = host
        self.config = os.path.join(self.dir, "observer.conf")
        self.write_config(path)
        self.notify = S.NotifySocket(test, self.dir) if notify else None
        extra = {"NOTIFY_SOCKET": self.notify.path} if notify else {}
        if traced:
            # LeakSanitizer stops the world with ptrace at exit, which fails
            # in a process strace already traces, and then exits 1. Leaks are
            # checked by every untraced test.
            extra["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "detect_leaks=0"]))
        env = harness.clean_env(**extra)
        self.proc = harness.Proc(test, list(wrapper) + [SUPERVISOR, "-config", self.config], env=env,
                                 start_new_session=True)
        self.pid = self.pgid = self.proc.pid
        self.watches = {}
        test.addCleanup(self._end_group)

    def write_config(self, path):
        url = "http://%s:%d%s" % (self.host, self.srv.port, path)
        tmp = self.config + ".tmp"
        with open(tmp, "w") as f:
            f.write("shutdown_timeout=%gs\ntick=200ms\n\n[site]\nurl=%s\nstatus=200\n" % (TEST_SHUTDOWN_TIMEOUT, url))
        os.rename(tmp, self.config)

    def workers(self):
        return harness.children_of(self.pid)

    def wait_probing(self, path="/health", timeout=15):
        """Waits until exactly one worker runs and `path` has new hits."""
        before = self.srv.hits(path)
        try:
            harness.wait_for(lambda: self.srv.hits(path) >= before + 2, timeout, what="probes of %s" % path)
        except AssertionError as e:
            raise AssertionError("%s\nobserver stdout:\n%s\nstderr:\n%s" % (
                e, "".join(self.proc.lines()[-20:]), self.proc.stderr_text()[-2000:]))
        workers = harness.wait_for(lambda: self.workers() if len(self.workers()) == 1 else None, timeout,
                                   what="exactly one worker")
        return workers[0]

    def watch(self, pid):
        if pid not in self.watches:
            self.watches[pid] = S.ExitWatch(self.test, pid, self.dir)
        return self.watches[pid]

    def signal_main(self, sig):
        os.kill(self.pid, sig)

    def stop_like_init(self, signals, kill_after, name):
        """Sends `signals` to observer only, waits up to `kill_after` seconds
        for it, then does what systemd (KillMode=mixed) and launchd both do:
        SIGKILL to whatever is left in the group. Returns observer's status
        and what was left."""
        for w in self.workers():
            self.watch(w)
        for sig in signals:
            self.signal_main(sig)
        try:
            rc = self.proc.proc.wait(kill_after)
        except subprocess.TimeoutExpired:
            os.killpg(self.pgid, signal.SIGKILL)
            self.proc.proc.wait(5)
            self.test.fail("%s: observer still running %.1fs after %s; the init system SIGKILLed the group.\n"
                           "stdout:\n%s" % (name, kill_after, "+".join(s.name for s in signals),
                                            "".join(self.proc.lines()[-20:])))
        left = harness.group_members(self.pgid)
        if left:
            os.killpg(self.pgid, signal.SIGKILL)
        self.proc.wait_exit(5)
        return rc, left

    def assert_workers_exited_cleanly(self):
        self.test.assertTrue(self.watches, "no worker was watched")
        for pid, w in self.watches.items():
            how, what, _ = w.result()
            self.test.assertEqual((how, what), ("exited", 0), "worker %d: %s %s; signals it got: %s" % (
                pid, how, what, w.signals_received()))
            self.test.assertNotIn("SIGKILL", w.signals_received())
        self.test.assertEqual(self.proc.count(r"killed by signal"), 0, "".join(self.proc.lines()))

    def _end_group(self):
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class StopAndReload(unittest.TestCase):

    def setUp(self):
        require_tools(self)

    def assert_clean_stop(self, svc, rc, left):
        self.assertEqual(left, [], "processes left in the group when observer exited: %s" % left)
        self.assertEqual(rc, 0, svc.proc.stderr_text())
        svc.assert_workers_exited_cleanly()
        self.assertEqual(svc.proc.count(r"Got SIGINT/SIGTERM, exiting\."), 1)

    def test_systemd_killmode_mixed_stop_leaves_nothing_for_the_group_sigkill(self):
        svc = Service(self, notify=True)
        svc.notify.wait_for("READY", timeout=15)
        worker = svc.wait_probing()
        self.assertEqual(S.process_group_of(worker), svc.pgid,
                         "the worker must stay in observer's group, which init systems kill as a whole")
        rc, left = svc.stop_like_init([signal.SIGTERM], systemd_stop_timeout(), "systemd stop")
        self.assert_clean_stop(svc, rc, left)
        svc.notify.wait_for("STOPPING", timeout=1)

    def test_systemd_exec_reload_swaps_workers_without_killing_any(self):
        svc = Service(self, notify=True)
        svc.notify.wait_for("READY", timeout=15)
        old = svc.wait_probing()
        old_watch = svc.watch(old)
        svc.write_config("/reloaded")
        # The unit's own ExecReload= line, with $MAINPID as systemd fills it.
        reload_cmd = unit_settings()["ExecReload"][-1].replace("$MAINPID", str(svc.pid)).split()
        mark = svc.notify.count()
        subprocess.run(reload_cmd, check=True, timeout=10)
        started = svc.notify.wait_for("RELOADING", timeout=5, start=mark)
        self.assertRegex(svc.notify.messages[started].get("MONOTONIC_USEC", ""), r"^\d+$")
        svc.notify.wait_for("READY", timeout=15, start=started + 1)
        self.assertEqual(old_watch.result(timeout=TEST_SHUTDOWN_TIMEOUT + 5)[:2], ("exited", 0),
                         "the retired worker must exit on its own")
        new = svc.wait_probing("/reloaded")
        self.assertNotEqual(new, old)
        rc, left = svc.stop_like_init([signal.SIGTERM], systemd_stop_timeout(), "systemd stop after reload")
        self.assert_clean_stop(svc, rc, left)

    def test_launchd_reload_and_bootout(self):
        # launchctl kill HUP, then bootout: SIGTERM, SIGKILL after ExitTimeOut,
        # and the job's process group killed once observer has exited.
        svc = Service(self)
        old = svc.wait_probing()
        old_watch = svc.watch(old)
        svc.write_config("/reloaded")
        svc.signal_main(signal.SIGHUP)
        self.assertEqual(old_watch.result(timeout=15)[:2], ("exited", 0))
        svc.wait_probing("/reloaded")
        rc, left = svc.stop_like_init([signal.SIGTERM], launchd_exit_timeout(), "launchctl bootout")
        self.assert_clean_stop(svc, rc, left)

    def test_runit_and_openrc_stop(self):
        # sv stop sends SIGTERM then SIGCONT; start-stop-daemon --retry
        # TERM/20/KILL/5 sends SIGTERM to the pid and waits 20 s.
        svc = Service(self)
        svc.wait_probing()
        rc, left = svc.stop_like_init([signal.SIGTERM, signal.SIGCONT], launchd_exit_timeout(), "sv stop")
        self.assert_clean_stop(svc, rc, left)

    def test_terminal_ctrl_c_reaches_the_whole_group(self):
        svc = Service(self)
        svc.wait_probing()
        for w in svc.workers():
            svc.watch(w)
        os.killpg(svc.pgid, signal.SIGINT)
        rc = svc.proc.wait_exit(TEST_SHUTDOWN_TIMEOUT + 5)
        self.assertEqual(rc, 0, svc.proc.stderr_text())
        svc.assert_workers_exited_cleanly()
        self.assertEqual(harness.group_members(svc.pgid), [])


class RestrictedAddressFamilies(unittest.TestCase):
    """The unit allows only AF_UNIX, AF_INET and AF_INET6 sockets; observer
    must still resolve names (glibc then cannot open its AF_NETLINK socket)
    and probe."""

    WRAPPER = os.environ.get("OBS_INIT_RESTRICT_AF", "")

    def setUp(self):
        if not os.access(SUPERVISOR, os.X_OK):
            self.fail("OBS_TEST_SUPERVISOR does not name the built observer: %r" % SUPERVISOR)
        if not os.access(self.WRAPPER, os.X_OK):
            self.fail("OBS_INIT_RESTRICT_AF does not name the built observer_restrict_af")

    def test_the_filter_refuses_netlink(self):
        probe = "import socket\ntry:\n socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)\nexcept OSError as e:\n" \
                " print(e.errno)\n"
        r = subprocess.run([self.WRAPPER, sys.executable, "-c", probe], stdout=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(r.stdout.strip(), "97", "AF_NETLINK must fail with EAFNOSUPPORT under the filter")

    def test_observer_resolves_and_probes_by_name_without_netlink(self):
        svc = Service(self, wrapper=[self.WRAPPER], host="localhost", traced=False)
        svc.wait_probing()
        self.assertEqual(svc.proc.count(r"[Rr]esolve|DOWN|mismatch"), 0, "".join(svc.proc.lines()))
        svc.signal_main(signal.SIGTERM)
        self.assertEqual(svc.proc.wait_exit(TEST_SHUTDOWN_TIMEOUT + 5), 0, svc.proc.stderr_text())


class HardeningFootprint(unittest.TestCase):
    """Everything observer does in a start, reload and stop is allowed by the
    unit's sandbox: each system call by its SystemCallFilter= (a filtered
    call fails with EPERM, silently), /proc only for processes
    (ProcSubset=pid), no file opened for writing (ProtectSystem=strict)."""

    def setUp(self):
        require_tools(self)

    def unit_allowed_syscalls(self):
        filters = unit_settings()["SystemCallFilter"]
        allow = [x for f in filters if not f.startswith("~") for x in f.split()]
        deny = [x for f in filters if f.startswith("~") for x in f[1:].split()]
        return S.expand_syscall_sets(allow) - S.expand_syscall_sets(deny)

    def test_start_reload_stop_stays_inside_the_unit_sandbox(self):
        trace = os.path.join(harness.tempdir(self), "trace")
        svc = Service(self, notify=True, wrapper=["strace", "-f", "-qq", "-o", trace])
        # strace forks a short-lived child of its own first (to probe
        # PTRACE_SEIZE): the tracee is the child that runs observer.
        def traced_observer():
            for pid in harness.children_of(svc.proc.pid):
                try:
                    if os.path.realpath("/proc/%d/exe" % pid) == os.path.realpath(SUPERVISOR):
                        return pid
                except OSError:
                    pass
            return None
        svc.pid = harness.wait_for(traced_observer, 10, what="observer under strace")
        svc.notify.wait_for("READY", timeout=20)
        svc.wait_probing()
        svc.write_config("/reloaded")
        mark = svc.notify.count()
        svc.signal_main(signal.SIGHUP)
        svc.notify.wait_for("READY", timeout=20, start=svc.notify.wait_for("RELOADING", timeout=10, start=mark))
        svc.wait_probing("/reloaded")
        svc.signal_main(signal.SIGTERM)
        self.assertEqual(svc.proc.wait_exit(TEST_SHUTDOWN_TIMEOUT + 10), 0, svc.proc.stderr_text())
        with open(trace) as f:
            calls = f.read().splitlines()
        used = {m.group(1) for m in (re.match(r"^\d+\s+([a-z0-9_]+)\(", l) for l in calls) if m}
        self.assertIn("connect", used, "the trace missed the probes")
        self.assertEqual(sorted(used - self.unit_allowed_syscalls()), [],
                         "system calls the unit's SystemCallFilter= would refuse with EPERM")
        proc_paths = {p for l in calls for p in re.findall(r'"(/proc/[^"]*)"', l)
                      if not re.match(r"/proc/(self|thread-self|\d+)(/|$)", p)}
        self.assertEqual(proc_paths, set(), "ProcSubset=pid hides these")
        writes = [l for l in calls if re.search(r"open(at)?\(.*O_(WRONLY|RDWR|CREAT)", l)
                  and '"/dev/null"' not in l and "= -1" not in l]
        self.assertEqual(writes, [], "ProtectSystem=strict makes these fail")
        families = {m for l in calls for m in re.findall(r"socket\((AF_\w+)", l)}
        self.assertLessEqual(families, {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}, families)


if __name__ == "__main__":
    unittest.main(verbosity=2)
