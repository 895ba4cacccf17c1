#!/usr/bin/env python3
"""Memory and descriptors stay bounded: the body cap holds against a huge
body and an endless chunked body, and RSS and open fds stay flat across many
fast probes of several targets. Margins are generous; nothing here asserts
speed."""
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT", os.path.join(HERE, "..", "support")))

from harness import WORKER, HttpServer, Proc, rss_kib, small_quarantine_env, tempdir, wait_for, write_file  # noqa: E402






def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Resources(unittest.TestCase):
    def run_capped(self, query):
        srv = HttpServer(self)
        p = Proc(self, [WORKER, "-url=" + srv.url("/big?" + query), "-tick=500ms", "-max_body=1MiB",
                        "-body_contains=never-there", "-timeout=400ms"], env=small_quarantine_env())
        wait_for(lambda: srv.hits("/big") >= 1, 5, what="first probe")
        base = rss_kib(p.pid)
        wait_for(lambda: srv.hits("/big") >= 5, 10, what="five probes")
        p.wait_line(r'Body does not contain "never-there" \(in the first 1048576 bytes\)$', timeout=5)
        grown = rss_kib(p.pid) - base
        # 1 MiB kept per probe; a body read whole would be ~1 GiB.
        self.assertLess(grown, 16 * 1024, "RSS grew by %d KiB" % grown)
        self.assertEqual(p.count("Probe failed"), 0)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(5), 0)

    def test_cap_holds_against_a_huge_body(self):
        self.run_capped("body_bytes=1073741824")

    def test_cap_holds_against_an_endless_chunked_body(self):
        self.run_capped("chunked_forever=1")

    def test_fds_and_rss_flat_over_many_fast_probes(self):
        srv = HttpServer(self)
        d = tempdir(self)
        conf = "tick=50ms\nstatus=200\n" + "".join(
            "[t%d]\nurl=%s\n" % (i, srv.url("/f%d" % i)) for i in range(5))
        conf += "[refused]\nurl=http://127.0.0.1:1/\n[mismatch]\nurl=%s\n" % srv.url("/m?status=500")
        p = Proc(self, [WORKER, "-config", write_file(d, "o.conf", conf)], env=small_quarantine_env())
        wait_for(lambda: srv.hits() >= 100, 10, what="warm-up probes")
        time.sleep(0.5)
        fds0, rss0, hits0 = fd_count(p.pid), rss_kib(p.pid), srv.hits()
        time.sleep(4)
        fds1, rss1, hits1 = fd_count(p.pid), rss_kib(p.pid), srv.hits()
        self.assertGreater(hits1 - hits0, 200, "the probes kept going")
        # In-flight probes hold a socket each; 7 targets may all be in flight.
        self.assertLessEqual(fds1, fds0 + 7, "fds grew from %d to %d" % (fds0, fds1))
        self.assertLess(rss1 - rss0, 8 * 1024, "RSS grew from %d to %d KiB" % (rss0, rss1))
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(5), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
