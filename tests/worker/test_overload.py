#!/usr/bin/env python3
"""max_in_flight: at most that many probes at once, every slot past it
skipped (never queued) and counted, the first skip of a target logged at
once and the rest summed; the pooled easy handles carry nothing from one
target's probe to the next; -check-config shows the bound and its origin."""
import json
import os
import resource
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT", os.path.join(HERE, "..", "support")))

from harness import WORKER, HttpServer, Proc, clean_env, tempdir, wait_for, write_file  # noqa: E402
import subprocess  # noqa: E402

DELAY_MS = 700


class Overload(unittest.TestCase):
    def test_slots_past_max_in_flight_are_skipped_and_counted(self):
        srv = HttpServer(self)
        names = ["t%d" % i for i in range(5)]
        conf = ("tick=1s\ntimeout=900ms\nstatus=200\n" +
                "".join("[%s]\nurl=%s\n" % (n, srv.url("/%s?delay_ms=%d" % (n, DELAY_MS))) for n in names))
        path = write_file(tempdir(self), "observer.conf", conf)
        p = Proc(self, [WORKER, "-config", path, "-max_in_flight=2", "-log_format=json"])
        p.wait_line(r'"msg":"Probe skipped: 2 probes in flight \(max_in_flight\)"', timeout=5)
        time.sleep(3.5)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(10), 0)
        reqs = [r for r in srv.requests() if r[2].split("?")[0].lstrip("/") in names]
        # Never more than two at once: each probe holds its slot for the
        # server's whole delay, so no three requests arrive within it.
        times = sorted(r[0] for r in reqs)
        for i in range(2, len(times)):
            self.assertGreater(times[i] - times[i - 2], (DELAY_MS - 100) / 1000.0,
                               "three probes in flight at once: %r" % times[i - 2:i + 1])
        records = [json.loads(l) for l in p.lines()]
        skips = [r for r in records if r.get("event") == "tick_skipped"]
        self.assertTrue(all(r["reason"] == "max_in_flight" for r in skips), skips)
        # Once a minute at most per target: one line at the first skip, one
        # summary at the stop with the rest.
        for n in names:
            lines = [r for r in skips if r["target"] == n]
            self.assertLessEqual(len(lines), 2, lines)
            if len(lines) == 2:
                self.assertRegex(lines[1]["msg"], r"^Skipped \d+ more probes? in the last minute: "
                                                  r"2 probes in flight \(max_in_flight\)$")
        # Every slot is either probed or skipped: each target saw as many
        # slots as the others (within the one at each edge of the run).
        totals = {}
        for n in names:
            probed = sum(1 for r in reqs if r[2].split("?")[0] == "/" + n)
            skipped = sum(int(r["skipped"]) for r in skips if r["target"] == n)
            totals[n] = probed + skipped
        self.assertGreater(sum(int(r["skipped"]) for r in skips), 0)
        self.assertLessEqual(max(totals.values()) - min(totals.values()), 2, totals)
        self.assertGreaterEqual(min(totals.values()), 3, totals)
        # A skipped slot is no failure: nothing timed out.
        self.assertEqual([r for r in records if r.get("check") == "transport"], [])

    def test_a_burst_past_max_in_flight_waits_for_room_instead_of_being_skipped(self):
        srv = HttpServer(self)
        # 120 targets on one tick share wake-ups of about 20 (engine.cc):
        # every wake-up is a burst of about 20 probes for 4 places.
        names = ["b%03d" % i for i in range(120)]
        conf = "tick=1s\nstatus=200\n" + "".join("[%s]\nurl=%s\n" % (n, srv.url("/" + n)) for n in names)
        path = write_file(tempdir(self), "observer.conf", conf)
        p = Proc(self, [WORKER, "-config", path, "-max_in_flight=4", "-log_format=json"])
        wait_for(lambda: srv.hits() >= 3 * len(names), 15, what="three rounds of probes")
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(10), 0)
        skips = [json.loads(l) for l in p.lines() if "tick_skipped" in l]
        self.assertEqual(skips, [], "slots of a burst were skipped instead of waiting for room")
        per_target = {n: srv.hits("/" + n) for n in names}
        self.assertGreaterEqual(min(per_target.values()), 2, per_target)

    def test_a_pooled_handle_carries_nothing_from_the_last_probe(self):
        srv = HttpServer(self)
        # One probe at a time: both targets' probes run on the same easy handle.
        conf = ("tick=300ms\nstatus=200\n"
                "[head]\nurl=%s\nmethod=HEAD\nuser_agent=ua-head\nrequest_header.X-Only-Head=1\n"
                "[get]\nurl=%s\n") % (srv.url("/head"), srv.url("/get?echo_header=X-Only-Head"))
        conf += "body_contains=-\n"
        path = write_file(tempdir(self), "observer.conf", conf)
        p = Proc(self, [WORKER, "-config", path, "-max_in_flight=1"])
        wait_for(lambda: srv.hits("/get") >= 5 and srv.hits("/head") >= 5, 10, what="both targets probed")
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(10), 0)
        for _, method, path_q, ua in srv.requests():
            if path_q.startswith("/get"):
                self.assertEqual((method, ua.startswith("observer/")), ("GET", True), (method, ua))
            elif path_q.startswith("/head"):
                self.assertEqual((method, ua), ("HEAD", "ua-head"))
        # The GET target's body is the echo of X-Only-Head: "-" when it was
        # not sent, which body_contains=- checks on every probe.
        self.assertEqual([l for l in p.lines() if "[get]" in l and "skipped" not in l.lower()], [])


class CheckConfig(unittest.TestCase):
    def run_check(self, *args, nofile=None):
        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        return subprocess.run([WORKER, "-check-config", "-url=http://127.0.0.1:1/"] + list(args),
                              capture_output=True, text=True, env=clean_env(), preexec_fn=limit, timeout=20)

    def test_auto_is_derived_from_the_open_file_limit_and_shown(self):
        r = self.run_check(nofile=1024)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"\n  max_in_flight +240  \(default: auto, from the open-file limit 1024\)\n")
        r = self.run_check(nofile=256)
        self.assertRegex(r.stdout, r"\n  max_in_flight +48  \(default: auto, from the open-file limit 256\)\n")

    def test_a_set_value_is_shown_with_its_origin_and_a_bad_one_refused(self):
        r = self.run_check("-max_in_flight=7")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"\n  max_in_flight +7  \(flag -max_in_flight\)\n")
        r = self.run_check("-max_in_flight=0")
        self.assertEqual(r.returncode, 78)
        self.assertIn("flag -max_in_flight", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
