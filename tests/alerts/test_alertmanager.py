#!/usr/bin/env python3
"""Alerts to Prometheus Alertmanager, end to end: Debian's real
prometheus-alertmanager on 127.0.0.1 (tests/support/alertmanager.py), a
real supervisor and worker, a real target. DOWN is an active
ObserverTargetDown alert, UP resolves it; two observers and an HA pair of
Alertmanagers make one alert group and one notification; a failing
Alertmanager is retried; reloads send nothing early."""
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "metrics"))

import alertmanager as amsupport  # noqa: E402
import metrics_support as ms  # noqa: E402
from harness import SUPERVISOR, HttpServer, Proc, closed_port, tempdir, wait_for, write_file  # noqa: E402
from webhook_receiver import WebhookReceiver  # noqa: E402


def start_observer(test, srv, am_urls, extra=""):
    port = closed_port()
    conf = write_file(tempdir(test), "observer.conf", (
        "tick=200ms\nstatus=200\nstate_file=\nlisten=127.0.0.1:%d\nalertmanager_url=%s\nalert_label.team=web\n%s\n"
        "[shop]\nurl=%s\n") % (port, ",".join(am_urls), extra, srv.url("/t")))
    p = Proc(test, [SUPERVISOR, "-config", conf])
    p.wait_line(r"is ready\.", timeout=15)
    return p, port


def ours(am):
    return [a for a in am.alerts() if a["labels"].get("alertname") == "ObserverTargetDown"]


def stop(test, p):
    p.signal(signal.SIGTERM)
    test.assertEqual(p.wait_exit(15), 0)


class Alertmanager(unittest.TestCase):
    def test_down_is_an_active_alert_and_up_resolves_it(self):
        srv = HttpServer(self)
        am = amsupport.Alertmanager(self)
        p, port = start_observer(self, srv, [am.url()])
        time.sleep(0.6)
        self.assertEqual(ours(am), [], "a healthy start alerts nothing")
        srv.set("/t", status=503)
        t_down = time.time()
        wait_for(lambda: ours(am), 10, what="the alert in Alertmanager")
        (a,) = ours(am)
        self.assertEqual(a["status"]["state"], "active")
        self.assertEqual(a["labels"], {"alertname": "ObserverTargetDown", "target": "shop", "url": srv.url("/t"),
                                       "instance": "127.0.0.1:%d" % srv.port, "team": "web"})
        self.assertIn("503", a["annotations"]["description"])
        self.assertEqual(a["annotations"]["summary"], "shop is DOWN")
        starts = amsupport.parse_rfc3339(a["startsAt"])
        self.assertLess(abs(starts - t_down), 2.0)
        # Valid for 4 minutes, refreshed every minute while DOWN.
        self.assertGreater(amsupport.parse_rfc3339(a["endsAt"]) - starts, 200)
        srv.set("/t")
        wait_for(lambda: not ours(am), 10, what="the alert to be resolved")
        self.assertGreaterEqual(am.received("resolved"), 1)
        text = ms.scrape(port)
        self.assertEqual(ms.value(text, "observer_alerts_total", channel="alertmanager", result="sent"), 2)
        self.assertEqual(ms.value(text, "observer_alerts_total", channel="alertmanager", result="failed"), 0)
        stop(self, p)

    def test_two_observers_and_an_ha_pair_give_one_group_and_one_notification(self):
        srv = HttpServer(self)
        rx = WebhookReceiver(self)
        a, b = amsupport.ha_pair(self, webhook_url=rx.url("/notify"))
        p1, _ = start_observer(self, srv, [a.url(), b.url()])
        p2, _ = start_observer(self, srv, [a.url(), b.url()])
        srv.set("/t", status=503)
        for am in (a, b):
            wait_for(lambda: ours(am), 10, what="the alert in both Alertmanagers")
        time.sleep(3)  # both observers have posted to both; every group_interval has passed
        for am in (a, b):
            self.assertEqual(len(ours(am)), 1, "the two observers' alerts are one alert")
            groups = [g for g in am.groups() if g["labels"].get("alertname") == "ObserverTargetDown"]
            self.assertEqual(len(groups), 1)
            self.assertEqual(len(groups[0]["alerts"]), 1)
        firing = [r for r in rx.requests("/notify") if r["body"]["status"] == "firing"]
        self.assertEqual(len(firing), 1, "the pair notified more than once")
        self.assertEqual(firing[0]["body"]["alerts"][0]["labels"]["target"], "shop")
        stop(self, p1)
        stop(self, p2)

    def test_a_failing_alertmanager_is_retried_and_reloads_send_nothing_early(self):
        srv = HttpServer(self)
        rx = WebhookReceiver(self)  # stands in for an Alertmanager that fails twice
        rx.set_behaviour("/am/api/v2/alerts", statuses=[500, 503, 200])
        p, port = start_observer(self, srv, [rx.url("/am")])
        srv.set("/t", status=503)
        reqs = rx.wait_for_requests(3, 15, path="/am/api/v2/alerts")
        self.assertEqual([r["answer"] for r in reqs], [500, 503, 200])
        for r in reqs:
            (alert,) = r["body"]
            self.assertEqual(alert["labels"]["target"], "shop")
            self.assertEqual(alert["startsAt"], reqs[0]["body"][0]["startsAt"])
        p.wait_line(r"Alertmanager http://127\.0\.0\.1:\d+/am/api/v2/alerts did not take 1 alert: HTTP 500", 5)
        text = ms.scrape(port)
        self.assertEqual(ms.value(text, "observer_alerts_total", channel="alertmanager", result="failed"), 2)
        self.assertEqual(ms.value(text, "observer_alerts_total", channel="alertmanager", result="sent"), 1)
        # Delivered: the next is due a minute later, whichever worker runs.
        for n in range(1, 6):
            p.signal(signal.SIGHUP)
            wait_for(lambda: p.count(r"\) retired: ") >= n, 20, what="reload %d" % n)
        time.sleep(1)
        self.assertEqual(len(rx.requests("/am/api/v2/alerts")), 3, "a reload re-sent the alert early")
        srv.set("/t")
        reqs = rx.wait_for_requests(4, 10, path="/am/api/v2/alerts")
        (resolved,) = reqs[3]["body"]
        self.assertEqual(resolved["startsAt"], reqs[0]["body"][0]["startsAt"])
        self.assertGreater(resolved["endsAt"], resolved["startsAt"])
        stop(self, p)


if __name__ == "__main__":
    unittest.main(verbosity=2)
