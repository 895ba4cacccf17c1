#!/usr/bin/env python3
"""SIGHUP: the new worker takes over only once it is ready, a broken config
changes nothing, bursts end with one worker on the newest config, and a
DOWN target stays DOWN across the hand-over."""
import os
import re
import signal
import time
import unittest

from supervisor_support import (TS, FakeInstall, harness, pid_of, supervisor_env, wait_workers, worker_children,
                                zombies_of)

SUPERVISOR = harness.SUPERVISOR


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Reload(unittest.TestCase):
    def start(self, argv, env=None):
        p = harness.Proc(self, argv, env=env or supervisor_env())
        p.wait_line(r"Worker \(pid \d+\) is ready\.", 15)
        return p

    def test_sighup_starts_new_worker_and_retires_old_only_after_ready(self):
        srv = harness.HttpServer(self)
        p = self.start([SUPERVISOR, "-url=" + srv.url("/ok"), "-tick=100ms"])
        [old] = wait_workers(self, p.pid, 1)
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        new = pid_of(p.wait_line(r"Started worker", start=n))
        takeover = p.wait_line(r"Reloaded: ", start=n)
        self.assertIn("worker (pid %d) takes over from worker (pid %d)" % (new, old), takeover)
        retired = p.wait_line(r"retired: exited with status 0\.", start=n)
        self.assertEqual(pid_of(retired), old)
        lines = p.lines()[n:]
        order = [i for i, l in enumerate(lines) if "Started worker" in l or "Reloaded:" in l or "retired:" in l]
        self.assertEqual(len(order), 3, lines)
        self.assertEqual(wait_workers(self, p.pid, 1), [new])
        before = srv.hits("/ok")
        harness.wait_for(lambda: srv.hits("/ok") >= before + 3, 5, what="the new worker to probe")

    def test_old_worker_serves_until_the_new_one_is_ready(self):
        # The new worker takes 2 s to be ready: all that time the old one
        # must stay alive and keep writing.
        fake = FakeInstall(self, ["ready", "ready_after=2"])
        p = self.start([fake.supervisor, "-url=http://127.0.0.1:9/"], env=fake.env())
        [old] = wait_workers(self, p.pid, 1)
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        p.wait_line(r"Started worker", start=n)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:
            self.assertIn(old, worker_children(p.pid), "old worker retired before the new one was ready")
            time.sleep(0.1)
        ticks = p.count(r"^fake 0 tick$")
        time.sleep(0.3)
        self.assertGreater(p.count(r"^fake 0 tick$"), ticks, "old worker stopped serving during the reload")
        self.assertEqual(p.count(r"Reloaded: "), 0)
        p.wait_line(r"Reloaded: ", start=n, timeout=5)
        self.assertGreaterEqual(time.monotonic() - t0, 1.8)
        p.wait_line(r"Worker \(pid %d\) retired: exited with status 0\." % old, start=n)
        self.assertEqual(len(wait_workers(self, p.pid, 1)), 1)

    def test_sighup_with_broken_config_keeps_old_worker_probing(self):
        srv = harness.HttpServer(self)
        d = harness.tempdir(self)
        conf = harness.write_file(d, "observer.conf", "url=%s\ntick=100ms\n" % srv.url("/ok"))
        p = self.start([SUPERVISOR, "-config", conf])
        [old] = wait_workers(self, p.pid, 1)
        write_atomically(conf, "url=%s\ntick=100ms\nstauts=200\n" % srv.url("/ok"))
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        failed = p.wait_line(r"Reload failed: ", start=n)
        self.assertIn("observer.conf:3", failed)
        self.assertIn("status", failed)  # the closest known key is suggested
        h1 = srv.hits("/ok")
        time.sleep(1.0)
        self.assertGreaterEqual(srv.hits("/ok"), h1 + 5, "the old worker stopped probing")
        self.assertEqual(worker_children(p.pid), [old])
        self.assertEqual(p.count(r"Started worker"), 1)

    def test_sighup_with_a_bad_pattern_keeps_old_worker_and_logs_why(self):
        # Only the worker compiles patterns: its ConfigError message carries
        # the reason into the supervisor's "Reload failed" line.
        srv = harness.HttpServer(self)
        d = harness.tempdir(self)
        conf = harness.write_file(d, "observer.conf", "url=%s\ntick=100ms\n" % srv.url("/ok"))
        p = self.start([SUPERVISOR, "-config", conf])
        [old] = wait_workers(self, p.pid, 1)
        write_atomically(conf, "url=%s\ntick=100ms\nbody_regex=([a-\n" % srv.url("/ok"))
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        failed = p.wait_line(r"Reload failed: ", start=n)
        self.assertIn("observer.conf:3: body_regex: bad regular expression", failed)
        self.assertIn("keeps running", failed)
        h1 = srv.hits("/ok")
        time.sleep(1.0)
        self.assertGreaterEqual(srv.hits("/ok"), h1 + 5, "the old worker stopped probing")
        self.assertEqual(worker_children(p.pid), [old])

    def test_sighup_with_an_error_in_the_last_of_10000_sections_names_its_line(self):
        # The supervisor reads only the top of the file; the new worker finds
        # the error and its ConfigError message carries file:line.
        srv = harness.HttpServer(self)
        d = harness.tempdir(self)
        sections = "".join("[t%d]\nurl=%s\n" % (i, srv.url("/t%d" % i)) for i in range(10000))
        conf = harness.write_file(d, "big.conf", "tick=1h\n" + sections)
        p = self.start([SUPERVISOR, "-config", conf])
        [old] = wait_workers(self, p.pid, 1)
        write_atomically(conf, "tick=1h\n" + sections.replace("url=%s\n" % srv.url("/t9999"), "url=ftp://x/\n"))
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        failed = p.wait_line(r"Reload failed: ", start=n, timeout=30)
        self.assertRegex(failed, r"Reload failed: the new worker \(pid \d+\) exited with status 78 before it was ready "
                                 r"\(%s:%d: url: \"ftp://x/\" is not an http:// or https:// URL\); "
                                 r"worker \(pid %d\) keeps running\.$" % (re.escape(conf), 3 + 2 * 9999, old))
        self.assertEqual(worker_children(p.pid), [old])
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)

    def test_failed_reload_leaves_the_supervisors_settings_alone(self):
        # Found in review: a reload whose worker then failed had already
        # switched the supervisor to the new log_format.
        srv = harness.HttpServer(self)
        d = harness.tempdir(self)
        conf = harness.write_file(d, "observer.conf", "url=%s\ntick=100ms\n" % srv.url("/ok"))
        p = self.start([SUPERVISOR, "-config", conf])
        wait_workers(self, p.pid, 1)
        write_atomically(conf, "log_format=json\nurl=%s\ntick=100ms\nbody_regex=([a-\n" % srv.url("/ok"))
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        failed = p.wait_line(r"Reload failed: ", start=n)
        self.assertRegex(failed, "^" + TS, "the failed config's log_format was applied")
        write_atomically(conf, "log_format=json\nurl=%s\ntick=100ms\n" % srv.url("/ok"))
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        ok = p.wait_line(r"Reloaded: ", start=n)
        self.assertTrue(ok.startswith("{"), "a good reload brings its log_format into force: " + ok)

    def test_hundred_sighups_end_with_one_worker_on_newest_config(self):
        srv = harness.HttpServer(self)
        d = harness.tempdir(self)
        conf = harness.write_file(d, "observer.conf", "url=%s\ntick=100ms\n" % srv.url("/v0"))
        p = self.start([SUPERVISOR, "-config", conf])
        for i in range(1, 101):
            write_atomically(conf, "url=%s\ntick=100ms\n" % srv.url("/v%d" % i))
            p.signal(signal.SIGHUP)
            time.sleep(0.002)
        # Settle: one worker left, probing /v100 only.
        harness.wait_for(lambda: srv.hits("/v100") >= 3, 30, what="the newest config to be probed")
        [last] = wait_workers(self, p.pid, 1, timeout=30)
        time.sleep(0.5)
        others = srv.hits() - srv.hits("/v100")
        h = srv.hits("/v100")
        time.sleep(1.0)
        self.assertEqual(srv.hits() - srv.hits("/v100"), others, "an older config is still probed")
        self.assertGreaterEqual(srv.hits("/v100"), h + 5)
        self.assertEqual(worker_children(p.pid), [last])
        self.assertEqual(zombies_of(p.pid), [])
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)

    def test_down_target_stays_down_across_reload(self):
        srv = harness.HttpServer(self)
        srv.set("/down", status=500)
        p = self.start([SUPERVISOR, "-url=" + srv.url("/down"), "-status=200", "-tick=100ms"])
        p.wait_line(r"DOWN: ", timeout=10)
        time.sleep(0.3)
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        p.wait_line(r"retired: exited with status 0\.", start=n)
        time.sleep(1.0)  # ten failing probes by the new worker
        self.assertEqual(p.count(r"DOWN: "), 1, "the DOWN state was lost in the hand-over:\n" + "".join(p.lines()))
        self.assertEqual(p.count(r" UP"), 0)
        srv.set("/down")
        up = p.wait_line(r"UP after", start=n)
        self.assertEqual(p.count(r"UP after"), 1, up)

    def test_every_down_target_of_2000_stays_down_across_reload(self):
        # 2000 records are many reads and writes on both control channels
        # (each side writes them coalesced, the new worker takes them as
        # they arrive): none may be lost, or its target goes DOWN again.
        port = harness.closed_port()
        n = 2000
        sections = "".join("[t%d]\nurl=http://127.0.0.1:%d/t%d\n" % (i, port, i) for i in range(n))
        conf = harness.write_file(harness.tempdir(self), "o.conf", "tick=5s\ntimeout=1s\n" + sections)
        p = self.start([SUPERVISOR, "-config", conf])
        harness.wait_for(lambda: p.count(r"\] DOWN: ") >= n, 30, what="every target to go DOWN")
        n_lines = len(p.lines())
        p.signal(signal.SIGHUP)
        p.wait_line(r"retired: exited with status 0\.", start=n_lines, timeout=20)
        time.sleep(6)  # more than a tick of the new worker's failing probes
        downs = p.count(r"\] DOWN: ")
        self.assertEqual(downs, n, "%d targets went DOWN a second time after the hand-over" % (downs - n))
        self.assertEqual(p.count(r" UP"), 0)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)

    def test_state_survives_a_reload_while_a_probe_outlasts_shutdown_timeout(self):
        # Found in review: a probe whose timeout (5s) is longer than
        # shutdown_timeout (2s) kept the retiring worker busy until the
        # supervisor's SIGKILL, so no state was handed over and the DOWN
        # target was announced DOWN a second time.
        srv = harness.HttpServer(self)
        srv.set("/down", status=500)
        conf = harness.write_file(harness.tempdir(self), "o.conf",
                                  "shutdown_timeout=2s\ntick=6s\ntimeout=5s\nstatus=200\n"
                                  "[down]\nurl=%s\n[slow]\nurl=%s\n" % (srv.url("/down"), srv.url("/slow?hang=1")))
        p = self.start([SUPERVISOR, "-config", conf])
        p.wait_line(r"\[down\] DOWN: ", timeout=15)
        harness.wait_for(lambda: srv.hits("/slow") >= 1, 15, what="the slow probe to start")
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        p.wait_line(r"retired: exited with status 0\.", start=n, timeout=10)
        harness.wait_for(lambda: srv.hits("/down") >= 3, 15, what="the new worker to probe /down")
        time.sleep(0.5)
        out = "".join(p.lines())
        self.assertEqual(p.count(r"\[down\] DOWN: "), 1, "the DOWN state was lost in the hand-over:\n" + out)
        self.assertNotIn("SIGKILL", out)
        self.assertNotIn("killed by signal", out)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)

    def test_burst_waits_for_the_current_workers_own_hand_over(self):
        # Worker 0 takes 1.5 s to hand its state to worker 1. A SIGHUP in that
        # time must not retire worker 1 before it has all of worker 0's state:
        # worker 2 waits, ready, and takes over from worker 1 afterwards.
        fake = FakeInstall(self, ["slow_handover=1.5", "ready", "ready"])
        p = self.start([fake.supervisor, "-url=http://127.0.0.1:9/"], env=fake.env())
        [w0] = wait_workers(self, p.pid, 1)
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        w1 = pid_of(p.wait_line(r"Started worker", start=n))
        p.wait_line(r"Reloaded: worker \(pid %d\) takes over from worker \(pid %d\)" % (w1, w0), start=n)
        time.sleep(0.2)
        m = len(p.lines())
        p.signal(signal.SIGHUP)
        w2 = pid_of(p.wait_line(r"Started worker", start=m))
        p.wait_line(r"^fake 2 tick$", start=m)  # worker 2 is ready
        time.sleep(0.4)
        self.assertIn(w1, worker_children(p.pid))
        self.assertEqual(p.count(r"takes over from worker \(pid %d\)" % w1), 0, "worker 1 retired mid hand-over")
        p.wait_line(r"Reloaded: worker \(pid %d\) takes over from worker \(pid %d\)" % (w2, w1), start=m, timeout=5)
        p.wait_line(r"Worker \(pid %d\) retired: exited with status 0\." % w1, start=m)
        p.wait_line(r"^fake 2 got state-end$", start=m)
        # Worker 0's record reached worker 1, then its end (the fakes' own
        # lines, so their order against the supervisor's lines is not causal).
        lines = p.lines()
        self.assertLess(lines.index("fake 1 got target-state\n"), lines.index("fake 1 got state-end\n"))
        self.assertEqual(p.count(r"^fake 2 got target-state$"), 0)  # worker 1 had no targets of its own
        self.assertEqual(wait_workers(self, p.pid, 1), [w2])

    def test_down_target_stays_down_across_a_burst_of_reloads(self):
        srv = harness.HttpServer(self)
        srv.set("/down", status=500)
        p = self.start([SUPERVISOR, "-url=" + srv.url("/down"), "-status=200", "-tick=100ms"])
        p.wait_line(r"DOWN: ", timeout=10)
        for _ in range(20):
            p.signal(signal.SIGHUP)
            time.sleep(0.01)
        n = len(p.lines())
        [last] = wait_workers(self, p.pid, 1, timeout=20)
        time.sleep(1.0)
        self.assertEqual(wait_workers(self, p.pid, 1), [last])
        self.assertEqual(p.count(r"DOWN: "), 1, "the DOWN state was lost in the burst:\n" + "".join(p.lines()))
        self.assertEqual(p.count(r" UP"), 0)
        self.assertGreater(p.count(r"Status code mismatch"), 0)
        srv.set("/down")
        p.wait_line(r"UP after", start=n)


if __name__ == "__main__":
    unittest.main(verbosity=2)
