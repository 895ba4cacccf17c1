#!/usr/bin/env python3
"""Stopping: SIGTERM/SIGINT reach every worker and the supervisor exits
last with 0, as in a terminal (Ctrl-C to the process group) and under
systemd's KillMode=mixed; a straggler is killed after shutdown_timeout or at
a second signal; a killed supervisor leaves no worker behind."""
import os
import re
import signal
import subprocess
import time
import unittest

from supervisor_support import SUPERVISOR_LINE, TS, FakeInstall, harness, supervisor_env, wait_workers

SUPERVISOR = harness.SUPERVISOR
WORKER_LINE = re.compile(TS + r"(Status code mismatch, got: 500|DOWN: .*)\n$")




class Stop(unittest.TestCase):
    def start(self, argv, env=None, **kw):
        p = harness.Proc(self, argv, env=env or supervisor_env(), **kw)
        p.wait_line(r"Worker \(pid \d+\) is ready\.", 15)
        return p

    def failing_target(self):
        srv = harness.HttpServer(self)
        srv.set("/bad", status=500)
        return ["-url=" + srv.url("/bad"), "-status=200", "-tick=50ms"]

    def assert_clean_output(self, p):
        for line in p.lines():
            self.assertTrue(SUPERVISOR_LINE.match(line) or WORKER_LINE.match(line), "unexpected line %r" % line)
        self.assertNotRegex("".join(p.lines()), r"crash|unexpected")

    def test_sigterm_reaches_workers_and_supervisor_exits_last_with_0(self):
        p = self.start([SUPERVISOR] + self.failing_target())
        [w] = wait_workers(self, p.pid, 1)
        time.sleep(0.3)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)
        self.assertFalse(harness.pid_alive(w))
        lines = p.lines()
        i = lines.index(p.wait_line(r"Got SIGINT/SIGTERM, exiting\."))
        self.assertRegex(lines[-1], r"Worker \(pid %d\) exited with status 0\.$" % w)
        self.assertGreater(len(lines) - 1, i)
        self.assert_clean_output(p)

    def test_sigint_to_process_group_exits_cleanly(self):
        p = self.start([SUPERVISOR] + self.failing_target(), start_new_session=True)
        [w] = wait_workers(self, p.pid, 1)
        time.sleep(0.5)
        os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        self.assertEqual(p.wait_exit(), 0)
        self.assertFalse(harness.pid_alive(w))
        self.assertRegex(p.lines()[-1], r"Worker \(pid %d\) exited with status 0\.$" % w)
        self.assert_clean_output(p)
        self.assertEqual(p.stderr_text(), "")

    def test_killmode_mixed_every_worker_exits_cleanly_before_supervisor(self):
        # systemd's KillMode=mixed: SIGTERM to the main process only, then
        # after TimeoutStopSec SIGKILL to whatever is left of the unit.
        p = self.start([SUPERVISOR] + self.failing_target(), start_new_session=True)
        n = len(p.lines())
        p.signal(signal.SIGHUP)  # a retiring and a new worker around, too
        p.wait_line(r"Reloaded: ", start=n)
        p.signal(signal.SIGTERM)
        try:
            rc = p.proc.wait(5)
        except subprocess.TimeoutExpired:
            rc = None
        left = harness.group_members(p.pid)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.assertEqual(rc, 0, "supervisor did not stop on SIGTERM within the stop timeout")
        self.assertEqual(left, [], "processes left for the SIGKILL")
        p.wait_exit()
        self.assertGreaterEqual(p.count(r"Worker \(pid \d+\) (exited|retired: exited) with status 0\."), 2)
        self.assert_clean_output(p)

    def test_sigkill_of_supervisor_leaves_no_worker_after_1s(self):
        p = self.start([SUPERVISOR] + self.failing_target())
        workers = wait_workers(self, p.pid, 1)
        p.signal(signal.SIGKILL)
        t0 = time.monotonic()
        p.wait_exit()
        while any(harness.pid_alive(w) for w in workers) and time.monotonic() - t0 < 1.0:
            time.sleep(0.02)
        self.assertEqual([w for w in workers if harness.pid_alive(w)], [], "orphaned worker after 1 s")

    def test_straggler_is_killed_after_shutdown_timeout(self):
        fake = FakeInstall(self, ["ignore_term"])
        p = self.start([fake.supervisor, "-url=http://127.0.0.1:9/", "-shutdown_timeout=1s"], env=fake.env())
        [w] = wait_workers(self, p.pid, 1)
        t0 = time.monotonic()
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(10), 0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertFalse(harness.pid_alive(w))
        p.wait_line(r"did not exit after SIGTERM; sending SIGKILL\.")
        p.wait_line(r"Worker \(pid %d\) was killed by signal 9" % w)

    def test_second_sigterm_stops_the_waiting(self):
        fake = FakeInstall(self, ["ignore_term"])
        p = self.start([fake.supervisor, "-url=http://127.0.0.1:9/", "-shutdown_timeout=60s"], env=fake.env())
        [w] = wait_workers(self, p.pid, 1)
        p.signal(signal.SIGTERM)
        p.signal(signal.SIGTERM)  # at once: the same stop request, not a second one
        time.sleep(0.5)
        self.assertIsNone(p.proc.poll(), "the supervisor did not wait for its worker")
        t0 = time.monotonic()
        p.signal(signal.SIGINT)
        self.assertEqual(p.wait_exit(5), 0)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertFalse(harness.pid_alive(w))
        p.wait_line(r"Worker \(pid %d\) was killed by signal 9" % w)

    def test_partial_last_line_reaches_stdout_before_exit(self):
        fake = FakeInstall(self, ["partial"])
        p = self.start([fake.supervisor, "-url=http://127.0.0.1:9/"], env=fake.env())
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)
        lines = p.lines()
        self.assertIn("fake 0 last words without a newline\n", lines)
        self.assertRegex(lines[-1], r"exited with status 0\.$")
        self.assertLess(lines.index("fake 0 last words without a newline\n"), len(lines) - 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
