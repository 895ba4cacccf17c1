#!/usr/bin/env python3
"""The JSON API of the status page, field by field against its schema; the
page's escaping and masking; /healthz at 200 while the worker probes on
schedule, and at 503 right after it was stopped with a real SIGSTOP (the
request sent while it was stopped is answered after SIGCONT with 503), back
to 200 once it probes on schedule again."""
import os
import signal
import sys
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import status_support as ss  # noqa: E402

INT = int
NUM = (int, float)


def check_type(test, where, value, types, nullable=False):
    if value is None:
        test.assertTrue(nullable, "%s is null" % where)
        return
    test.assertIsInstance(value, types, where)
    test.assertNotIsInstance(value, bool if types is not bool else (), where)


def check_target(test, t):
    """Every field of a target object: required keys, types, value ranges."""
    keys = {"name", "url", "state", "since_unix_ms", "reason", "last_probe", "recent_probes",
            "uptime_percent", "cert_days_left", "probes_total", "state_changes"}
    test.assertEqual(set(t), keys, "fields of %r" % t.get("name"))
    check_type(test, "name", t["name"], str)
    check_type(test, "url", t["url"], str)
    test.assertIn(t["state"], ("up", "down", "unknown"))
    check_type(test, "since_unix_ms", t["since_unix_ms"], INT, nullable=t["state"] == "unknown")
    if t["since_unix_ms"] is not None:
        test.assertGreater(t["since_unix_ms"], 1.5e12)
        test.assertLessEqual(t["since_unix_ms"], time.time() * 1000 + 1000)
    if t["state"] == "down":
        check_type(test, "reason", t["reason"], str)
        test.assertTrue(t["reason"])
    else:
        test.assertIsNone(t["reason"])
    last = t["last_probe"]
    if last is not None:
        test.assertEqual(set(last), {"ok", "status", "duration_ms", "ended_unix_ms", "reason"})
        check_type(test, "last_probe.ok", last["ok"], bool)
        check_type(test, "last_probe.status", last["status"], INT)
        test.assertTrue(0 <= last["status"] <= 999)
        check_type(test, "last_probe.duration_ms", last["duration_ms"], NUM)
        test.assertGreaterEqual(last["duration_ms"], 0)
        check_type(test, "last_probe.ended_unix_ms", last["ended_unix_ms"], INT, nullable=True)
        if last["ok"]:
            test.assertIsNone(last["reason"])
        else:
            check_type(test, "last_probe.reason", last["reason"], str)
    recent = t["recent_probes"]
    test.assertEqual(set(recent), {"duration_ms", "ok"})
    test.assertEqual(len(recent["duration_ms"]), len(recent["ok"]))
    test.assertLessEqual(len(recent["ok"]), 60)
    for d in recent["duration_ms"]:
        check_type(test, "recent_probes.duration_ms[]", d, INT)
        test.assertTrue(0 <= d <= 65535)
    for ok in recent["ok"]:
        check_type(test, "recent_probes.ok[]", ok, bool)
    test.assertEqual(set(t["uptime_percent"]), {"hour", "day"})
    for k in ("hour", "day"):
        v = t["uptime_percent"][k]
        check_type(test, "uptime_percent." + k, v, NUM, nullable=True)
        if v is not None:
            test.assertTrue(0 <= v <= 100, v)
    check_type(test, "cert_days_left", t["cert_days_left"], INT, nullable=True)
    test.assertEqual(set(t["probes_total"]), {"success", "failure", "skipped"})
    for k, v in t["probes_total"].items():
        check_type(test, "probes_total." + k, v, INT)
        test.assertGreaterEqual(v, 0)
    check_type(test, "state_changes", t["state_changes"], INT)
    test.assertGreaterEqual(t["state_changes"], 0)


def check_process(test, o):
    test.assertEqual(set(o), {"version", "worker_pid", "config_loaded_unix", "last_reload", "healthy",
                              "health_reason", "now_unix_ms", "shard", "targets_configured"})
    check_type(test, "version", o["version"], str)
    check_type(test, "worker_pid", o["worker_pid"], INT)
    test.assertGreater(o["worker_pid"], 1)
    check_type(test, "config_loaded_unix", o["config_loaded_unix"], INT)
    test.assertLessEqual(abs(o["config_loaded_unix"] - time.time()), 3600)
    test.assertEqual(set(o["last_reload"]), {"successful", "failed_unix"})
    check_type(test, "last_reload.successful", o["last_reload"]["successful"], bool)
    check_type(test, "last_reload.failed_unix", o["last_reload"]["failed_unix"], INT, nullable=True)
    check_type(test, "healthy", o["healthy"], bool)
    check_type(test, "health_reason", o["health_reason"], str, nullable=o["healthy"])
    check_type(test, "now_unix_ms", o["now_unix_ms"], INT)
    # Unsharded: shard 0 of 1, every target of the file shown.
    test.assertEqual(o["shard"], {"index": 0, "count": 1})
    check_type(test, "targets_configured", o["targets_configured"], INT)


class StatusApi(unittest.TestCase):
    def test_every_field_of_the_api_matches_its_schema_and_secrets_never_show(self):
        p, port, srv = ss.start_observer(self)
        ss.wait_states(port, {"up": "up", ss.DOWN_NAME: "down"})
        ss.wait_for(lambda: all(len(t["recent_probes"]["ok"]) >= 3 for t in ss.get_json(port, "/api/v1/targets")[1]["targets"]),
                    15, interval=0.1, what="three probes of each target")
        status, body = ss.get_json(port, "/api/v1/targets")
        self.assertEqual(status, 200)
        self.assertEqual(set(body), {"observer", "targets"})
        check_process(self, body["observer"])
        self.assertTrue(body["observer"]["last_reload"]["successful"])
        targets = body["targets"]
        self.assertEqual([t["name"] for t in targets], [ss.DOWN_NAME, "up"], "DOWN first")
        for t in targets:
            check_target(self, t)
        down, up = targets
        self.assertFalse(down["last_probe"]["ok"])
        self.assertEqual(down["last_probe"]["status"], 503)
        self.assertEqual(down["reason"], "Status code mismatch, got: 503")
        self.assertEqual(down["last_probe"]["reason"], "Status code mismatch, got: 503")
        self.assertFalse(any(down["recent_probes"]["ok"]))
        self.assertEqual(down["uptime_percent"], {"hour": 0, "day": 0})
        self.assertTrue(up["last_probe"]["ok"])
        self.assertTrue(all(up["recent_probes"]["ok"]))
        self.assertEqual(up["uptime_percent"], {"hour": 100, "day": 100})
        self.assertIn("user:****@", down["url"])
        # One target by its URL-encoded name: the same object.
        status, one = ss.get_json(port, "/api/v1/targets/" + urllib.parse.quote(ss.DOWN_NAME, safe=""))
        self.assertEqual(status, 200)
        check_target(self, one)
        self.assertEqual(one["name"], ss.DOWN_NAME)
        status, missing = ss.get_json(port, "/api/v1/targets/no%20such")
        self.assertEqual(status, 404)
        self.assertEqual(missing["error"], "not found")
        self.assertIn('"no such"', missing["detail"])
        # Health, the page: no secret anywhere; the page escapes the name.
        status, health = ss.get_json(port, "/healthz")
        self.assertEqual((status, health["healthy"]), (200, True))
        for path in ("/", "/api/v1/targets", "/metrics", "/healthz"):
            self.assertNotIn(ss.SECRET, ss.get(port, path)[2], path)
        status, ctype, page = ss.get(port, "/")
        self.assertEqual((status, ctype), (200, "text/html; charset=utf-8"))
        self.assertNotIn("<b>&", page)
        self.assertIn("down &lt;b&gt;&amp;&quot;&#39;", page)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(15), 0)

    def test_healthz_is_503_after_the_worker_was_sigstopped_until_it_probes_on_schedule(self):
        p, port, srv = ss.start_observer(self)
        ss.wait_for(lambda: ss.get(port, "/healthz")[0] == 200, 15, interval=0.1, what="/healthz to be 200")
        w = ss.worker_pid(self, p, port)
        self.addCleanup(lambda: ss.harness.pid_alive(w) and os.kill(w, signal.SIGCONT))
        # The request goes out while the worker is stopped: the kernel
        # queues it, and the worker answers it once it runs again.
        answer = {}

        def ask():
            try:
                answer["reply"] = ss.get(port, "/healthz", timeout=30)
            except Exception as e:  # reported by the assertion below
                answer["error"] = repr(e)

        os.kill(w, signal.SIGSTOP)
        try:
            asker = threading.Thread(target=ask, daemon=True)
            asker.start()
            # Longer than the 3 s stall limit, far below the supervisor's 10 s.
            time.sleep(4.0)
        finally:
            os.kill(w, signal.SIGCONT)
        asker.join(30)
        self.assertIn("reply", answer, answer)
        status, ctype, body = answer["reply"]
        self.assertEqual(status, 503, body)
        health = ss.json.loads(body)
        self.assertFalse(health["healthy"])
        self.assertIn("stalled", health["reason"])
        self.assertEqual(health["worker_pid"], w)
        # Probing on schedule again heals it, in the same worker.
        ss.wait_for(lambda: ss.get(port, "/healthz")[0] == 200, 15, interval=0.1, what="/healthz back to 200")
        self.assertEqual(ss.worker_pid(self, p, port), w)
        self.assertEqual(p.count(r"is stuck"), 0)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(15), 0)

    def test_healthz_stays_200_through_reloads(self):
        p, port, srv = ss.start_observer(self)
        ss.wait_for(lambda: ss.get(port, "/healthz")[0] == 200, 15, interval=0.1, what="/healthz to be 200")
        answers = []
        for n in range(1, 6):
            p.signal(signal.SIGHUP)
            # Ask all through the hand-over: the old worker answers until it
            # hands the socket over, the new one from then on.
            for _ in range(2000):
                answers.append(ss.get(port, "/healthz")[2])
                if p.count(r"Reloaded: worker") >= n and p.count(r"\) retired: ") >= n:
                    break
            answers += [ss.get(port, "/healthz")[2] for _ in range(5)]
        self.assertGreaterEqual(p.count(r"Reloaded: worker"), 5)
        bad = [a for a in answers if '"healthy":true' not in a]
        self.assertEqual(bad, [], "of %d answers through 5 reloads" % len(answers))
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(15), 0)

    def test_healthz_is_503_while_the_worker_stops(self):
        # A probe that takes 8 s keeps the stopping worker (and its socket) up.
        p, port, srv = ss.start_observer(self, extra="[slow]\nurl={url}/slow?delay_ms=8000\ntick=10s\ntimeout=9s\n")
        ss.wait_for(lambda: ss.get(port, "/healthz")[0] == 200, 15, interval=0.1, what="/healthz to be 200")
        ss.wait_for(lambda: srv.hits("/slow") >= 1, 15, interval=0.05, what="the slow probe to start")
        p.signal(signal.SIGTERM)
        p.wait_line(r"Got SIGINT/SIGTERM, exiting\.", timeout=10)
        # The worker gets its SIGTERM just after the line: ask until it has.
        seen = []
        for _ in range(100):
            status, health = ss.get_json(port, "/healthz")
            seen.append(status)
            if status == 503:
                break
            time.sleep(0.05)
        self.assertEqual(seen[-1], 503, seen)
        self.assertEqual(set(seen[:-1]) - {200}, set(), seen)
        self.assertIn("stopping", health["reason"])
        self.assertEqual(p.wait_exit(20), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
