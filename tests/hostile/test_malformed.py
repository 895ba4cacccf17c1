#!/usr/bin/env python3
"""Responses that are not valid HTTP, each beside a healthy control target:
a broken status line, bytes that are not HTTP at all, a header without a
colon, a NUL in a header, a Content-Length that is not a number, a header
line past curl's limit, a chunked body with a bad size line. Each is one
clear line naming what was wrong, retried at the next tick."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hostile_support as hs  # noqa: E402
from harness import HttpServer  # noqa: E402


class Malformed(unittest.TestCase):
    def setUp(self):
        self.srv = HttpServer(self)

    def fault(self, kind, expect):
        path = "/" + kind
        r = hs.run_case(self, self.srv, self.srv.url(path + "?broken=" + kind), expect,
                        fault_hits=lambda: self.srv.hits(path))
        hs.stop(self, r.proc)

    def test_malformed_status_line(self):
        self.fault("status", r"Probe failed: Unsupported protocol: Unsupported response code in HTTP response")

    def test_not_http_at_all(self):
        self.fault("not_http", r"Probe failed: Unsupported protocol: Received HTTP/0\.9 when not allowed")

    def test_header_without_colon(self):
        self.fault("header_no_colon", r"Probe failed: Weird server reply: Header without colon")

    def test_nul_byte_in_header(self):
        self.fault("header_nul", r"Probe failed: Weird server reply: Nul byte in header")

    def test_content_length_not_a_number(self):
        self.fault("content_length", r"Probe failed: Weird server reply: Invalid Content-Length: value")

    def test_bad_chunk_size(self):
        self.fault("chunk_size", r"Probe failed: Failure when receiving data from the peer: "
                                 r"Illegal or missing hexadecimal sequence in chunked-encoding")

    def test_header_line_over_curls_limit_names_the_header(self):
        # curl 7.88 ends this transfer with CURLE_OUT_OF_MEMORY and no detail;
        # a bare "Out of memory" reads like the monitor itself ran out. The
        # line has to say that the response's header was the problem.
        self.fault("giant_header", r"Probe failed: .*\b[Hh]eader\b.*")

    def test_broken_status_and_header_together(self):
        # The original malformed=1 response: a bad status line and a header
        # line without a colon, in one answer.
        path = "/mal"
        r = hs.run_case(self, self.srv, self.srv.url(path + "?malformed=1"),
                        r"Probe failed: Unsupported protocol: Unsupported response code in HTTP response",
                        fault_hits=lambda: self.srv.hits(path))
        hs.stop(self, r.proc)


if __name__ == "__main__":
    unittest.main(verbosity=2)
