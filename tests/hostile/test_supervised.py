#!/usr/bin/env python3
"""The catalogue through the supervisor: `observer` forwards the fault's one
line untouched, the control target keeps its schedule, and the faults never
cost a worker restart (one worker, the same PID, throughout)."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hostile_support as hs  # noqa: E402
from harness import HttpServer, children_of  # noqa: E402

RESET = (r"Probe failed: (Failure when receiving data from the peer: Recv failure: Connection reset by peer"
         r"|Failed sending data to the peer: select/poll returned error \(Connection reset by peer\))")


class Supervised(unittest.TestCase):
    def setUp(self):
        self.srv = HttpServer(self)

    def supervised(self, path, expect, extra=(), during=None):
        workers = []

        def note_worker(p):
            workers.append(tuple(children_of(p.pid)))
            if during:
                during(p)

        r = hs.run_case(self, self.srv, self.srv.url(path), expect, fault_extra=extra,
                        fault_hits=lambda: self.srv.hits(path.split("?")[0]), supervised=True, during=note_worker)
        workers.append(tuple(children_of(r.proc.pid)))
        self.assertEqual(len(set(workers)), 1, "the worker changed: %r" % workers)
        self.assertEqual(len(workers[0]), 1, "not exactly one worker: %r" % (workers[0],))
        self.assertEqual(r.proc.count(r"Worker \d+ (exited|retired|was killed|crashed)|restarting"), 0)
        hs.stop(self, r.proc)
        return r, workers[0][0]

    def test_timeout_through_the_supervisor(self):
        self.supervised("/hang?hang=1", hs.timeout_reason("0"))

    def test_reset_through_the_supervisor(self):
        self.supervised("/rst?reset=1", RESET)

    def test_one_gib_body_through_the_supervisor_keeps_worker_small(self):
        peak = []

        def sample(p):
            for w in children_of(p.pid):
                peak.append(hs.rss_kib(w))

        self.supervised("/gib?body_bytes=1073741824",
                        r'Body does not contain "never-there" \(in the first 1048576 bytes\)',
                        ["max_body=1MiB", "body_contains=never-there"], during=sample)
        self.assertTrue(peak)
        self.assertLess(max(peak), 64 * 1024, "worker VmRSS reached %d KiB" % max(peak))


if __name__ == "__main__":
    unittest.main(verbosity=2)
