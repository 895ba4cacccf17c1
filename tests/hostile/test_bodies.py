#!/usr/bin/env python3
"""Bodies that never end, beside a healthy control target: a 1 GiB body and
an endless chunked body are read only up to max_body (the body check says so),
the worker's memory stays small while they are served, and the control target
keeps its schedule."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hostile_support as hs  # noqa: E402
from harness import HttpServer  # noqa: E402

RSS_LIMIT_KIB = 64 * 1024
CAPPED = r'Body does not contain "never-there" \(in the first 1048576 bytes\)'


class Bodies(unittest.TestCase):
    def setUp(self):
        self.srv = HttpServer(self)

    def capped(self, path, query):
        peak = []

        def sample(p):
            peak.append(hs.rss_kib(p.pid))

        r = hs.run_case(self, self.srv, self.srv.url(path + "?" + query), CAPPED,
                        fault_extra=["max_body=1MiB", "body_contains=never-there"],
                        fault_hits=lambda: self.srv.hits(path), during=sample, rounds=4)
        sample(r.proc)
        self.assertLess(max(peak), RSS_LIMIT_KIB, "worker VmRSS reached %d KiB" % max(peak))
        hs.stop(self, r.proc)

    def test_one_gib_body_is_read_only_to_max_body(self):
        # 700 ms timeout: a probe that read the whole GiB would time out
        # instead of logging the capped body check.
        self.capped("/gib", "body_bytes=1073741824")

    def test_endless_chunked_body_is_read_only_to_max_body(self):
        self.capped("/chunks", "chunked_forever=1")


if __name__ == "__main__":
    unittest.main(verbosity=2)
