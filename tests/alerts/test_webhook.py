#!/usr/bin/env python3
"""Webhook alerts, end to end: a real supervisor and worker, a real target
and a real webhook receiver on 127.0.0.1 (tests/support). Exactly one DOWN
and one UP per outage, none repeated by 20 reloads nor by a stop/start, a
failing receiver retried until it takes the alert, a hung one never in the
probes' way, and a state file that cannot be trusted treated as none."""
import os
import re
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "metrics"))

import metrics_support as ms  # noqa: E402
from harness import SUPERVISOR, WORKER, HttpServer, Proc, closed_port, pid_alive, tempdir, wait_for, write_file  # noqa: E402
from webhook_receiver import WebhookReceiver  # noqa: E402


def delivered(rx, path="/hook"):
    """The requests the receiver answered with a 2xx (an alert it took)."""
    return [r for r in rx.requests(path) if isinstance(r["answer"], int) and 200 <= r["answer"] < 300]


def states(reqs):
    return [r["body"]["state"] for r in reqs]


class Setup:
    """A target (/t on an HttpServer), a receiver and a config file."""

    def __init__(self, test, extra="", tick="200ms", state_file=True):
        self.test = test
        self.srv = HttpServer(test)
        self.rx = WebhookReceiver(test)
        self.dir = tempdir(test)
        self.port = closed_port()
        self.state = os.path.join(self.dir, "state") if state_file else ""
        self.conf = write_file(self.dir, "observer.conf", (
            "tick=%s\nstatus=200\nlisten=127.0.0.1:%d\nstate_file=%s\nwebhook_url=%s\n%s\n"
            "[shop]\nurl=%s\n") % (tick, self.port, self.state, self.rx.url("/hook"), extra, self.srv.url("/t")))

    def start(self, binary=SUPERVISOR):
        p = Proc(self.test, [binary, "-config", self.conf])
        if binary == SUPERVISOR:
            p.wait_line(r"is ready\.", timeout=15)
        return p

    def down(self):
        self.srv.set("/t", status=503)

    def up(self):
        self.srv.set("/t")

    def metric(self, **labels):
        return ms.value(ms.scrape(self.port), "observer_alerts_total", **labels)


def stop(test, p):
    p.signal(signal.SIGTERM)
    test.assertEqual(p.wait_exit(15), 0)


def reload_and_wait(test, p, n):
    p.signal(signal.SIGHUP)
    wait_for(lambda: p.count(r"Reloaded: worker") >= n, 20, what="reload %d" % n)
    wait_for(lambda: p.count(r"\) retired: ") >= n, 20, what="the old worker of reload %d to retire" % n)


class Webhook(unittest.TestCase):
    def test_one_down_and_one_up_with_the_documented_body(self):
        s = Setup(self)
        p = s.start()
        time.sleep(0.6)
        self.assertEqual(s.rx.requests(), [], "a healthy start alerts nothing")
        s.down()
        (down,) = s.rx.wait_for_requests(1, 10, path="/hook")
        self.assertEqual(down["method"], "POST")
        self.assertEqual(down["headers"]["content-type"], "application/json")
        self.assertTrue(down["headers"]["user-agent"].startswith("observer/"))
        body = down["body"]
        self.assertEqual(body["target"], "shop")
        self.assertEqual(body["url"], s.srv.url("/t"))
        self.assertEqual(body["state"], "DOWN")
        self.assertIn("503", body["reason"])
        self.assertRegex(body["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertIs(body["repeat"], False)
        time.sleep(1.5)  # probes go on failing: still one alert
        self.assertEqual(len(s.rx.requests()), 1)
        s.up()
        reqs = s.rx.wait_for_requests(2, 10, path="/hook")
        self.assertEqual(states(reqs), ["DOWN", "UP"])
        self.assertRegex(reqs[1]["body"]["down_for"], r"^\d+s$")
        time.sleep(1)
        self.assertEqual(len(s.rx.requests()), 2)
        self.assertEqual(s.metric(channel="webhook", result="sent"), 2)
        self.assertEqual(s.metric(channel="webhook", result="failed"), 0)
        stop(self, p)

    def test_twenty_reloads_while_down_alert_nothing_more(self):
        s = Setup(self)
        p = s.start()
        s.down()
        s.rx.wait_for_requests(1, 10, path="/hook")
        for n in range(1, 21):
            reload_and_wait(self, p, n)
        time.sleep(1)
        self.assertEqual(states(s.rx.requests()), ["DOWN"], "a reload alerted again")
        s.up()  # the worker of the 20th reload still knows it was announced
        wait_for(lambda: len(s.rx.requests()) >= 2, 10, what="the UP")
        time.sleep(0.5)
        self.assertEqual(states(s.rx.requests()), ["DOWN", "UP"])
        stop(self, p)

    def test_an_alert_in_flight_at_a_reload_is_delivered_once(self):
        s = Setup(self)
        # The POST is still in flight when the reload comes, and for longer
        # than a worker once waited for it (3 s) before cancelling it.
        s.rx.set_behaviour("/hook", delay=4)
        p = s.start()
        s.down()
        wait_for(lambda: len(s.rx.requests()) >= 1, 10, what="the DOWN to arrive")
        reload_and_wait(self, p, 1)
        time.sleep(5)
        self.assertEqual(states(s.rx.requests()), ["DOWN"])
        self.assertEqual(p.count(r"cancelled"), 0)
        stop(self, p)

    def test_a_worker_killed_during_a_reload_does_not_make_an_outage_news_again(self):
        s = Setup(self)
        p = s.start()
        s.down()
        s.rx.wait_for_requests(1, 10, path="/hook")
        time.sleep(2)  # the state is written within a second of the change
        (old,) = [int(x) for x in os.popen("pgrep -P %d" % p.pid).read().split()]
        p.signal(signal.SIGHUP)
        p.wait_line(r"Started worker \(pid \d+\)", timeout=10, start=len(p.lines()))
        os.kill(old, signal.SIGKILL)  # before it hands anything over
        wait_for(lambda: not pid_alive(old), 10, what="the old worker to die")
        p.wait_line(r"Targets the previous worker did not hand over restored from .*: 1 of 1 targets, 1 DOWN", 15)
        time.sleep(1.5)
        self.assertEqual(states(s.rx.requests()), ["DOWN"], "the new worker alerted the outage again")
        s.up()
        wait_for(lambda: len(s.rx.requests()) >= 2, 10, what="the UP")
        self.assertEqual(states(s.rx.requests()), ["DOWN", "UP"])
        stop(self, p)

    def test_a_failing_receiver_gets_the_alert_once_it_recovers_even_across_reloads(self):
        s = Setup(self)
        s.rx.set_behaviour("/hook", statuses=[500, 500, 503, 200])
        p = s.start()
        s.down()
        wait_for(lambda: len(s.rx.requests()) >= 1, 10, what="a first attempt")
        reload_and_wait(self, p, 1)  # the retries go on in the new worker
        wait_for(lambda: len(delivered(s.rx)) >= 1, 20, what="the DOWN to be delivered")
        time.sleep(2)
        self.assertEqual([r["answer"] for r in s.rx.requests()], [500, 500, 503, 200])
        self.assertEqual(states(s.rx.requests()), ["DOWN"] * 4)
        self.assertEqual(s.metric(channel="webhook", result="sent"), 1)
        self.assertEqual(p.count(r"Webhook alert DOWN to http://127\.0\.0\.1:\d+/\*\*\*\* failed: HTTP 50[03]"), 3)
        stop(self, p)

    def test_a_receiver_that_never_answers_does_not_delay_probes(self):
        s = Setup(self, tick="100ms")
        s.rx.set_behaviour("/hook", hang=True)
        healthy = s.srv.url("/healthy")
        with open(s.conf, "a") as f:
            f.write("[healthy]\nurl=%s\nwebhook_url=\n" % healthy)
        p = s.start()
        s.down()
        wait_for(lambda: len(s.rx.requests()) >= 1, 10, what="the hung POST")
        h0, t0 = s.srv.hits("/healthy"), time.time()
        time.sleep(4)
        h1, t1 = s.srv.hits("/healthy"), time.time()
        expected = (t1 - t0) / 0.1
        self.assertGreaterEqual(h1 - h0, expected - 3, "the healthy target lost probes to the hung receiver")
        self.assertEqual(p.count(r"[Ss]kipped"), 0)
        # curl's timeout ends the hung POST: logged with its reason, retried.
        p.wait_line(r"Webhook alert DOWN to .* failed: .*[Tt]ime", timeout=15)
        self.assertGreaterEqual(s.metric(channel="webhook", result="failed"), 1)
        stop(self, p)

    def test_a_stop_and_start_while_down_alert_nothing_more(self):
        s = Setup(self)
        p = s.start()
        s.down()
        s.rx.wait_for_requests(1, 10, path="/hook")
        stop(self, p)
        self.assertTrue(os.path.exists(s.state))
        p = s.start()
        p.wait_line(r"State restored from .*: 1 of 1 targets, 1 DOWN", timeout=5)
        time.sleep(1.5)
        self.assertEqual(states(s.rx.requests()), ["DOWN"], "a restart alerted again")
        # ...and a restart does not forget the outage either: its UP comes.
        s.up()
        wait_for(lambda: len(s.rx.requests()) >= 2, 10, what="the UP after the restart")
        self.assertEqual(states(s.rx.requests()), ["DOWN", "UP"])
        stop(self, p)

    def test_a_crash_after_the_alert_does_not_alert_again(self):
        s = Setup(self)
        p = s.start()
        s.down()
        s.rx.wait_for_requests(1, 10, path="/hook")
        time.sleep(2)  # the state is written within a second of the change
        workers = [int(x) for x in os.popen("pgrep -P %d" % p.pid).read().split()]
        p.signal(signal.SIGKILL)  # the supervisor; its worker dies with it (PDEATHSIG)
        p.wait_exit(10)
        wait_for(lambda: not any(pid_alive(w) for w in workers), 10, what="the worker to die")
        p = s.start()
        time.sleep(1.5)
        self.assertEqual(states(s.rx.requests()), ["DOWN"])
        stop(self, p)

    def test_a_superseded_reload_candidate_leaves_the_state_file_alone(self):
        # A hung target keeps the retiring worker's hand-over open (its probe
        # is in flight), so the next reload's candidate waits, and the one
        # after supersedes it: a worker that never got the state. It used to
        # write the file at its exit (every target unknown, nothing
        # alerted), so a crash then alerted every DOWN target again.
        s = Setup(self, tick="4500ms", extra="timeout=4400ms\n")
        with open(s.conf, "a") as f:
            f.write("tick=200ms\ntimeout=150ms\n[hung]\nurl=%s\nwebhook_url=\n" % s.srv.url("/hung"))
        s.srv.set("/hung", hang=1)
        p = s.start()
        s.down()
        s.rx.wait_for_requests(1, 10, path="/hook")
        time.sleep(2)  # the state is written within a second of the change
        superseded = r"\(superseded\) exited with status 0"
        for attempt in range(6):  # the hung probe must be in flight at the first SIGHUP
            reloads = p.count(r"Reloaded: worker")
            p.signal(signal.SIGHUP)
            wait_for(lambda: p.count(r"Reloaded: worker") > reloads, 10, what="the reload")
            p.signal(signal.SIGHUP)
            time.sleep(0.7)  # ready, waiting for the hand-over still under way
            p.signal(signal.SIGHUP)
            deadline = time.time() + 6
            while time.time() < deadline and p.count(superseded) == 0:
                time.sleep(0.05)
            if p.count(superseded):
                break
        self.assertGreaterEqual(p.count(superseded), 1, "no reload candidate was superseded")
        workers = [int(x) for x in os.popen("pgrep -P %d" % p.pid).read().split()]
        p.signal(signal.SIGKILL)  # before the current worker writes the file again
        p.wait_exit(10)
        wait_for(lambda: all(not os.path.exists("/proc/%d" % w) for w in workers), 10, what="the workers to die")
        p = s.start()
        p.wait_line(r"State restored from .*: 2 of 2 targets, [12] DOWN", timeout=5)
        time.sleep(1.5)
        self.assertEqual(states(s.rx.requests()), ["DOWN"], "the restart alerted again")
        stop(self, p)

    def test_a_truncated_or_garbage_state_file_is_a_warning_and_a_fresh_start(self):
        s = Setup(self)
        p = s.start()
        s.down()
        s.rx.wait_for_requests(1, 10, path="/hook")
        stop(self, p)
        whole = open(s.state, "rb").read()
        for n, content in enumerate([whole[:len(whole) // 2], b"\x00garbage\xff" * 50, b"[shop]\nurl=x\n"], 1):
            with open(s.state, "wb") as f:
                f.write(content)
            p = s.start()
            p.wait_line(r"state_file .*: .*; starting afresh", timeout=5)
            # Fresh: the target's DOWN is news again, and alerted once.
            wait_for(lambda: len(s.rx.requests()) >= 1 + n, 10, what="the fresh start's DOWN")
            time.sleep(0.5)
            self.assertEqual(len(s.rx.requests()), 1 + n)
            stop(self, p)
            self.assertEqual(p.count(r"State restored"), 0)

    def test_a_template_and_headers(self):
        s = Setup(self, extra=(
            "webhook_header.Content-Type=text/plain\nwebhook_header.Title=observer: {{target}} {{state}}\n"
            "webhook_method=PUT\nwebhook_body={{target}} is {{state}} ({{url}}): {{reason}}\n"
            "alert_on_recovery=false\n"))
        p = s.start()
        s.down()
        (r,) = s.rx.wait_for_requests(1, 10, path="/hook")
        self.assertEqual(r["method"], "PUT")
        self.assertEqual(r["headers"]["title"], "observer: shop DOWN")
        self.assertFalse(r["is_json"])
        self.assertRegex(r["text"], r"^shop is DOWN \(%s\): .*503" % re.escape(s.srv.url("/t")))
        s.up()
        time.sleep(1.5)
        self.assertEqual(len(s.rx.requests()), 1, "alert_on_recovery=false sent an UP")
        stop(self, p)

    def test_alert_repeat_resends_while_down(self):
        s = Setup(self, extra="alert_repeat=1s\n")
        p = s.start()
        s.down()
        reqs = s.rx.wait_for_requests(3, 10, path="/hook")
        self.assertEqual([r["body"]["repeat"] for r in reqs[:3]], [False, True, True])
        stop(self, p)


if __name__ == "__main__":
    unittest.main(verbosity=2)
