#!/usr/bin/env python3
"""A worker that dies unasked is logged and restarted, with a back-off that
grows in a crash loop; a worker that breaks the control protocol is killed
and replaced."""
import os
import re
import signal
import time
import unittest

from supervisor_support import FakeInstall, harness, pid_of, supervisor_env, wait_workers

SUPERVISOR = harness.SUPERVISOR


class Restart(unittest.TestCase):
    def start(self, argv, env=None):
        p = harness.Proc(self, argv, env=env or supervisor_env())
        p.wait_line(r"Worker \(pid \d+\) is ready\.", 15)
        return p

    def test_worker_killed_with_sigkill_is_restarted(self):
        srv = harness.HttpServer(self)
        p = self.start([SUPERVISOR, "-url=" + srv.url("/ok"), "-tick=100ms"])
        [old] = wait_workers(self, p.pid, 1)
        n = len(p.lines())
        os.kill(old, signal.SIGKILL)
        crash = p.wait_line(r"crashed", start=n)
        self.assertRegex(crash, r"Worker \(pid %d\) crashed: was killed by signal 9 \(Killed\); restarting in 100ms\.$"
                         % old)
        new = pid_of(p.wait_line(r"Started worker", start=n))
        p.wait_line(r"Worker \(pid %d\) is ready\." % new, start=n)
        self.assertEqual(wait_workers(self, p.pid, 1), [new])
        h = srv.hits("/ok")
        harness.wait_for(lambda: srv.hits("/ok") >= h + 3, 5, what="the restarted worker to probe")

    def test_crash_loop_backs_off(self):
        # Kill every worker as soon as it is ready: the announced delays and
        # the real gaps between kill and restart both double.
        p = self.start([SUPERVISOR, "-url=http://127.0.0.1:9/", "-tick=1s"])
        delays, gaps = [], []
        for _ in range(5):
            [w] = wait_workers(self, p.pid, 1)
            n = len(p.lines())
            t0 = time.monotonic()
            os.kill(w, signal.SIGKILL)
            crash = p.wait_line(r"crashed", start=n)
            p.wait_line(r"Started worker", start=n, timeout=10)
            gaps.append(time.monotonic() - t0)
            delays.append(re.search(r"restarting in (\S+)\.$", crash).group(1))
            p.wait_line(r"is ready\.", start=n)
        self.assertEqual(delays, ["100ms", "200ms", "400ms", "800ms", "1.6s"])
        # Lower bounds only: a loaded machine may add to a gap, never take away.
        for expected, gap in zip([0.1, 0.2, 0.4, 0.8, 1.6], gaps):
            self.assertGreaterEqual(gap, expected * 0.9, gaps)
        self.assertGreaterEqual(gaps[-1] - gaps[0], 1.0, gaps)

    def test_worker_failing_at_start_is_retried_without_busy_loop(self):
        fake = FakeInstall(self, ["exit=1"])
        p = harness.Proc(self, [fake.supervisor, "-url=http://127.0.0.1:9/"], env=fake.env())
        time.sleep(3.5)
        spawns = fake.spawns()
        # 0, +0.1, +0.2, +0.4, +0.8, +1.6: six starts at most in 3.5 s.
        self.assertGreaterEqual(len(spawns), 4, spawns)
        self.assertLessEqual(len(spawns), 6, spawns)
        gaps = [b[2] - a[2] for a, b in zip(spawns, spawns[1:])]
        for expected, gap in zip([0.1, 0.2, 0.4, 0.8, 1.6], gaps):
            self.assertGreaterEqual(gap, expected * 0.9, gaps)
        self.assertGreaterEqual(gaps[-1] - gaps[0], 0.5, gaps)
        self.assertIsNone(p.proc.poll(), "a failing worker that is not a config error must not end the supervisor")
        self.assertGreaterEqual(p.count(r"exited with status 1 before it was ready; restarting in"), 3)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)

    def test_protocol_violation_kills_and_replaces_the_worker(self):
        fake = FakeInstall(self, ["garbage", "ready"])
        p = harness.Proc(self, [fake.supervisor, "-url=http://127.0.0.1:9/"], env=fake.env())
        bad = p.wait_line(r"broke the control protocol")
        self.assertIn("type 99", bad)
        # Its Ready may come in the same read as the garbage (then it was
        # never ready), and the fake may see its channel close and exit before
        # the SIGKILL lands: any exit, then the restart.
        p.wait_line(r"Worker \(pid %d\) .*; restarting in 100ms\.$" % pid_of(bad))
        self.assertFalse(harness.pid_alive(pid_of(bad)))
        p.wait_line(r"fake 1 tick")
        self.assertEqual(len(wait_workers(self, p.pid, 1)), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
