#!/usr/bin/env python3
"""The alert tests' support works: the webhook receiver records requests and
answers as scripted (status sequences, hangs), and real Alertmanagers, alone
or as a gossiping HA pair on 127.0.0.1, accept, list, group and resolve
alerts the way the alert tests will assume."""
import http.client
import json
import os
import socket
import sys
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT", os.path.join(HERE, "..", "support")))

from alertmanager import Alertmanager, ha_pair, parse_rfc3339, rfc3339  # noqa: E402
from harness import inet_sockets, pid_alive, wait_for  # noqa: E402
from webhook_receiver import WebhookReceiver  # noqa: E402


def post(url, body, timeout=5, headers=None):
    """POSTs JSON; returns the status code (errors included)."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def down_alert(target, instance="observer-a", ends=None):
    """An alert as observer will send it."""
    a = {"labels": {"alertname": "ObserverTargetDown", "target": target, "url": "http://127.0.0.1:9/" + target,
                    "instance": instance},
         "startsAt": rfc3339(time.time() - 5)}
    if ends is not None:
        a["endsAt"] = rfc3339(ends)
    return a


class Receiver(unittest.TestCase):
    def test_records_a_json_post(self):
        rx = WebhookReceiver(self)
        before = time.time()
        self.assertEqual(post(rx.url("/hook?x=1"), {"target": "a", "state": "DOWN"}, headers={"X-Token": "s3"}), 200)
        r, = rx.wait_for_requests(1, 5)
        self.assertEqual((r["method"], r["path"], r["answer"]), ("POST", "/hook?x=1", 200))
        self.assertTrue(r["is_json"])
        self.assertEqual(r["body"], {"target": "a", "state": "DOWN"})
        self.assertEqual(json.loads(r["text"]), r["body"])
        self.assertEqual(r["headers"]["x-token"], "s3")
        self.assertEqual(r["headers"]["content-type"], "application/json")
        self.assertIn(["X-Token", "s3"], r["raw_headers"])
        self.assertTrue(before <= r["time"] <= time.time())
        self.assertEqual(rx.requests("/hook"), [r])
        self.assertEqual(rx.requests("/other"), [])

    def test_records_text_and_chunked_bodies(self):
        rx = WebhookReceiver(self)
        c = http.client.HTTPConnection("127.0.0.1", rx.port, timeout=5)
        c.request("PUT", "/text", body=b"target a is DOWN", headers={"Content-Type": "text/plain"})
        self.assertEqual(c.getresponse().read(), b"ok\n")
        # libcurl sends a body of unknown length chunked.
        c.request("POST", "/chunked", body=iter([b'{"a":', b' 1}']), encode_chunked=True)
        self.assertEqual(c.getresponse().status, 200)
        c.close()
        text, chunked = rx.wait_for_requests(2, 5)
        self.assertEqual((text["method"], text["is_json"], text["body"]), ("PUT", False, "target a is DOWN"))
        self.assertEqual((chunked["headers"]["transfer-encoding"], chunked["body"]), ("chunked", {"a": 1}))
        self.assertEqual(text["client_port"], chunked["client_port"], "one kept-alive connection")

    def test_status_sequence_then_the_last_forever(self):
        rx = WebhookReceiver(self)
        rx.set_behaviour("/seq", statuses=[500, 200])
        self.assertEqual([post(rx.url("/seq"), {"n": i}) for i in range(3)], [500, 200, 200])
        self.assertEqual(post(rx.url("/elsewhere"), {}), 200)
        self.assertEqual([r["answer"] for r in rx.requests("/seq")], [500, 200, 200])
        self.assertEqual([r["body"]["n"] for r in rx.requests("/seq")], [0, 1, 2])
        # Setting it again starts the sequence again; the global one applies
        # to paths without their own.
        rx.set_behaviour("/seq", statuses=[503])
        rx.set_behaviour(statuses=[404, 201])
        self.assertEqual([post(rx.url("/seq"), {}), post(rx.url("/a"), {}), post(rx.url("/b"), {})], [503, 404, 201])
        rx2 = WebhookReceiver(self, statuses=[502, 200])
        self.assertEqual([post(rx2.url("/x"), {}), post(rx2.url("/y"), {})], [502, 200])

    def test_delay(self):
        rx = WebhookReceiver(self, delay=0.6)
        t0 = time.monotonic()
        self.assertEqual(post(rx.url("/slow"), {}), 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.6)

    def test_hang_holds_the_connection_and_cleanup_ends_it(self):
        rx = WebhookReceiver(self)
        rx.set_behaviour("/stuck", hang=True)
        t0 = time.monotonic()
        with self.assertRaises((socket.timeout, urllib.error.URLError)):
            post(rx.url("/stuck"), {"a": 1}, timeout=1)
        waited = time.monotonic() - t0
        self.assertTrue(0.9 <= waited < 3, waited)
        r, = rx.wait_for_requests(1, 5, path="/stuck")
        self.assertEqual((r["answer"], r["body"]), ("hang", {"a": 1}))
        # A hanging connection, still open, does not stop others being answered ...
        held = socket.create_connection(("127.0.0.1", rx.port), timeout=5)
        held.sendall(b"POST /stuck HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        rx.wait_for_requests(2, 5, path="/stuck")
        self.assertEqual(post(rx.url("/fine"), {}), 200)
        # ... nor ending the receiver by PID (SIGTERM suffices); the held
        # connection then ends without an answer.
        pid = rx.proc.pid
        t0 = time.monotonic()
        rx.stop()
        self.assertFalse(pid_alive(pid))
        self.assertLess(time.monotonic() - t0, 3)
        held.settimeout(5)
        self.assertEqual(held.recv(100), b"")
        held.close()
        # A step of a sequence may hang too.
        rx = WebhookReceiver(self, statuses=["hang", 200])
        with self.assertRaises((socket.timeout, urllib.error.URLError)):
            post(rx.url("/h"), {}, timeout=1)
        self.assertEqual(post(rx.url("/h"), {}), 200)


class AlertmanagerAlone(unittest.TestCase):
    def test_accepts_groups_and_resolves(self):
        rx = WebhookReceiver(self)
        am = Alertmanager(self, webhook_url=rx.url("/am"))
        self.assertEqual(am.status()["cluster"]["status"], "disabled")
        self.assertEqual(am.status()["versionInfo"]["version"][:4], "0.25", "the facts below are 0.25's")
        a = down_alert("web")
        posted = time.time()
        am.post_alerts([a])
        got, = am.alerts()
        self.assertEqual(got["labels"], a["labels"])
        self.assertEqual(got["status"]["state"], "active")
        self.assertAlmostEqual(parse_rfc3339(got["startsAt"]), parse_rfc3339(a["startsAt"]), delta=0.0005)
        # No endsAt: Alertmanager makes it arrival + resolve_timeout (5m).
        self.assertAlmostEqual(parse_rfc3339(got["endsAt"]) - posted, 300, delta=5)
        self.assertEqual(am.alerts(active=True), [got])
        # The same target DOWN from a second observer instance: one group
        # (grouped by alertname and target), one notification for both.
        am.post_alerts([down_alert("web", instance="observer-b")])
        wait_for(lambda: [len(g["alerts"]) for g in am.groups()] == [2], 10, what="both alerts in one group")
        group, = am.groups()
        self.assertEqual(group["labels"], {"alertname": "ObserverTargetDown", "target": "web"})
        self.assertEqual(sorted(x["labels"]["instance"] for x in group["alerts"]), ["observer-a", "observer-b"])
        self.assertEqual(group["receiver"]["name"], "default")
        # startsAt was older than group_wait, so the group was notified at
        # once with the first alert, and again after group_interval with both.
        first = rx.wait_for_requests(1, 15, path="/am")[0]["body"]
        self.assertEqual((first["status"], first["groupLabels"], first["externalURL"]),
                         ("firing", {"alertname": "ObserverTargetDown", "target": "web"}, am.url()))
        wait_for(lambda: any(len(r["body"]["alerts"]) == 2 for r in rx.requests("/am")), 15,
                 what="a notification of both alerts")
        n = len(rx.requests("/am"))

        # Resolving: the same labels with endsAt in the past. 0.25 drops a
        # resolved alert from every listing at once, whatever the filters.
        resolved = dict(a, endsAt=rfc3339(time.time() - 1))
        am.post_alerts([resolved, dict(down_alert("web", instance="observer-b"), endsAt=resolved["endsAt"])])
        wait_for(lambda: am.alerts() == [] and am.groups() == [], 10, what="the resolved alerts to go")
        self.assertEqual(am.alerts(), [])
        self.assertEqual(am.alerts(active=False), [])
        self.assertEqual(am.alerts(active=True), [])
        self.assertEqual(am.groups(), [])
        self.assertEqual(am.received("resolved"), 2)
        self.assertEqual(am.received("firing"), 2)
        last = rx.wait_for_requests(n + 1, 15, path="/am")[-1]["body"]
        self.assertEqual(last["status"], "resolved")
        self.assertEqual({x["status"] for x in last["alerts"]}, {"resolved"})
        # (Go's notification JSON drops trailing zeros of the fraction.)
        self.assertAlmostEqual(parse_rfc3339(last["alerts"][0]["endsAt"]), parse_rfc3339(resolved["endsAt"]),
                               delta=0.0005)
        only_loopback(self, am)


class AlertmanagerPair(unittest.TestCase):
    def test_ha_pair_gossips_over_loopback(self):
        rx = WebhookReceiver(self)
        a, b = ha_pair(self, webhook_url=rx.url("/am"))
        for am in (a, b):
            cluster = am.status()["cluster"]
            self.assertEqual(sorted(p["address"] for p in cluster["peers"]),
                             sorted("127.0.0.1:%d" % m.cluster_port for m in (a, b)))
        # Gossip: a silence made on one is soon on the other.
        sid = a.post_silence({"target": "nothing-here"})
        wait_for(lambda: sid in [s["id"] for s in b.silences()], 10, what="the silence to reach the second member")

        # Alerts are not gossiped: one posted to the first stays there.
        alert = down_alert("web")
        a.post_alerts([alert])
        self.assertEqual([x["labels"] for x in a.alerts()], [alert["labels"]])
        time.sleep(1.5)  # more than a push/pull interval
        self.assertEqual(b.alerts(), [], "0.25 gossips no alerts; a sender must post to every member")
        # Posted to both (as observer does), it is in one group on each, and
        # the pair notifies once: the notification log is gossiped.
        b.post_alerts([alert])
        for am in (a, b):
            # The dispatcher groups an alert a moment after it is posted.
            wait_for(lambda: am.groups(), 10, what="the alert's group")
            group, = am.groups()
            self.assertEqual(group["labels"], {"alertname": "ObserverTargetDown", "target": "web"})
            self.assertEqual([x["labels"] for x in group["alerts"]], [alert["labels"]])
        rx.wait_for_requests(1, 15, path="/am")
        time.sleep(2 + 2)  # the second member's wait (peer_timeout 2s) and a margin
        notes = rx.requests("/am")
        self.assertEqual(len(notes), 1, [n["body"]["status"] for n in notes])
        for am in (a, b):
            only_loopback(self, am)


def only_loopback(test, am):
    """Every TCP/UDP socket of the Alertmanager is on 127.0.0.1 at both ends."""
    socks = inet_sockets(am.proc.pid)
    test.assertTrue(socks)
    for proto, local, remote, _ in socks:
        test.assertEqual(local[0], "127.0.0.1", (proto, local, remote))
        test.assertIn(remote[0], ("127.0.0.1", "0.0.0.0"), (proto, local, remote))


if __name__ == "__main__":
    unittest.main(verbosity=2)
