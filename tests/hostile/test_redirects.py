#!/usr/bin/env python3
"""Redirects that must not be followed, beside a healthy control target: a
loop longer than max_redirects, and redirects to file:// and gopher://
(only http and https are ever followed)."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hostile_support as hs  # noqa: E402
from harness import HttpServer  # noqa: E402


class Redirects(unittest.TestCase):
    def setUp(self):
        self.srv = HttpServer(self)

    def test_redirect_loop_stops_at_max_redirects(self):
        self.srv.set("/loop", redirect=self.srv.url("/loop"))
        r = hs.run_case(self, self.srv, self.srv.url("/loop"),
                        r"Probe failed: Number of redirects hit maximum amount: Maximum \(3\) redirects followed",
                        fault_extra=["max_redirects=3"], fault_hits=lambda: self.srv.hits("/loop"))
        hs.stop(self, r.proc)
        # Each probe is the first request plus 3 redirects followed, no more.
        fails = sum(1 for l in r.fault_lines if "DOWN:" not in l)
        self.assertLessEqual(self.srv.hits("/loop"), 4 * (fails + 1))

    def test_redirect_to_file_is_refused(self):
        r = hs.run_case(self, self.srv, self.srv.url("/tofile?redirect=file:///etc/passwd"),
                        r'Probe failed: Unsupported protocol: Protocol "file" not supported or disabled in libcurl',
                        fault_hits=lambda: self.srv.hits("/tofile"))
        hs.stop(self, r.proc)
        self.assertEqual([l for l in r.proc.lines() if "root:" in l], [])

    def test_redirect_to_gopher_is_refused(self):
        r = hs.run_case(self, self.srv, self.srv.url("/togopher?redirect=gopher://127.0.0.1:1/"),
                        r'Probe failed: Unsupported protocol: Protocol "gopher" not supported or disabled in libcurl',
                        fault_hits=lambda: self.srv.hits("/togopher"))
        hs.stop(self, r.proc)


if __name__ == "__main__":
    unittest.main(verbosity=2)
