#!/usr/bin/env python3
"""Transport failures are one clear line each with curl's reason, and never
stop the loop or the other targets: refused, timeout, reset, reset mid-body,
a malformed response."""
import os
import signal
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT", os.path.join(HERE, "..", "support")))

from harness import WORKER, HttpServer, Proc, closed_port, tempdir, wait_for, write_file  # noqa: E402

STAMP = r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d "


def worker(test, *args):
    return Proc(test, [WORKER] + list(args))


class Transport(unittest.TestCase):
    def test_connection_refused(self):
        port = closed_port()
        p = worker(self, "-url=http://127.0.0.1:%d/" % port, "-tick=200ms")
        line = p.wait_line(STAMP + r"Probe failed: ", timeout=5)
        self.assertRegex(line, r"Couldn't connect to server.*127\.0\.0\.1 port %d.*\(Connection refused\)$" % port)
        p.wait_line(STAMP + r"DOWN: Probe failed: Couldn't connect", timeout=5)
        # The loop goes on: it keeps probing and logging.
        wait_for(lambda: p.count("Probe failed") >= 3, 5, what="more failed probes")

    def test_timeout(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/hang?hang=1"), "-tick=1s", "-timeout=300ms")
        line = p.wait_line(r"Probe failed: ", timeout=5)
        self.assertRegex(line, STAMP + r"Probe failed: Timeout was reached: Operation timed out after 3\d\d milliseconds")

    def test_reset_before_answer(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/rst?reset=1"), "-tick=300ms")
        line = p.wait_line(r"Probe failed: ", timeout=5)
        self.assertRegex(line, r"Connection reset by peer")

    def test_reset_mid_body(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/rm?reset_mid=1&body_bytes=100000"), "-tick=300ms")
        line = p.wait_line(r"Probe failed: ", timeout=5)
        self.assertRegex(line, r"Connection reset by peer")

    def test_malformed_response(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/bad?malformed=1"), "-tick=300ms")
        p.wait_line(STAMP + r"Probe failed: .*(response|header)", timeout=5)

    def test_one_failing_target_does_not_stop_the_others(self):
        srv = HttpServer(self)
        d = tempdir(self)
        conf = write_file(d, "o.conf", "tick=200ms\ntimeout=150ms\nstatus=200\n"
                          "[dead]\nurl=http://127.0.0.1:%d/\n[hang]\nurl=%s\n[good]\nurl=%s\n" % (
                              closed_port(), srv.url("/hang?hang=1"), srv.url("/good")))
        p = worker(self, "-config", conf)
        p.wait_line(r"\[dead\] Probe failed: Couldn't connect", timeout=5)
        p.wait_line(r"\[hang\] Probe failed: Timeout was reached", timeout=5)
        before = srv.hits("/good")
        wait_for(lambda: srv.hits("/good") >= before + 5, 5, what="the good target to keep being probed")
        self.assertEqual(p.count(r"\[good\]"), 0)
        p.signal(signal.SIGINT)
        self.assertEqual(p.wait_exit(5), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
