#!/usr/bin/env python3
"""The systemd notify protocol, read from a datagram socket bound as
$NOTIFY_SOCKET: READY=1 after the first worker is ready, RELOADING=1 with
MONOTONIC_USEC then READY=1 with a STATUS for each reload (good or not),
STOPPING=1 on stop, WATCHDOG=1 pings; the worker never sees the socket."""
import os
import signal
import time
import unittest

from supervisor_support import NotifySocket, fields, harness, supervisor_env, wait_workers

SUPERVISOR = harness.SUPERVISOR


class SdNotify(unittest.TestCase):
    def test_sd_notify_message_sequence(self):
        srv = harness.HttpServer(self)
        d = harness.tempdir(self)
        conf = harness.write_file(d, "observer.conf", "url=%s\ntick=200ms\n" % srv.url("/ok"))
        ns = NotifySocket(self)
        p = harness.Proc(self, [SUPERVISOR, "-config", conf], env=supervisor_env(NOTIFY_SOCKET=ns.path))
        ready = ns.wait_message(lambda m: "READY=1" in m)
        self.assertEqual(ns.received, [ready], "nothing may come before the first READY=1")
        p.wait_line(r"is ready\.")
        [w] = wait_workers(self, p.pid, 1)
        with open("/proc/%d/environ" % w, "rb") as f:
            self.assertNotIn(b"NOTIFY_SOCKET=", f.read())

        before = int(time.monotonic() * 1e6)
        p.signal(signal.SIGHUP)
        reloading = ns.wait_message(lambda m: "RELOADING=1" in m)
        after = int(time.monotonic() * 1e6)
        usec = int(fields(reloading)["MONOTONIC_USEC"])
        self.assertTrue(before <= usec <= after, (before, usec, after))
        done = ns.wait_message(lambda m: m != reloading and "READY=1" in m and m not in (ready,))
        self.assertIn("STATUS=Reloaded", done)

        with open(conf, "a") as f:
            f.write("bogus_key=1\n")
        n = len(ns.received)
        p.signal(signal.SIGHUP)
        p.wait_line(r"Reload failed")
        failed = ns.wait_message(lambda m: ns.received.index(m) >= n + 1 and "READY=1" in m)
        self.assertIn("STATUS=Reload failed", failed)
        self.assertIn("RELOADING=1", ns.received[n])

        n = len(ns.received)
        p.signal(signal.SIGTERM)
        stopping = ns.wait_message(lambda m: "STOPPING=1" in m)
        self.assertEqual(p.wait_exit(), 0)
        kinds = [m.split("\n", 1)[0] for m in ns.received]
        self.assertEqual(kinds, ["READY=1", "RELOADING=1", "READY=1", "RELOADING=1", "READY=1", "STOPPING=1"])
        self.assertEqual(ns.received[-1], stopping)

    def test_watchdog_pings_at_half_the_interval(self):
        ns = NotifySocket(self)
        p = harness.Proc(self, [SUPERVISOR, "-url=http://127.0.0.1:9/", "-tick=10s"],
                         env=supervisor_env(NOTIFY_SOCKET=ns.path, WATCHDOG_USEC="200000"))
        ns.wait_message(lambda m: "READY=1" in m)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                ns.wait_message(lambda m: False, timeout=deadline - time.monotonic())
            except AssertionError:
                break
        pings = [m for m in ns.received if m == "WATCHDOG=1"]
        self.assertGreaterEqual(len(pings), 8, ns.received)  # every 100 ms
        self.assertLessEqual(len(pings), 15, ns.received)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)

    def test_watchdog_for_another_pid_is_not_ours(self):
        ns = NotifySocket(self)
        p = harness.Proc(self, [SUPERVISOR, "-url=http://127.0.0.1:9/", "-tick=10s"],
                         env=supervisor_env(NOTIFY_SOCKET=ns.path, WATCHDOG_USEC="100000", WATCHDOG_PID="1"))
        ns.wait_message(lambda m: "READY=1" in m)
        time.sleep(0.5)
        p.signal(signal.SIGTERM)
        ns.wait_message(lambda m: "STOPPING=1" in m)
        self.assertNotIn("WATCHDOG=1", ns.received)
        self.assertEqual(p.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
