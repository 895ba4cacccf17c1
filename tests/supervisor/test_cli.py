#!/usr/bin/env python3
"""Start-up: -check-config, -version and -help print and exit without a
worker; a configuration error exits 78 with the message on stderr, whether
the supervisor or the first worker finds it; a missing worker exits 70; a
reload whose new worker fails or hangs leaves the old one running."""
import os
import shutil
import signal
import subprocess
import time
import unittest

from supervisor_support import FakeInstall, harness, pid_of, supervisor_env, wait_workers, worker_children

SUPERVISOR = harness.SUPERVISOR


def run(argv, env=None, timeout=10):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=env or supervisor_env(), timeout=timeout)


class Cli(unittest.TestCase):
    def test_config_error_at_start_exits_78_with_message_on_stderr(self):
        r = run([SUPERVISOR, "-url=http://127.0.0.1:9/", "-tick=soon"])
        self.assertEqual(r.returncode, 78)
        self.assertTrue(r.stderr.startswith("observer: "), r.stderr)
        self.assertIn("-tick", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_missing_url_exits_78(self):
        r = run([SUPERVISOR])
        self.assertEqual(r.returncode, 78)
        self.assertIn("OBSERVER_URL", r.stderr)

    def test_check_config_prints_and_exits_0(self):
        d = harness.tempdir(self)
        conf = harness.write_file(d, "observer.conf", "url=http://127.0.0.1:9/\ntick=5s\n")
        r = run([SUPERVISOR, "-check-config", "-config", conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)
        self.assertIn("observer.conf:2", r.stdout)

    def test_check_config_with_an_error_exits_78(self):
        r = run([SUPERVISOR, "-check-config", "-url=ftp://127.0.0.1/"])
        self.assertEqual(r.returncode, 78)
        self.assertTrue(r.stderr.startswith("observer: "), r.stderr)

    def test_check_config_compiles_the_checks_as_the_worker_does(self):
        # Found in review: a pattern only the worker compiles was "OK" here
        # and then failed to run with 78.
        d = harness.tempdir(self)
        conf = harness.write_file(d, "observer.conf", "url=http://127.0.0.1:9/\nbody_regex=([a-\n")
        r = run([SUPERVISOR, "-check-config", "-config", conf])
        self.assertEqual(r.returncode, 78, r.stdout)
        self.assertIn("observer.conf:2: body_regex: bad regular expression", r.stderr)
        self.assertNotIn("configuration OK", r.stdout)

    def test_error_in_the_last_of_10000_sections_is_reported_with_its_line(self):
        # The supervisor reads the file only up to its first [section]; the
        # worker reads the rest, and its message reaches stderr with file:line.
        d = harness.tempdir(self)
        sections = "".join("[t%d]\nurl=http://127.0.0.1:9/%d\n" % (i, i) for i in range(10000))
        conf = harness.write_file(d, "big.conf", "tick=1h\n" + sections + "stauts=200\n")
        line = 2 + 2 * 10000
        r = run([SUPERVISOR, "-config", conf], timeout=30)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("observer: %s:%d: unknown key \"stauts\" (did you mean \"status\"?)\n" % (conf, line), r.stderr)
        self.assertIn("observer: the worker reported a configuration error", r.stderr)
        # -check-config names the same line.
        r = run([SUPERVISOR, "-check-config", "-config", conf], timeout=30)
        self.assertEqual(r.returncode, 78)
        self.assertEqual(r.stderr, "observer: %s:%d: unknown key \"stauts\" (did you mean \"status\"?)\n" % (conf, line))
        self.assertEqual(r.stdout, "")

    def test_error_before_the_first_section_is_the_supervisors_own(self):
        d = harness.tempdir(self)
        conf = harness.write_file(d, "observer.conf", "tick=1h\nstauts=200\n[a]\nurl=http://127.0.0.1:9/\n")
        r = run([SUPERVISOR, "-config", conf])
        self.assertEqual(r.returncode, 78)
        self.assertEqual(r.stderr, "observer: %s:2: unknown key \"stauts\" (did you mean \"status\"?)\n" % conf)
        self.assertEqual(r.stdout, "", "a worker was started for a config the supervisor can reject")

    def test_version_and_help_exit_0(self):
        r = run([SUPERVISOR, "-version"])
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^observer \d+\.\d+\.\d+\n$")
        r = run([SUPERVISOR, "-help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("-check-config", r.stdout)

    def test_missing_worker_exits_70(self):
        d = harness.tempdir(self)
        lonely = os.path.join(d, "observer")
        shutil.copy2(SUPERVISOR, lonely)
        r = run([lonely, "-url=http://127.0.0.1:9/"])
        self.assertEqual(r.returncode, 70)
        self.assertIn("cannot find the worker executable observer-worker", r.stderr)
        self.assertIn(os.path.join(d, "observer-worker"), r.stderr)

    def test_worker_config_error_before_first_ready_exits_78(self):
        fake = FakeInstall(self, ["exit=78"])
        r = run([fake.supervisor, "-url=http://127.0.0.1:9/"], env=fake.env())
        self.assertEqual(r.returncode, 78)
        self.assertIn("fake worker: exiting with 78", r.stderr)  # the worker's own message, inherited stderr
        self.assertIn("observer: the worker reported a configuration error", r.stderr)
        self.assertEqual(len(fake.spawns()), 1, "a config error must not be retried")

    def test_reload_whose_worker_exits_before_ready_keeps_old_worker(self):
        fake = FakeInstall(self, ["ready", "exit=78", "ready"])
        p = harness.Proc(self, [fake.supervisor, "-url=http://127.0.0.1:9/"], env=fake.env())
        p.wait_line(r"is ready\.")
        [old] = wait_workers(self, p.pid, 1)
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        failed = p.wait_line(r"Reload failed", start=n)
        self.assertRegex(failed, r"Reload failed: the new worker \(pid \d+\) exited with status 78 before it was "
                                 r"ready; worker \(pid %d\) keeps running\.$" % old)
        time.sleep(0.3)
        self.assertEqual(worker_children(p.pid), [old])
        self.assertEqual(p.count(r"crash|restarting"), 0)
        ticks = p.count(r"^fake 0 tick$")
        time.sleep(0.3)
        self.assertGreater(p.count(r"^fake 0 tick$"), ticks)
        # The next reload works.
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        p.wait_line(r"Reloaded: ", start=n)

    def test_reload_whose_worker_never_gets_ready_times_out(self):
        fake = FakeInstall(self, ["ready", "noready"])
        p = harness.Proc(self, [fake.supervisor, "-url=http://127.0.0.1:9/", "-reload_timeout=1s"], env=fake.env())
        p.wait_line(r"is ready\.")
        [old] = wait_workers(self, p.pid, 1)
        n = len(p.lines())
        t0 = time.monotonic()
        p.signal(signal.SIGHUP)
        hung = pid_of(p.wait_line(r"Started worker", start=n))
        failed = p.wait_line(r"Reload failed", start=n)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertIn("the new worker (pid %d) was not ready within 1s; worker (pid %d) keeps running." % (hung, old),
                      failed)
        p.wait_line(r"Worker \(pid %d\) \(superseded\) exited with status 0\." % hung, start=n)
        self.assertEqual(wait_workers(self, p.pid, 1), [old])


if __name__ == "__main__":
    unittest.main(verbosity=2)
