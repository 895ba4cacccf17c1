#!/usr/bin/env python3
"""A hung worker is seen (issue 13, item 4): the worker's loop sends a
Heartbeat every second on the control channel; a current worker not heard
from for 10 s (common/control.h kWorkerStallLimit) is logged as stuck,
SIGKILLed and restarted by the crash path with its back-off. Under systemd,
WATCHDOG=1 is sent only while the current worker is heard from.

The worker is hung with a real SIGSTOP; the waits are bounded, and nothing
is asserted about how fast a step comes, only about what comes in which
order."""
import os
import signal
import time
import unittest

from supervisor_support import NotifySocket, harness, pid_of, supervisor_env, wait_workers

SUPERVISOR = harness.SUPERVISOR
# kWorkerStallLimit (10 s) plus the checks' period, with room for a loaded machine.
STUCK_WITHIN = 40


def drain(sock):
    """Every datagram queued on `sock` now, without waiting."""
    out = []
    sock.setblocking(False)
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)
    return out


class Liveness(unittest.TestCase):
    def test_stopped_worker_is_logged_killed_and_restarted(self):
        srv = harness.HttpServer(self)
        p = harness.Proc(self, [SUPERVISOR, "-url=" + srv.url("/ok"), "-tick=200ms"], env=supervisor_env())
        p.wait_line(r"Worker \(pid \d+\) is ready\.", 15)
        [w] = wait_workers(self, p.pid, 1)
        self.addCleanup(lambda: harness.pid_alive(w) and os.kill(w, signal.SIGKILL))
        n = len(p.lines())
        os.kill(w, signal.SIGSTOP)
        stuck = p.wait_line(r"is stuck", STUCK_WITHIN, start=n)
        self.assertRegex(stuck, r"Worker \(pid %d\) is stuck: not heard from for \S+ \(limit 10s\); "
                         r"killing it with SIGKILL\.$" % w)
        crash = p.wait_line(r"crashed", 10, start=n)
        self.assertRegex(crash, r"Worker \(pid %d\) crashed: was killed by signal 9 \(Killed\); restarting in "
                         r"100ms\.$" % w)
        lines = p.lines()
        self.assertLess(lines.index(stuck), lines.index(crash))
        new = pid_of(p.wait_line(r"Started worker", 10, start=n))
        p.wait_line(r"Worker \(pid %d\) is ready\." % new, 15, start=n)
        self.assertEqual(wait_workers(self, p.pid, 1), [new])
        h = srv.hits("/ok")
        harness.wait_for(lambda: srv.hits("/ok") >= h + 3, 10, what="the new worker to probe")
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)

    def test_a_busy_but_running_worker_is_not_stuck(self):
        # Many probes every 100 ms and a second of pause in the middle of
        # its life (SIGSTOP then SIGCONT, shorter than the limit): never stuck.
        srv = harness.HttpServer(self)
        p = harness.Proc(self, [SUPERVISOR, "-url=" + srv.url("/busy"), "-tick=100ms"], env=supervisor_env())
        p.wait_line(r"Worker \(pid \d+\) is ready\.", 15)
        [w] = wait_workers(self, p.pid, 1)
        os.kill(w, signal.SIGSTOP)
        time.sleep(1.0)
        os.kill(w, signal.SIGCONT)
        time.sleep(12.0)  # past the limit, counted from the pause
        self.assertEqual(wait_workers(self, p.pid, 1), [w])
        self.assertEqual(p.count(r"is stuck|crashed"), 0, "".join(p.lines()[-20:]))
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)

    def test_watchdog_pings_only_while_the_worker_is_heard_from(self):
        srv = harness.HttpServer(self)
        ns = NotifySocket(self)
        # Pings every 500 ms; no WATCHDOG_PID: they are for the supervisor.
        p = harness.Proc(self, [SUPERVISOR, "-url=" + srv.url("/wd"), "-tick=200ms"],
                         env=supervisor_env(NOTIFY_SOCKET=ns.path, WATCHDOG_USEC="1000000"))
        ns.wait_message(lambda m: "READY=1" in m, 15)
        ns.wait_message(lambda m: m == "WATCHDOG=1" and len(ns.received) > 2, 10)
        [w] = wait_workers(self, p.pid, 1)
        self.addCleanup(lambda: harness.pid_alive(w) and os.kill(w, signal.SIGKILL))
        n = len(p.lines())
        stopped_at = time.monotonic()
        os.kill(w, signal.SIGSTOP)
        # The last heartbeat came before the SIGSTOP: a ping sent more than
        # 3 s later (common/control.h) would vouch for a hung worker. What
        # is queued after 5 s was sent before then; everything received
        # after it was sent later.
        time.sleep(max(0.0, stopped_at + 5.0 - time.monotonic()))
        drain(ns.sock)
        stuck = p.wait_line(r"Worker \(pid %d\) is stuck" % w, STUCK_WITHIN, start=n)
        during = drain(ns.sock)
        self.assertNotIn("WATCHDOG=1", during, "pings while the worker was stopped")
        p.wait_line(r"crashed", 10, start=n)
        new = pid_of(p.wait_line(r"Started worker", 10, start=n))
        p.wait_line(r"Worker \(pid %d\) is ready\." % new, 15, start=n)
        # The restarted worker is heard from: the pings come back.
        ns.received = []
        ns.wait_message(lambda m: m == "WATCHDOG=1", 10)
        self.assertTrue(stuck)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
