#!/usr/bin/env python3
"""The fixed schedule: no drift over a window, a stable phase per target that
spreads targets sharing a tick, and an overrun logged instead of a second
probe of the same target."""
import json
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT", os.path.join(HERE, "..", "support")))

from harness import WORKER, HttpServer, Proc, tempdir, wait_for, write_file  # noqa: E402


class Schedule(unittest.TestCase):
    def test_fast_tick_does_not_drift(self):
        srv = HttpServer(self)
        # Each probe takes 50 ms: a "tick after the last one ended" loop would
        # do 4 probes a second instead of 5.
        p = Proc(self, [WORKER, "-url=" + srv.url("/d?delay_ms=50"), "-tick=200ms"])
        wait_for(lambda: srv.hits("/d") >= 2, 5, what="the schedule to start")
        t0 = srv.requests()[-1][0]
        time.sleep(4.1)
        times = [r[0] for r in srv.requests() if r[2].startswith("/d")]
        in_window = [t for t in times if t0 < t <= t0 + 4.0]
        self.assertTrue(19 <= len(in_window) <= 21, "%d probes in 4 s of a 200 ms tick" % len(in_window))
        # And every probe sits on the same phase of the 200 ms grid.
        offsets = [((t - t0) * 1000) % 200 for t in in_window]
        late = [o for o in offsets if 20 < o < 180]
        self.assertEqual(late, [], "probes off their slot by more than 20 ms")
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(5), 0)

    def test_targets_on_one_tick_fire_at_different_instants(self):
        srv = HttpServer(self)
        d = tempdir(self)
        names = ["alpha", "beta", "gamma", "delta"]
        conf = "tick=1s\n" + "".join("[%s]\nurl=%s\n" % (n, srv.url("/" + n)) for n in names)
        Proc(self, [WORKER, "-config", write_file(d, "o.conf", conf)])
        wait_for(lambda: all(srv.hits("/" + n) >= 2 for n in names), 6, what="two rounds")
        reqs = srv.requests()
        phase = {}
        for n in names:
            ts = [r[0] for r in reqs if r[2] == "/" + n][:2]
            # A stable phase: one tick apart.
            self.assertAlmostEqual(ts[1] - ts[0], 1.0, delta=0.03)
            phase[n] = ts[0] % 1.0
        ps = sorted(phase.values())
        spread = ps[-1] - ps[0]
        self.assertGreater(spread, 0.05, "four targets on one tick fired in one burst: %r" % phase)
        self.assertGreater(len({round(v, 3) for v in ps}), 1)

    def test_targets_sharing_wakeups_each_fire_once_a_tick(self):
        # 300 targets on a 1 s tick share ~15 wake-ups (a 66 ms grid, about 20
        # targets each, one timer per wake-up). Every target must still be
        # probed once per tick, including those that share a wake-up with a
        # target whose probe overruns its tick.
        srv = HttpServer(self)
        d = tempdir(self)
        n = 300
        conf = "tick=1s\ntimeout=1s\n" + "".join("[t%d]\nurl=%s\n" % (i, srv.url("/w/%d" % i)) for i in range(n))
        conf += "[hang]\nurl=%s\n" % srv.url("/h?hang=1")
        p = Proc(self, [WORKER, "-config", write_file(d, "o.conf", conf)])
        wait_for(lambda: all(srv.hits("/w/%d" % i) >= 1 for i in range(n)), 8, what="every target's first probe")
        time.sleep(4.0)
        reqs = [r for r in srv.requests() if r[2].startswith("/w/")]
        per_target = {}
        for r in reqs:
            per_target.setdefault(r[2], []).append(r[0])
        self.assertEqual(len(per_target), n)
        # Once a tick: no slot missed (a gap of ~2 s), none probed twice (~0 s).
        off = []
        for path, times in sorted(per_target.items()):
            times.sort()
            gaps = [b - a for a, b in zip(times, times[1:])]
            if len(times) < 4 or any(not 0.6 < g < 1.4 for g in gaps):
                off.append("%s: %s" % (path, ["%.3f" % g for g in gaps]))
        self.assertEqual(off, [], "targets not probed once a tick")
        # Wake-ups are shared (bursts on a grid), but the load is still
        # spread over the tick: neither one burst nor one instant per target.
        instants = {round((r[0] % 1.0) * 1000 / 10) for r in reqs}
        self.assertGreater(len(instants), 10, "probes of 300 targets came in %d bursts" % len(instants))
        self.assertGreaterEqual(p.count("skipped this tick"), 1)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(5), 0)

    def test_overrun_logs_the_skipped_tick_and_never_doubles_a_probe(self):
        srv = HttpServer(self)
        # timeout == tick: the probe is still running when its next tick comes.
        p = Proc(self, [WORKER, "-url=" + srv.url("/o?hang=1"), "-tick=300ms", "-log_format=json"])
        p.wait_line(r'"msg":"Probe still running at the next tick \(timeout 300ms, tick 300ms\); skipped this tick"',
                    timeout=5)
        time.sleep(1.5)
        # The first skip is a line at once; the next ones within the minute
        # are summed, not one line each.
        self.assertEqual(p.count("tick_skipped"), 1, "one line per skipped tick, not a summary")
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(5), 0)
        hits = srv.hits("/o")
        fails = p.count(r"Probe failed: Timeout")
        # Never two probes at once: at most one request per two ticks.
        self.assertLessEqual(hits, fails + 1)
        # At the stop, what was not yet reported is: every skipped slot is
        # counted, once.
        skips = [json.loads(l) for l in p.lines() if "tick_skipped" in l]
        self.assertEqual(len(skips), 2, skips)
        self.assertEqual(skips[1]["reason"], "overrun")
        self.assertRegex(skips[1]["msg"], r"^Skipped \d+ more probes? in the last minute: still running at the next tick$")
        skipped = sum(int(s["skipped"]) for s in skips)
        self.assertGreaterEqual(skipped, 3)
        # Each slot is either probed or skipped: with a probe every other
        # slot, skips and probes are within one of each other.
        self.assertLessEqual(abs(skipped - hits), 2, "skipped %d, probed %d" % (skipped, hits))


if __name__ == "__main__":
    unittest.main(verbosity=2)
