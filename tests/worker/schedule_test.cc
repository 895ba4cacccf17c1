// The fixed schedule: stable, spread phases and no drift.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <set>
#include <cstring>
#include <string>

#include <algorithm>
#include <map>

#include "worker/schedule.h"

using namespace observer;
using std::chrono::milliseconds;
using std::chrono::seconds;

static void phase_is_stable_and_within_tick(void**) {
  Nanos tick = seconds(10);
  Nanos a = schedule_phase("api", "https://a.example/", tick);
  assert_true(a == schedule_phase("api", "https://a.example/", tick));
  assert_true(a >= Nanos{0} && a < tick);
  assert_false(a == schedule_phase("api", "https://b.example/", tick));
  assert_false(a == schedule_phase("web", "https://a.example/", tick));
}

static void phases_of_many_targets_spread_over_the_tick(void**) {
  Nanos tick = seconds(10);
  int buckets[10] = {0};
  for (int i = 0; i < 10000; ++i) {
    Nanos p = schedule_phase("t" + std::to_string(i), "https://x.example/" + std::to_string(i), tick);
    buckets[p / seconds(1)]++;
  }
  // 10 000 targets: each second of the tick gets roughly a tenth.
  for (int b : buckets) {
    assert_true(b > 800);
    assert_true(b < 1200);
  }
}

// Few targets keep their own instants; many share wake-ups of about twenty.
static void wakeups_are_shared_only_among_many_targets(void**) {
  const Nanos second = std::chrono::seconds(1);
  assert_int_equal(wakeup_grid(second, 4, 20, 100).count(), 0);
  assert_int_equal(wakeup_grid(second, 99, 20, 100).count(), 0);
  assert_int_equal(wakeup_grid(second, 100, 20, 100).count(), 100000000);  // never coarser than tick/10
  assert_int_equal(wakeup_grid(second, 150, 20, 100).count(), 100000000);
  assert_int_equal(wakeup_grid(second, 400, 20, 100).count(), 50000000);
  assert_int_equal(wakeup_grid(second, 100000, 20, 100).count(), 1000000);  // never finer than 1 ms
  assert_int_equal(wakeup_grid(std::chrono::milliseconds(5), 1000, 20, 100).count(), 0);  // tick/10 under 1 ms
  assert_int_equal(snap_phase(Nanos(123456789), Nanos(50000000), second).count(), 100000000);
  assert_int_equal(snap_phase(Nanos(123456789), Nanos(0), second).count(), 123456789);
  // 10 000 targets at 10 s: grid points hold about twenty targets each, never a burst.
  const Nanos tick = std::chrono::seconds(10);
  Nanos grid = wakeup_grid(tick, 10000, 20, 100);
  std::map<int64_t, int> per_point;
  for (int i = 0; i < 10000; ++i) {
    Nanos p = snap_phase(schedule_phase("t" + std::to_string(i), "http://127.0.0.1/", tick), grid, tick);
    ++per_point[p.count()];
  }
  int most = 0;
  for (const auto& kv : per_point) most = std::max(most, kv.second);
  assert_true(per_point.size() > 400);
  assert_true(most <= 50);
}

static void slots_never_drift(void**) {
  Nanos tick = milliseconds(200), phase = milliseconds(37);
  assert_true(slot_time(phase, tick, 0) == milliseconds(37));
  assert_true(slot_time(phase, tick, 1000) == milliseconds(37 + 200 * 1000));
}

static void first_slot_at_or_after(void**) {
  Nanos tick = milliseconds(200), phase = milliseconds(50);
  assert_int_equal(first_slot_at_or_after(Nanos{0}, phase, tick), 0);
  assert_int_equal(first_slot_at_or_after(milliseconds(50), phase, tick), 0);
  assert_int_equal(first_slot_at_or_after(milliseconds(51), phase, tick), 1);
  assert_int_equal(first_slot_at_or_after(milliseconds(250), phase, tick), 1);
  assert_int_equal(first_slot_at_or_after(milliseconds(1049), phase, tick), 5);
}

static void phase_follows_the_wall_clock(void**) {
  Nanos tick = seconds(10), phase = seconds(3);
  // Started 1s into a tick of the epoch-aligned grid: slot 0 is 2s later.
  assert_true(phase_after_origin(phase, tick, 1000000000LL * 1000001) == seconds(2));
  // Started 5s into it: the next slot is 8s later.
  assert_true(phase_after_origin(phase, tick, 1000000000LL * 1000005) == seconds(8));
  assert_true(phase_after_origin(phase, tick, 1000000000LL * 1000003) == Nanos{0});
}

static void cut_over_gives_each_slot_to_exactly_one_worker(void**) {
  // The old worker counts 250 targets on the tick, the new one 300 (a reload
  // added some): different wake-up grids, so the same target's slots start
  // at other instants in each, and the workers started 4.3 s apart.
  Nanos tick = seconds(1);
  int64_t wall_old = 1700000000123456789LL, wall_new = wall_old + 4321987654LL;
  Nanos grid_old = wakeup_grid(tick, 250, 20, 100), grid_new = wakeup_grid(tick, 300, 20, 100);
  assert_true(grid_old > Nanos{0} && grid_new > Nanos{0} && grid_old != grid_new);
  int64_t cut = wall_new + 100000037LL;  // the cut-over, wall time
  for (int i = 0; i < 2000; ++i) {
    Nanos own = schedule_phase("t" + std::to_string(i), "http://127.0.0.1/" + std::to_string(i), tick);
    Nanos snapped_old = snap_phase(own, grid_old, tick), snapped_new = snap_phase(own, grid_new, tick);
    Nanos by_old = own - snapped_old, by_new = own - snapped_new;
    Nanos ph_old = phase_after_origin(snapped_old, tick, wall_old);
    Nanos ph_new = phase_after_origin(snapped_new, tick, wall_new);
    // The old worker's first slot that is not its own; the one before is its last.
    uint64_t not_old = first_slot_from(Nanos{cut - wall_old}, ph_old, tick, by_old);
    assert_true(not_old > 0);
    int64_t last_old_boundary = wall_old + slot_boundary(ph_old, tick, not_old - 1, by_old).count();
    int64_t last_old_start = wall_old + slot_time(ph_old, tick, not_old - 1).count();
    uint64_t first_new = first_slot_from(Nanos{cut - wall_new}, ph_new, tick, by_new);
    int64_t first_new_boundary = wall_new + slot_boundary(ph_new, tick, first_new, by_new).count();
    int64_t first_new_start = wall_new + slot_time(ph_new, tick, first_new).count();
    // Boundaries are the identity's own phase on the epoch's grid.
    assert_int_equal(last_old_boundary % tick.count(), own.count());
    // The new worker's first slot is the one right after the old one's last.
    assert_true(last_old_boundary < cut && first_new_boundary >= cut);
    assert_int_equal(first_new_boundary - last_old_boundary, tick.count());
    // The old worker never fires after the cut-over; the new one at most a
    // grid step before it.
    assert_true(last_old_start < cut);
    assert_true(first_new_start >= cut - grid_new.count());
  }
}

static void slots_started_before_the_announcement_stay_the_old_workers(void**) {
  // 3000 targets at 10 min share a 4 s grid: a slot starts up to 4 s before
  // its boundary. The new worker announces the cut-over T at F = T - 100 ms.
  // A slot is the new worker's only if its boundary is from T on AND it
  // starts from F on; the old one (same grid) owns every other slot: each
  // slot has exactly one owner, and none that started before F (the old
  // worker fired it before it could know of T) is the new worker's.
  Nanos tick = seconds(600);
  Nanos grid = wakeup_grid(tick, 3000, 20, 100);
  assert_true(grid == seconds(4));
  int64_t wall_old = 1700000000123456789LL, wall_new = wall_old + 7654321987LL;
  int64_t cut = wall_new + 2250000037LL, takes_from = cut - 100000000LL;
  int straddling = 0;
  for (int i = 0; i < 3000; ++i) {
    Nanos own = schedule_phase("m" + std::to_string(i), "http://127.0.0.1/m" + std::to_string(i), tick);
    Nanos snapped = snap_phase(own, grid, tick), by = own - snapped;
    Nanos ph_old = phase_after_origin(snapped, tick, wall_old), ph_new = phase_after_origin(snapped, tick, wall_new);
    uint64_t first_new = first_successors_slot(Nanos{cut - wall_new}, Nanos{takes_from - wall_new}, ph_new, tick, by);
    int64_t first_new_start = wall_new + slot_time(ph_new, tick, first_new).count();
    assert_true(first_new_start >= takes_from);
    assert_true(wall_new + slot_boundary(ph_new, tick, first_new, by).count() >= cut);
    assert_true(successors_slot(ph_new, tick, first_new, by, Nanos{cut - wall_new}, Nanos{takes_from - wall_new}));
    // The same slot in the old worker's numbering, and the one before it.
    uint64_t k = first_slot_at_or_after(Nanos{first_new_start - wall_old}, ph_old, tick);
    assert_int_equal(wall_old + slot_time(ph_old, tick, k).count(), first_new_start);
    Nanos cut_old{cut - wall_old}, from_old{takes_from - wall_old};
    assert_true(successors_slot(ph_old, tick, k, by, cut_old, from_old));
    assert_false(successors_slot(ph_old, tick, k - 1, by, cut_old, from_old));
    int64_t before_start = wall_old + slot_time(ph_old, tick, k - 1).count();
    int64_t before_boundary = wall_old + slot_boundary(ph_old, tick, k - 1, by).count();
    if (before_start < takes_from && before_boundary >= cut) ++straddling;
  }
  // The case the rule is for occurs (about ten such targets here).
  assert_true(straddling > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(phase_is_stable_and_within_tick),
      cmocka_unit_test(phases_of_many_targets_spread_over_the_tick),
      cmocka_unit_test(wakeups_are_shared_only_among_many_targets),
      cmocka_unit_test(slots_never_drift),
      cmocka_unit_test(first_slot_at_or_after),
      cmocka_unit_test(phase_follows_the_wall_clock),
      cmocka_unit_test(cut_over_gives_each_slot_to_exactly_one_worker),
      cmocka_unit_test(slots_started_before_the_announcement_stay_the_old_workers),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
