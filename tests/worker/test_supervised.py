#!/usr/bin/env python3
"""observer-worker under a supervisor: READY on fd 3, retirement on SIGTERM
with the state hand-over, control-channel EOF and malformed messages, and the
hand-over that keeps a DOWN target DOWN across a reload."""
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT", os.path.join(HERE, "..", "support")))
sys.path.insert(0, HERE)

from harness import WORKER, HttpServer, pid_alive, schedules, tempdir, wait_for, write_file  # noqa: E402
from control_peer import (CONFIG_ERROR, CUT_OVER_READY, DOWN, READY, STATE_END, TARGET_STATE, UP,  # noqa: E402
                          ControlPeer)


def phase_s(*args):
    """The phase (s) of the lone target of a worker run with `args`, as
    -check-config prints it: its slots start at phase + k * tick since the
    epoch."""
    return schedules(args)["default"].phase_ns / 1e9


def slot_of(arrival, phase, tick_s):
    """The start (wall seconds) of the slot a probe arriving at `arrival` was
    fired for, taking arrivals to come less than three quarters of a tick
    after their slot starts (a probe may also start up to 1 ms early)."""
    return phase + ((arrival - phase + tick_s / 4) // tick_s) * tick_s


def mono_to_wall(ns):
    return ns / 1e9 + (time.time() - time.monotonic())


class Supervised(unittest.TestCase):
    def start(self, *args, srv=None):
        self.peer = ControlPeer(self)
        p = self.peer.spawn(self, [WORKER] + list(args))
        return p

    def test_ready_sent_once_loop_runs(self):
        srv = HttpServer(self)
        p = self.start("-url=" + srv.url("/r"), "-tick=200ms")
        self.peer.expect(READY, timeout=5)
        # Probing goes on while supervised.
        wait_for(lambda: srv.hits("/r") >= 2, 5, what="probes after READY")

    def test_config_error_exits_78_before_ready(self):
        p = self.start("-url=ftp://example.invalid/", "-tick=1s")
        self.assertEqual(p.wait_exit(5), 78)
        self.assertIn("observer: ", p.stderr_text())
        # The reason goes to the supervisor too (for its "Reload failed"
        # line), and nothing else: no READY.
        msg = self.peer.expect(CONFIG_ERROR, timeout=2)
        self.assertIn("flag -url", msg["text"])
        self.assertIsNone(self.peer.read_message(2), "no READY from a worker with a bad config")

    def test_bad_body_regex_is_a_config_error_naming_the_key(self):
        p = self.start("-url=http://127.0.0.1:1/", "-body_regex=(unclosed")
        self.assertEqual(p.wait_exit(5), 78)
        self.assertRegex(p.stderr_text(), r"observer: flag -body_regex: bad regular expression")

    def test_sigterm_retire_sends_state_and_state_end_then_exits_0(self):
        srv = HttpServer(self)
        url = srv.url("/s?status=500")
        p = self.start("-url=" + url, "-tick=200ms", "-status=200")
        self.peer.expect(READY)
        self.peer.send_end()
        p.wait_line(r"DOWN: Status code mismatch, got: 500", timeout=5)
        p.signal(signal.SIGTERM)
        records = self.peer.read_until_end(timeout=5)
        self.assertEqual(len(records), 1)
        r = records[0]
        self.assertEqual((r["name"], r["url"], r["health"]), ("default", url, DOWN))
        self.assertEqual(r["last_reason"], "Status code mismatch, got: 500")
        self.assertGreaterEqual(r["probes"], 1)
        self.assertGreater(r["since_unix_ms"], (time.time() - 60) * 1000)
        self.assertEqual(p.wait_exit(5), 0)
        self.assertEqual(p.stderr_text(), "")

    def test_sigterm_lets_in_flight_probe_finish(self):
        srv = HttpServer(self)
        p = self.start("-url=" + srv.url("/slow?delay_ms=700"), "-tick=2s", "-status=500")
        self.peer.expect(READY)
        self.peer.send_end()
        wait_for(lambda: srv.hits("/slow") >= 1, 5, what="the probe to start")
        p.signal(signal.SIGTERM)
        # The probe is allowed to end: its mismatch line shows up before exit.
        self.peer.read_until_end(timeout=5)
        self.assertEqual(p.wait_exit(5), 0)
        self.assertEqual(p.count(r"\d (?!DOWN)Status code mismatch, got: 200"), 1)
        self.assertEqual(p.count(r"DOWN: Status code mismatch, got: 200"), 1)

    def test_second_sigterm_aborts_in_flight_probe(self):
        srv = HttpServer(self)
        p = self.start("-url=" + srv.url("/hang?hang=1"), "-tick=3s", "-timeout=2900ms")
        self.peer.expect(READY)
        self.peer.send_end()
        wait_for(lambda: srv.hits("/hang") >= 1, 5, what="the probe to start")
        p.signal(signal.SIGTERM)
        time.sleep(0.2)
        self.assertTrue(pid_alive(p.pid), "first SIGTERM waits for the in-flight probe")
        t0 = time.monotonic()
        p.signal(signal.SIGTERM)
        self.peer.read_until_end(timeout=3)
        self.assertEqual(p.wait_exit(3), 0)
        self.assertLess(time.monotonic() - t0, 2)

    @staticmethod
    def sigterm_blocked_or_ready(pid):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigBlk:") and int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)):
                    return True
                if line.startswith("SigCgt:") and int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)):
                    return True
        return False

    def test_sigterm_before_ready_still_retires_cleanly(self):
        d = tempdir(self)
        # A big config takes a moment to load: the stop arrives meanwhile.
        conf = "tick=1s\n" + "".join("[t%d]\nurl=http://127.0.0.1:1/%d\n" % (i, i) for i in range(3000))
        p = self.start("-config", write_file(d, "o.conf", conf))
        # Once main() runs, SIGTERM is held (blocked, pending) until the
        # handlers exist; before that nothing can catch it.
        wait_for(lambda: self.sigterm_blocked_or_ready(p.pid), 5, what="main() to hold SIGTERM")
        p.signal(signal.SIGTERM)
        msgs = []
        while True:  # read as a supervisor does: the records fill the socket
            m = self.peer.read_message(5)
            if m is None:
                break
            msgs.append(m["type"])
        self.assertEqual(p.wait_exit(5), 0)
        self.assertEqual(msgs[-1], STATE_END)
        self.assertEqual(msgs.count(TARGET_STATE), 3000)
        self.assertNotIn(READY, msgs[1:], "READY, if any, comes first")
        self.assertEqual(p.stderr_text(), "")

    def test_control_eof_ends_worker_within_1s(self):
        srv = HttpServer(self)
        p = self.start("-url=" + srv.url("/hang?hang=1"), "-tick=2s", "-timeout=1900ms")
        self.peer.expect(READY)
        wait_for(lambda: srv.hits("/hang") >= 1, 5, what="the probe to start")
        t0 = time.monotonic()
        self.peer.close()
        self.assertEqual(p.wait_exit(3), 0)
        self.assertLess(time.monotonic() - t0, 1.0)

    def test_malformed_control_message_exits_70(self):
        srv = HttpServer(self)
        p = self.start("-url=" + srv.url("/m"), "-tick=1s")
        self.peer.expect(READY)
        self.peer.send(b"\x63\x00\x00\x00\x00\x00\x00\x00")  # unknown type 99
        self.assertEqual(p.wait_exit(3), 70)
        self.assertIn("control channel", p.stderr_text())

    def test_not_started_by_the_named_supervisor_exits_at_once(self):
        p_argv = [WORKER, "--supervised=1", "-url=http://127.0.0.1:1/", "-tick=1s"]
        from harness import Proc
        p = Proc(self, p_argv)
        self.assertEqual(p.wait_exit(3), 0)
        self.assertEqual(p.lines(), [])

    def test_handover_keeps_down_target_down_without_second_down_line(self):
        srv = HttpServer(self)
        url = srv.url("/down?status=503")
        since = int((time.time() - 192) * 1000)
        p = self.start("-url=" + url, "-tick=200ms", "-status=200")
        self.peer.expect(READY)
        # Let some failing probes happen before the hand-over arrives.
        p.wait_line(r"Status code mismatch, got: 503", timeout=5)
        time.sleep(0.5)
        self.assertEqual(p.count(r"DOWN"), 0, "no state line before StateEnd")
        self.peer.send_state(name="default", url=url, health=DOWN, since_unix_ms=since,
                             consecutive_failures=7, probes=40, failures=7,
                             last_reason="Status code mismatch, got: 503")
        self.peer.send_state(name="other", url="http://127.0.0.1:1/", health=UP)
        self.peer.send_end()
        time.sleep(0.6)
        self.assertEqual(p.count(r"DOWN"), 0, "a target DOWN before the reload stays DOWN silently")
        self.assertGreater(p.count(r"Status code mismatch, got: 503"), 2, "mismatches are logged at once")
        # What it hands on is the inherited outage, extended by its own probes.
        p.signal(signal.SIGTERM)
        recs = self.peer.read_until_end(timeout=5)
        self.assertEqual(p.wait_exit(5), 0)
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["health"], DOWN)
        self.assertEqual(recs[0]["since_unix_ms"], since)
        self.assertGreater(recs[0]["probes"], 40)
        self.assertGreater(recs[0]["consecutive_failures"], 7)
        self.assertEqual(recs[0]["last_reason"], "Status code mismatch, got: 503")

    def test_handover_outage_duration_survives_and_up_is_logged(self):
        srv = HttpServer(self)
        url = srv.url("/flip")
        srv.set("/flip", status=200)
        since = int((time.time() - 192) * 1000)
        p = self.start("-url=" + url, "-tick=200ms", "-status=200")
        self.peer.expect(READY)
        wait_for(lambda: srv.hits("/flip") >= 2, 5, what="probes before the hand-over")
        self.peer.send_state(name="default", url=url, health=DOWN, since_unix_ms=since,
                             consecutive_failures=3, probes=10, failures=3, last_reason="Status code mismatch, got: 500")
        self.peer.send_end()
        line = p.wait_line(r"UP after", timeout=5)
        self.assertRegex(line, r"UP after 3m1[12]s")
        self.assertEqual(p.count(r"UP after"), 1)
        self.assertEqual(p.count(r"DOWN"), 0)

    def test_handover_ignores_records_of_other_identity(self):
        srv = HttpServer(self)
        url = srv.url("/id?status=500")
        p = self.start("-url=" + url, "-tick=200ms", "-status=200")
        self.peer.expect(READY)
        # Same name, different URL: a different target, starts afresh.
        self.peer.send_state(name="default", url=url + "&x=1", health=DOWN, since_unix_ms=1000)
        self.peer.send_end()
        p.wait_line(r"DOWN: Status code mismatch, got: 500", timeout=5)
        self.assertEqual(p.count(r"DOWN:"), 1)

    def test_cut_over_worker_fires_no_slot_before_its_announced_instant(self):
        srv = HttpServer(self)
        url = srv.url("/c")
        self.peer = ControlPeer(self)
        args = ["-url=" + url, "-tick=100ms"]
        self.peer.spawn(self, [WORKER] + args, cut_over=True)
        t = mono_to_wall(self.peer.expect(CUT_OVER_READY, timeout=5)["value"])
        self.peer.send_end()
        wait_for(lambda: srv.hits("/c") >= 3, 5, what="probes after the cut-over")
        phase = phase_s(*args)
        slots = [slot_of(r[0], phase, 0.1) for r in srv.requests()]
        # Every slot it probed starts at or after the cut-over (to the clocks'
        # conversion, well under the ms a probe may start early).
        self.assertEqual([s for s in slots if s < t - 0.002], [], "slots before the cut-over %.3f" % t)

    def test_retire_fires_the_slots_before_the_cut_over_then_hands_over(self):
        srv = HttpServer(self)
        args = ["-url=" + srv.url("/r"), "-tick=100ms"]
        p = self.start(*args)
        self.peer.expect(READY)
        self.peer.send_end()
        wait_for(lambda: srv.hits("/r") >= 2, 5, what="probes")
        sent = time.time()
        cut_over = self.retire_like_the_supervisor(p, 0.6)
        recs = self.peer.read_until_end(timeout=10)
        self.assertEqual(p.wait_exit(5), 0)
        self.assertEqual(len(recs), 1)
        self.assertIsNone(self.peer.late_probes)
        t = mono_to_wall(cut_over)
        phase = phase_s(*args)
        slots = sorted({slot_of(r[0], phase, 0.1) for r in srv.requests()})
        # It went on probing after the Retire, up to the cut-over, not past it.
        self.assertTrue([s for s in slots if s > sent + 0.1], "no probe between the Retire and the cut-over")
        self.assertEqual([s for s in slots if s >= t + 0.002], [], "slots at or after the cut-over %.3f" % t)
        self.assertEqual(p.stderr_text(), "")

    def test_late_retire_stops_at_once_and_counts_the_repeated_probes(self):
        srv = HttpServer(self)
        p = self.start("-url=" + srv.url("/l"), "-tick=100ms")
        self.peer.expect(READY)
        self.peer.send_end()
        wait_for(lambda: srv.hits("/l") >= 12, 10, what="a second of probes")
        # The cut-over was a second ago: the slots since are the successor's
        # and the one target was probed for them already.
        self.retire_like_the_supervisor(p, -1.0)
        recs = self.peer.read_until_end(timeout=5)
        self.assertEqual(p.wait_exit(5), 0)
        self.assertEqual(len(recs), 1)
        self.assertEqual(self.peer.late_probes, 1)

    def test_stop_signal_ends_the_wait_for_the_cut_over(self):
        srv = HttpServer(self)
        p = self.start("-url=" + srv.url("/w"), "-tick=100ms")
        self.peer.expect(READY)
        self.peer.send_end()
        wait_for(lambda: srv.hits("/w") >= 2, 5, what="probes")
        self.peer.send_retire(time.monotonic_ns() + 3600 * 10**9)  # an hour away
        h = srv.hits("/w")
        wait_for(lambda: srv.hits("/w") >= h + 3, 5, what="probes while the cut-over is ahead")
        self.assertTrue(pid_alive(p.pid), "a Retire waits for its cut-over")
        p.signal(signal.SIGTERM)
        self.peer.read_until_end(timeout=5)
        self.assertEqual(p.wait_exit(5), 0)

    def test_loop_sends_a_heartbeat_every_second_and_falls_silent_when_stopped(self):
        srv = HttpServer(self)
        p = self.start("-url=" + srv.url("/hb"), "-tick=100ms")
        self.peer.expect(READY)
        self.peer.send_end()
        wait_for(lambda: self.read_heartbeats() >= 2, 10, what="two heartbeats")
        os.kill(p.pid, signal.SIGSTOP)
        try:
            time.sleep(0.2)
            self.read_heartbeats()  # what was sent before the stop
            seen = self.peer.heartbeats
            time.sleep(2.5)
            self.assertEqual(self.read_heartbeats(), seen, "a stopped loop sent heartbeats")
        finally:
            os.kill(p.pid, signal.SIGCONT)
        wait_for(lambda: self.read_heartbeats() > seen, 10, what="heartbeats after SIGCONT")
        p.signal(signal.SIGTERM)
        self.peer.read_until_end(timeout=5)
        self.assertEqual(p.wait_exit(5), 0)

    def test_resume_before_the_cut_over_keeps_every_slot_and_the_state(self):
        # The successor died: the supervisor calls the Retire off before its
        # cut-over. The worker probes on past the cut-over, sends no state,
        # and a later retirement hands the state over as usual.
        srv = HttpServer(self)
        srv.set("/s", status=500)
        args = ["-url=" + srv.url("/s"), "-status=200", "-tick=100ms"]
        p = self.start(*args)
        self.peer.expect(READY)
        self.peer.send_end()
        p.wait_line(r"DOWN: ", 10)
        cut_over = time.monotonic_ns() + 10**9
        self.peer.send_retire(cut_over)
        time.sleep(0.3)
        self.peer.send_resume()
        time.sleep(max(0, cut_over - time.monotonic_ns()) / 1e9 + 0.5)
        t = mono_to_wall(cut_over)
        phase = phase_s(*args)
        slots = sorted({slot_of(r[0], phase, 0.1) for r in srv.requests()})
        self.assertGreaterEqual(len([s for s in slots if s >= t]), 2, "no probe after the called-off cut-over")
        self.read_heartbeats()  # no state: nothing was handed over
        self.assertTrue(pid_alive(p.pid))
        cut_over = self.retire_like_the_supervisor(p, 0.2)
        recs = self.peer.read_until_end(timeout=10)
        self.assertEqual(p.wait_exit(5), 0)
        self.assertEqual([r["health"] for r in recs], [DOWN])
        self.assertIsNone(self.peer.late_probes)
        self.assertEqual(p.count(r"DOWN: "), 1)

    def test_resume_after_the_cut_over_passed_fires_again_at_once(self):
        # A Resume that reaches the worker after the cut-over (a loaded
        # machine): it goes back to probing, from its first slot not fired.
        srv = HttpServer(self)
        p = self.start("-url=" + srv.url("/a"), "-tick=100ms")
        self.peer.expect(READY)
        self.peer.send_end()
        wait_for(lambda: srv.hits("/a") >= 2, 5, what="probes")
        self.peer.send_retire(time.monotonic_ns() + 100 * 10**6)
        time.sleep(0.6)
        h = srv.hits("/a")
        self.peer.send_resume()
        wait_for(lambda: srv.hits("/a") >= h + 3, 5, what="probes after the Resume")
        self.assertTrue(pid_alive(p.pid))
        p.signal(signal.SIGTERM)
        self.peer.read_until_end(timeout=5)
        self.assertEqual(p.wait_exit(5), 0)

    def read_heartbeats(self):
        """Reads what the worker sent so far (heartbeats only expected)."""
        try:
            msg = self.peer.read_message(0.05)
        except AssertionError:
            msg = None
        self.assertIsNone(msg)
        return self.peer.heartbeats

    def retire_like_the_supervisor(self, p, ahead_s=0.1):
        """What the supervisor does on a reload: Retire with a cut-over
        `ahead_s` seconds ahead, then SIGTERM once it has passed. Returns the
        cut-over (CLOCK_MONOTONIC ns)."""
        cut_over = time.monotonic_ns() + int(ahead_s * 1e9)
        self.peer.send_retire(cut_over)
        time.sleep(max(0, cut_over - time.monotonic_ns()) / 1e9 + 0.005)
        p.signal(signal.SIGTERM)
        return cut_over

    def test_retired_worker_hands_over_and_exits_only_on_its_sigterm(self):
        # DESIGN.md retires the old worker with SIGTERM: done at the cut-over,
        # it waits for that signal rather than leaving before it comes.
        srv = HttpServer(self)
        p = self.start("-url=" + srv.url("/h"), "-tick=100ms")
        self.peer.expect(READY)
        self.peer.send_end()
        wait_for(lambda: srv.hits("/h") >= 2, 5, what="probes")
        cut_over = time.monotonic_ns() + 100 * 1000 * 1000
        self.peer.send_retire(cut_over)
        time.sleep(0.6)
        h = srv.hits("/h")
        time.sleep(0.3)
        self.assertEqual(srv.hits("/h"), h, "probes after the cut-over")
        self.assertTrue(pid_alive(p.pid), "the retired worker left before its SIGTERM")
        p.signal(signal.SIGTERM)
        recs = self.peer.read_until_end(timeout=5)
        self.assertEqual(p.wait_exit(5), 0)
        self.assertEqual(len(recs), 1)
        self.assertEqual(p.stderr_text(), "")

    def test_retired_worker_hands_over_without_its_sigterm_at_the_retire_deadline(self):
        # Should the SIGTERM never come, the state still goes over before the
        # supervisor's SIGKILL (shutdown_timeout after the cut-over).
        srv = HttpServer(self)
        p = self.start("-url=" + srv.url("/d"), "-tick=100ms", "-shutdown_timeout=2s")
        self.peer.expect(READY)
        self.peer.send_end()
        wait_for(lambda: srv.hits("/d") >= 2, 5, what="probes")
        self.peer.send_retire(time.monotonic_ns() + 100 * 1000 * 1000)
        recs = self.peer.read_until_end(timeout=10)
        self.assertEqual(p.wait_exit(5), 0)
        self.assertEqual(len(recs), 1)

    def test_sigterm_after_the_cut_over_of_a_retire_lets_in_flight_probes_finish(self):
        # The SIGTERM that follows a Retire is the retirement already under
        # way, not a second signal: the probe in flight ends with its result.
        srv = HttpServer(self)
        p = self.start("-url=" + srv.url("/slow?delay_ms=1500"), "-tick=3s", "-status=500")
        self.peer.expect(READY)
        self.peer.send_end()
        wait_for(lambda: srv.hits("/slow") >= 1, 5, what="the probe to start")
        self.retire_like_the_supervisor(p)
        recs = self.peer.read_until_end(timeout=5)
        self.assertEqual(p.wait_exit(5), 0)
        self.assertEqual(p.count(r"DOWN: Status code mismatch, got: 200"), 1, "the probe in flight was aborted")
        self.assertEqual(recs[0]["probes"], 1)
        self.assertEqual(srv.hits("/slow"), 1)
        self.assertEqual(p.stderr_text(), "")

    def test_a_stop_after_the_retirement_sigterm_still_aborts_the_probes(self):
        srv = HttpServer(self)
        p = self.start("-url=" + srv.url("/hang?hang=1"), "-tick=3s", "-timeout=2900ms")
        self.peer.expect(READY)
        self.peer.send_end()
        wait_for(lambda: srv.hits("/hang") >= 1, 5, what="the probe to start")
        self.retire_like_the_supervisor(p)
        time.sleep(0.2)
        self.assertTrue(pid_alive(p.pid), "the retirement waits for the probe in flight")
        p.signal(signal.SIGTERM)  # a stop (Ctrl-C, the supervisor's second signal): stop waiting
        recs = self.peer.read_until_end(timeout=5)
        self.assertEqual(p.wait_exit(5), 0)
        # Aborted: no result (a probe left to its timeout would count one).
        self.assertEqual(recs[0]["probes"], 0)

    def test_journal_style_when_asked(self):
        srv = HttpServer(self)
        self.peer = ControlPeer(self)
        p = self.peer.spawn(self, [WORKER, "-url=" + srv.url("/j?status=500"), "-tick=1s", "-status=200"],
                            journal=True)
        self.peer.expect(READY)
        line = p.wait_line(r"Status code mismatch", timeout=5)
        self.assertEqual(line, "<4>Status code mismatch, got: 500\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
