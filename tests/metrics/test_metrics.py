#!/usr/bin/env python3
"""/metrics of one worker: Prometheus's own checker accepts it, the values
say what the probes found, only GET and HEAD are answered, and a hostile
client neither slows probing nor grows the worker."""
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import metrics_support as ms  # noqa: E402
from harness import WORKER, HttpServer, Proc, closed_port, rss_kib, small_quarantine_env, tempdir, wait_for, write_file  # noqa: E402


def start(test, srv, extra=()):
    port = closed_port()
    conf = ("tick=300ms\nlisten=127.0.0.1:%d\n[up]\nurl=%s\nstatus=200\n[down]\nurl=%s\nstatus=200\n"
            "[late]\nurl=%s\ntimeout=100ms\n") % (port, srv.url("/up"), srv.url("/down?status=503"),
                                                 srv.url("/late?delay_ms=400"))
    path = write_file(tempdir(test), "observer.conf", conf + "".join(l + "\n" for l in extra))
    p = Proc(test, [WORKER, "-config", path], env=small_quarantine_env())
    wait_for(lambda: _answers(port), 10, what="/metrics to answer")
    return p, port


def _answers(port):
    try:
        return "observer_build_info" in ms.scrape(port)
    except OSError:
        return False


class Metrics(unittest.TestCase):
    def test_promtool_accepts_the_exposition(self):
        promtool = ms.need("promtool")
        srv = HttpServer(self)
        p, port = start(self, srv)
        wait_for(lambda: ms.value(ms.scrape(port), "observer_target_up", target="down") == 0, 10,
                 what="the DOWN target")
        text = ms.scrape(port)
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout + r.stderr, "", "promtool's lint found problems")
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(10), 0)

    def test_values_follow_the_probes(self):
        srv = HttpServer(self)
        p, port = start(self, srv)
        wait_for(lambda: (ms.value(ms.scrape(port), "observer_probes_total", target="late", result="failure") or 0) >= 2,
                 10, what="two failed probes of the late target")
        text = ms.scrape(port)
        v = lambda name, **l: ms.value(text, name, **l)  # noqa: E731
        self.assertEqual(v("probe_success", target="up"), 1)
        self.assertEqual(v("probe_success", target="down"), 0)
        self.assertEqual(v("probe_http_status_code", target="down"), 503)
        self.assertEqual(v("observer_target_up", target="up"), 1)
        self.assertEqual(v("observer_target_up", target="down"), 0)
        self.assertGreaterEqual(v("observer_probe_failures_total", target="down", reason="status"), 1)
        self.assertGreaterEqual(v("observer_probe_failures_total", target="late", reason="timeout"), 2)
        self.assertIsNone(v("observer_probe_failures_total", target="up", reason="status"))
        self.assertEqual(v("observer_state_changes_total", target="down"), 1)
        self.assertEqual(v("probe_http_duration_seconds", target="up", phase="tls"), 0)
        self.assertGreater(v("probe_http_duration_seconds", target="up", phase="connect"), 0)
        labels = [l for n, l, _ in ms.samples(text) if n == "probe_success"]
        self.assertEqual(sorted(l["url"] for l in labels), sorted([srv.url("/up"), srv.url("/down?status=503"),
                                                                   srv.url("/late?delay_ms=400")]))
        # The success count is what the server saw of the up target (within
        # the one probe that may be on its way).
        ok = v("observer_probes_total", target="up", result="success")
        self.assertLessEqual(abs(ok - srv.hits("/up")), 1)
        # A counter only grows.
        time.sleep(0.7)
        self.assertGreater(ms.value(ms.scrape(port), "observer_probes_total", target="up", result="success"), ok)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(10), 0)

    def test_only_get_and_head_are_answered(self):
        srv = HttpServer(self)
        p, port = start(self, srv)
        for method, expect in (("POST", 405), ("DELETE", 405), ("HEAD", 200)):
            r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method,
                                "--max-time", "5", "http://127.0.0.1:%d/metrics" % port],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.stdout, str(expect), method)
        with self.assertRaises(ms.urllib.error.HTTPError) as e:
            ms.scrape(port, "/nothing-here")
        self.assertEqual(e.exception.code, 404)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(10), 0)

    def test_slow_readers_of_a_large_exposition_share_one_copy(self):
        srv = HttpServer(self)
        port = closed_port()
        n = 3000
        # 600 probes a second, not 3000: the test needs a large exposition,
        # not a load that a shared machine's Python server cannot answer.
        conf = ("tick=5s\nstatus=200\nlisten=127.0.0.1:%d\n" % port +
                "".join("[target-with-a-long-name-%05d]\nurl=%s\n" % (i, srv.url("/x%05d" % i)) for i in range(n)))
        path = write_file(tempdir(self), "observer.conf", conf)
        p = Proc(self, [WORKER, "-config", path], env=small_quarantine_env())
        wait_for(lambda: _answers(port) and ms.scrape(port).count("probe_success{") == n, 60,
                 what="every target in the exposition")
        size = len(ms.scrape(port))
        time.sleep(0.5)
        rss_before = rss_kib(p.pid)
        held = []
        try:
            for _ in range(14):  # asks and never reads: the response waits in the worker
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                held.append(s)
            time.sleep(1.5)
            grown = rss_kib(p.pid) - rss_before
        finally:
            for s in held:
                s.close()
        # One copy of the exposition (plus what the kernel buffers), not 14.
        self.assertLess(grown * 1024, 4 * size, "RSS grew %d KiB for 14 readers of %d bytes" % (grown, size))
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(10), 0)

    def test_hostile_clients_neither_slow_probing_nor_grow_the_worker(self):
        srv = HttpServer(self)
        p, port = start(self, srv)
        wait_for(lambda: srv.hits("/up") >= 3, 10, what="probing")
        rss_before = rss_kib(p.pid)
        hits_before, t0 = srv.hits("/up"), time.time()
        held = []
        try:
            for _ in range(100):  # slowloris: a request line that never ends
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                s.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
                held.append(s)
            for payload in (b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\n\r\n",
                            os.urandom(64 * 1024), b"\x00\xff" * 1000 + b"\r\n\r\n"):
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                try:
                    s.sendall(payload)
                except OSError:
                    pass  # refused mid-way: what a bound does
                held.append(s)
            time.sleep(3)
            hits = srv.hits("/up") - hits_before
            elapsed = time.time() - t0
        finally:
            for s in held:
                s.close()
        # 300 ms tick: about elapsed / 0.3 probes; none may have been delayed
        # out of its slot by the server's clients.
        self.assertGreaterEqual(hits, int(elapsed / 0.3) - 2, "probing slowed: %d probes in %.1fs" % (hits, elapsed))
        self.assertLess(rss_kib(p.pid) - rss_before, 8 * 1024, "the worker grew by more than 8 MiB")
        # Once they are gone, scrapes are answered again.
        wait_for(lambda: _answers(port), 15, what="/metrics to answer after the attack")
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(10), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
