#!/usr/bin/env python3
"""A reload neither misses nor repeats a probe: the old worker fires every slot
before the cut-over the new one announced, the new one every slot from it on.
And the old worker is still retired with SIGTERM (DESIGN.md), sent once the
cut-over has passed, or at once when the supervisor is stopped before it.

Every request is recorded by the test server with its arrival time and path;
each target's slots come from observer-worker -check-config (a slot's boundary
is the target's boundary_phase_ns plus k * tick since the epoch), and each
slot must have exactly one arrival, across every reload."""
import os
import re
import signal
import time
import unittest

from supervisor_support import FakeInstall, harness, pid_of, supervisor_env, wait_workers

SUPERVISOR = harness.SUPERVISOR


def slot_counts(arrivals, schedule, tick_s, t_from, t_to):
    """For each slot of the target (its harness.Schedule) whose boundary lies
    in [t_from, t_to], the arrivals within [boundary - tick/4, boundary +
    3 tick/4): a probe starts at its slot, at most a wake-up grid (tick/10)
    before the boundary, and arrives a little after. Returns [(boundary,
    count)]."""
    phase = schedule.boundary_phase_ns / 1e9
    k = int((t_from - phase) // tick_s) + 1
    out = []
    while phase + k * tick_s <= t_to:
        b = phase + k * tick_s
        out.append((b, sum(1 for t in arrivals if b - tick_s / 4 <= t < b + 3 * tick_s / 4)))
        k += 1
    return out


def config(srv, names, tick):
    return "tick=%s\n" % tick + "".join("[%s]\nurl=%s\n" % (n, srv.url("/" + n)) for n in names)


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class CutOver(unittest.TestCase):
    def reload_and_check(self, names_per_config, tick, tick_s, reloads):
        """Starts observer on config 0, reloads `reloads` times cycling through
        the configs (each reload waits for the old worker's retirement), and
        checks every slot of the targets common to all configs."""
        srv = harness.HttpServer(self)
        d = harness.tempdir(self)
        conf = harness.write_file(d, "observer.conf", config(srv, names_per_config[0], tick))
        # A slot's boundary is the target's own: the same in every config.
        schedules = harness.schedules(["-config", conf])
        p = harness.Proc(self, [SUPERVISOR, "-config", conf], env=supervisor_env())
        p.wait_line(r"Worker \(pid \d+\) is ready\.", 15)
        # A full tick of probing before the first reload.
        harness.wait_for(lambda: all(srv.hits("/" + n) >= 2 for n in names_per_config[0]), 15,
                         what="every target probed twice")
        t_from = time.time()
        for i in range(1, reloads + 1):
            write_atomically(conf, config(srv, names_per_config[i % len(names_per_config)], tick))
            n = len(p.lines())
            p.signal(signal.SIGHUP)
            old = pid_of(p.wait_line(r"Reloaded: worker \(pid \d+\) takes over from worker \(pid \d+\)", 20,
                                     start=n).split("from worker", 1)[1])
            p.wait_line(r"Worker \(pid %d\) retired: exited with status 0\." % old, 20, start=n)
            # Reloads a little apart, each at its own point of the slots.
            time.sleep(tick_s * (0.3 + (0.37 * i) % 1.0))
        wait_workers(self, p.pid, 1)
        time.sleep(2 * tick_s)
        t_to = time.time() - tick_s
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)

        common = set(names_per_config[0]).intersection(*names_per_config[1:])
        arrivals = {}
        for t, _, path, _ in srv.requests():
            arrivals.setdefault(path.lstrip("/"), []).append(t)
        bad = []
        slots = 0
        for name in sorted(common):
            counts = slot_counts(arrivals.get(name, []), schedules[name], tick_s, t_from, t_to)
            slots += len(counts)
            bad += ["%s slot %.3f: %d probes" % (name, b, c) for b, c in counts if c != 1]
        self.assertGreaterEqual(slots, len(common) * int((t_to - t_from) / tick_s))
        out = "".join(p.lines())
        self.assertEqual(bad, [], "%d of %d slots not probed exactly once:\n%s\n%s" % (
            len(bad), slots, "\n".join(bad[:30]), out[-3000:]))

    def test_reloads_neither_miss_nor_repeat_a_slot(self):
        # Both workers probing for a millisecond would already repeat a
        # slot for one target in six reloads or so: many reloads.
        names = ["t%d" % i for i in range(50)]
        self.reload_and_check([names], "300ms", 0.3, reloads=30)

    def test_reloads_that_change_the_wakeup_grid_neither_miss_nor_repeat_a_slot(self):
        # 250 targets on a tick share wake-ups on a grid of tick*20/250; 300
        # on a finer one: the common 250 get other slot starts after each
        # reload, yet every slot (by its boundary) is probed exactly once.
        names = ["t%d" % i for i in range(250)]
        more = names + ["u%d" % i for i in range(50)]
        self.reload_and_check([names, more], "1s", 1.0, reloads=4)

    def test_new_worker_dying_before_the_cut_over_leaves_the_old_one_serving(self):
        # Issue 13, item 5. The new worker announces its cut-over 3 s after
        # it is ready (a test-only margin, for every worker alike), and is
        # SIGKILLed right after "takes over": the old worker's retirement is
        # called off. It keeps every target (no slot is missed or probed
        # twice) and its state (the DOWN target logs no second DOWN, also
        # across the next, successful reload).
        srv = harness.HttpServer(self)
        srv.set("/down", status=500)
        names = ["t%d" % i for i in range(19)] + ["down"]
        d = harness.tempdir(self)
        conf = harness.write_file(d, "observer.conf", "status=200\n" + config(srv, names, "300ms"))
        schedules = harness.schedules(["-config", conf])
        p = harness.Proc(self, [SUPERVISOR, "-config", conf],
                         env=supervisor_env(OBS_TEST_CUT_OVER_MARGIN_MS="3000"))
        p.wait_line(r"Worker \(pid \d+\) is ready\.", 15)
        p.wait_line(r"\[down\] DOWN: ", 10)
        harness.wait_for(lambda: all(srv.hits("/" + n) >= 2 for n in names), 15, what="every target probed twice")
        [old] = wait_workers(self, p.pid, 1)
        t_from = time.time()
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        line = p.wait_line(r"Reloaded: worker \(pid \d+\) takes over from worker \(pid %d\)" % old, 20, start=n)
        new = pid_of(line)
        os.kill(new, signal.SIGKILL)
        failed = p.wait_line(r"Reload failed: the new worker \(pid %d\)" % new, 10, start=n)
        self.assertRegex(failed, r"Reload failed: the new worker \(pid %d\) was killed by signal 9 \(Killed\) "
                         r"before the cut-over; worker \(pid %d\) keeps running\.$" % (new, old))
        # Well past the cut-over the dead worker had announced.
        time.sleep(4.0)
        self.assertEqual(wait_workers(self, p.pid, 1), [old])
        out = "".join(p.lines()[n:])
        self.assertNotIn("retired", out)
        self.assertNotIn("restarting", out)
        t_to = time.time() - 0.3

        # The next reload goes through, and the state is still the old worker's.
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        p.wait_line(r"Reloaded: worker \(pid \d+\) takes over from worker \(pid %d\)" % old, 20, start=n)
        p.wait_line(r"Worker \(pid %d\) retired: exited with status 0\." % old, 20, start=n)
        [last] = wait_workers(self, p.pid, 1)
        h = srv.hits("/down")
        harness.wait_for(lambda: srv.hits("/down") >= h + 3, 10, what="the last worker to probe")
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)

        text = "".join(p.lines())
        self.assertEqual(p.count(r"\[down\] DOWN: "), 1, "the DOWN state was lost:\n" + text[-3000:])
        arrivals = {}
        for t, _, path, _ in srv.requests():
            arrivals.setdefault(path.lstrip("/"), []).append(t)
        bad = []
        for name in names:
            counts = slot_counts(arrivals.get(name, []), schedules[name], 0.3, t_from, t_to)
            bad += ["%s slot %.3f: %d probes" % (name, b, c) for b, c in counts if c != 1]
        self.assertEqual(bad, [], "slots not probed exactly once around the failed reload:\n%s\n%s" % (
            "\n".join(bad[:30]), text[-3000:]))

    def test_late_probes_counts_only_probes_made_twice_with_many_targets(self):
        # Issue 13, item 9. 3000 targets at tick=10m share wake-ups on a 4 s
        # grid: a slot starts up to 4 s before its boundary. The old worker
        # fires the slots that start before the new one announces its
        # cut-over T, even when their boundary is after T; the new worker
        # leaves them alone. They used to be counted as late_probes anyway
        # (about ten per reload) while no target was probed twice.
        srv = harness.HttpServer(self)
        tick_s, grid_s = 600.0, 4.0
        names = ["m%d" % i for i in range(3000)]
        d = harness.tempdir(self)
        conf = harness.write_file(d, "observer.conf", "log_format=logfmt\n" + config(srv, names, "10m"))
        schedules = harness.schedules(["-config", conf])
        self.assertEqual({s.grid_ns for s in schedules.values()}, {int(grid_s * 1e9)})
        p = harness.Proc(self, [SUPERVISOR, "-config", conf], env=supervisor_env())
        p.wait_line(r"Worker \(pid \d+\) is ready\.", 30)
        t_from = time.time() + grid_s + 0.5  # the first worker fires no slot that started before it
        retired = []
        for _ in range(3):
            # Each old worker must have run for a grid's width before its reload.
            time.sleep(grid_s + 0.5)
            [old] = wait_workers(self, p.pid, 1, timeout=30)
            n = len(p.lines())
            p.signal(signal.SIGHUP)
            retired.append(p.wait_line(r"Worker \(pid %d\) retired: " % old, 30, start=n))
        time.sleep(1.0)
        t_to = time.time() - 1.0
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(30), 0)

        for line in retired:
            self.assertIn("exited with status 0", line)
        late = sum(int(m) for line in retired for m in re.findall(r"late_probes=(\d+)", line))
        hits = {}
        for _, _, path, _ in srv.requests():
            hits[path] = hits.get(path, 0) + 1
        twice = sorted(path for path, c in hits.items() if c > 1)
        # The counter tells the truth (a probe made twice is counted), and
        # a reload made none twice.
        self.assertEqual(late, len(twice), (retired, twice))
        self.assertEqual(twice, [], retired)
        self.assertEqual(late, 0, retired)
        # None missed either: every slot whose whole grid window lies in the
        # run was probed.
        missed = []
        for name in names:
            phase = schedules[name].boundary_phase_ns / 1e9
            b = phase + ((t_from - phase) // tick_s + 1) * tick_s
            if b <= t_to and hits.get("/" + name, 0) != 1:
                missed.append("%s boundary %.3f" % (name, b))
        self.assertEqual(missed, [])

    @staticmethod
    def fake_signals(p, n):
        """[(signum, CLOCK_MONOTONIC ns)] fake worker n printed it got."""
        out = []
        for line in p.lines():
            if line.startswith("fake %d got signal " % n):
                words = line.split()
                out.append((int(words[4]), int(words[6])))
        return out

    def test_old_worker_is_retired_with_sigterm_once_the_cut_over_has_passed(self):
        # The fake stops ticking at the cut-over and waits for its SIGTERM,
        # as the real worker does: without the SIGTERM it would be SIGKILLed
        # at the end of shutdown_timeout.
        fake = FakeInstall(self, ["ready", "ready"])
        p = harness.Proc(self, [fake.supervisor, "-url=http://127.0.0.1:9/", "-shutdown_timeout=3s"],
                         env=fake.env())
        p.wait_line(r"Worker \(pid \d+\) is ready\.", 15)
        [old] = wait_workers(self, p.pid, 1)
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        p.wait_line(r"Reloaded: worker \(pid \d+\) takes over from worker \(pid %d\)" % old, 20, start=n)
        retired = p.wait_line(r"Worker \(pid %d\) retired: " % old, 20, start=n)
        self.assertRegex(retired, r"retired: exited with status 0\.$")
        retire = p.wait_line(r"^fake 0 got retire \d+$", 5)
        cut_over = int(retire.split()[-1])
        signals = self.fake_signals(p, 0)
        self.assertEqual([s for s, _ in signals], [signal.SIGTERM], "one SIGTERM retires the old worker")
        self.assertGreaterEqual(signals[0][1], cut_over, "the SIGTERM came before the cut-over")
        lines = p.lines()
        self.assertLess(lines.index(retire), lines.index(next(l for l in lines if l.startswith("fake 0 got signal"))))
        self.assertEqual(self.fake_signals(p, 1), [])
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)

    def test_stop_during_a_cut_over_sends_the_retiring_worker_sigterm_at_once(self):
        # The new worker's cut-over is a minute away: the old worker, retired
        # but probing up to it, must still get SIGTERM with the stop.
        fake = FakeInstall(self, ["ready", "cut_over_in=60"])
        p = harness.Proc(self, [fake.supervisor, "-url=http://127.0.0.1:9/"], env=fake.env())
        p.wait_line(r"Worker \(pid \d+\) is ready\.", 15)
        [old] = wait_workers(self, p.pid, 1)
        n = len(p.lines())
        p.signal(signal.SIGHUP)
        p.wait_line(r"Reloaded: worker \(pid \d+\) takes over from worker \(pid %d\)" % old, 20, start=n)
        cut_over = int(p.wait_line(r"^fake 0 got retire \d+$", 5).split()[-1])
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(15), 0)
        signals = self.fake_signals(p, 0)
        self.assertEqual([s for s, _ in signals], [signal.SIGTERM])
        self.assertLess(signals[0][1], cut_over)
        self.assertEqual(p.count(r"Worker \(pid \d+\) exited with status 0\.$"), 2)
        self.assertNotIn("SIGKILL", "".join(p.lines()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
