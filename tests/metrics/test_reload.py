#!/usr/bin/env python3
"""The metrics socket is the supervisor's: bound once, handed to each
worker, kept across reloads. A real Prometheus scraping observer through 20
reloads sees `up` at 1 every time and counters that never go back; a removed
target's series go, a renamed one starts afresh; a changed `listen` is bound
before the new worker starts, and a failed bind keeps the old one; systemd's
socket activation is taken as it is."""
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
from harness import SUPERVISOR, HttpServer, Proc, closed_port, tempdir, wait_for, write_file  # noqa: E402


def conf_text(port, srv, names):
    return ("tick=300ms\nstatus=200\nlisten=127.0.0.1:%d\n" % port +
            "".join("[%s]\nurl=%s\n" % (n, srv.url("/" + n)) for n in names))


def reload_and_wait(test, p, n, retired=False):
    """Sends SIGHUP and waits for the n-th "Reloaded:" line (and with
    `retired`, for the old worker to be gone: it serves until its hand-over)."""
    p.signal(signal.SIGHUP)
    wait_for(lambda: p.count(r"Reloaded: worker") >= n, 15, what="reload %d to take effect" % n)
    if retired:
        wait_for(lambda: p.count(r"\) retired: ") >= n, 15, what="the old worker of reload %d to retire" % n)


class MetricsAcrossReloads(unittest.TestCase):
    def test_prometheus_sees_every_scrape_and_no_counter_going_back_through_20_reloads(self):
        srv = HttpServer(self)
        port = closed_port()
        path = write_file(tempdir(self), "observer.conf", conf_text(port, srv, ["a", "b", "c"]))
        p = Proc(self, [SUPERVISOR, "-config", path])
        p.wait_line(r"is ready\.", timeout=10)
        prom = ms.Prometheus(self, ["127.0.0.1:%d" % port])
        wait_for(lambda: prom.api("query", query="up")["result"], 30, interval=0.5, what="a first scrape")
        start = time.time()
        for n in range(1, 21):
            reload_and_wait(self, p, n)
            time.sleep(0.4)
        time.sleep(2.5)
        end = time.time()
        ups = prom.range("up", start, end)
        self.assertEqual(len(ups), 1, ups)
        values = list(ups.values())[0]
        self.assertGreaterEqual(len(values), int(end - start) - 2, "scrapes missing: %r" % values)
        self.assertEqual([v for _, v in values if v != 1], [], "a scrape failed during the reloads")
        # The scrape itself, one per second: never a gap of two.
        samples = prom.range('observer_probes_total{target="a",result="success"}', start, end)
        self.assertEqual(len(samples), 1, samples)
        counts = [v for _, v in list(samples.values())[0]]
        drops = [(a, b) for a, b in zip(counts, counts[1:]) if b < a]
        self.assertEqual(drops, [], "the counter went back across a reload")
        self.assertGreater(counts[-1], counts[0])
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(15), 0)

    def test_a_removed_target_goes_and_a_renamed_one_starts_afresh(self):
        srv = HttpServer(self)
        port = closed_port()
        d = tempdir(self)
        path = write_file(d, "observer.conf", conf_text(port, srv, ["keep", "gone", "old"]))
        p = Proc(self, [SUPERVISOR, "-config", path])
        p.wait_line(r"is ready\.", timeout=10)
        wait_for(lambda: (ms.value(ms.scrape(port), "observer_probes_total", target="old", result="success") or 0) >= 8,
                 15, what="eight probes of the target to rename")
        before = ms.scrape(port)
        kept = ms.value(before, "observer_probes_total", target="keep", result="success")
        # "renamed": the section is new, the url the old one's.
        write_file(d, "observer.conf", conf_text(port, srv, ["keep", "new"]).replace("/new", "/old"))
        reload_and_wait(self, p, 1, retired=True)
        after = ms.scrape(port)
        names = {l.get("target") for _, l, _ in ms.samples(after) if "target" in l}
        self.assertEqual(names, {"keep", "new"})
        self.assertGreaterEqual(ms.value(after, "observer_probes_total", target="keep", result="success"), kept)
        self.assertLess(ms.value(after, "observer_probes_total", target="new", result="success") or 0, 8)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(15), 0)

    def test_a_changed_listen_is_bound_first_and_a_failed_bind_keeps_the_old_worker(self):
        srv = HttpServer(self)
        first, second = closed_port(), closed_port()
        d = tempdir(self)
        path = write_file(d, "observer.conf", conf_text(first, srv, ["a"]))
        p = Proc(self, [SUPERVISOR, "-config", path])
        p.wait_line(r"is ready\.", timeout=10)
        wait_for(lambda: "observer_build_info" in ms.scrape(first), 10, what="metrics on the first port")
        write_file(d, "observer.conf", conf_text(second, srv, ["a"]))
        reload_and_wait(self, p, 1, retired=True)
        wait_for(lambda: "observer_build_info" in ms.scrape(second), 10, what="metrics on the second port")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", first), timeout=2).close()
        wait_for(lambda: ms.value(ms.scrape(second), "probe_success", target="a") == 1, 10, what="a probe")
        # A port somebody else holds: the reload fails, nothing changes.
        squatter = socket.socket()
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        self.addCleanup(squatter.close)
        write_file(d, "observer.conf", conf_text(squatter.getsockname()[1], srv, ["a"]))
        p.signal(signal.SIGHUP)
        p.wait_line(r"Reload failed: .*listen 127\.0\.0\.1:\d+: Address already in use", timeout=10)
        # The supervisor tells the worker after it logs the line: the gauge
        # follows within a moment.
        wait_for(lambda: ms.value(ms.scrape(second), "observer_config_last_reload_successful") == 0, 10,
                 what="the failed reload in /metrics")
        self.assertEqual(ms.value(ms.scrape(second), "probe_success", target="a"), 1)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(15), 0)

    def test_a_socket_from_systemd_is_served(self):
        activate = "/usr/bin/systemd-socket-activate"
        if not os.path.exists(activate):
            self.skipTest("systemd-socket-activate is not installed")
        srv = HttpServer(self)
        port = closed_port()
        # No `listen`: the passed socket is used; the worker must not see
        # LISTEN_FDS (it would take fd 3, its control channel, for a socket).
        p = Proc(self, [activate, "-l", "127.0.0.1:%d" % port, SUPERVISOR, "-url=" + srv.url("/sa"),
                        "-tick=300ms", "-status=200"])
        wait_for(lambda: _connectable(port), 10, what="systemd-socket-activate to listen")
        text = ms.scrape(port, timeout=10)  # the first connection starts observer
        self.assertIn("observer_build_info", text)
        wait_for(lambda: ms.value(ms.scrape(port), "probe_success", target="default") == 1, 10,
                 what="a probe through the activated observer")
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(15), 0)


def _connectable(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main(verbosity=2)
