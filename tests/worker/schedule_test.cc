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

#include "schedule.h"

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

// Few targets keep their own instants; many share wake-ups of about ten.
static void wakeups_are_shared_only_among_many_targets(void**) {
  const Nanos second = std::chrono::seconds(1);
  assert_int_equal(wakeup_grid(second, 4, 10).count(), 0);
  assert_int_equal(wakeup_grid(second, 99, 10).count(), 0);
  assert_int_equal(wakeup_grid(second, 200, 10).count(), 50000000);
  assert_int_equal(wakeup_grid(second, 100000, 10).count(), 1000000);  // never finer than 1 ms
  assert_int_equal(snap_phase(Nanos(123456789), Nanos(50000000), second).count(), 100000000);
  assert_int_equal(snap_phase(Nanos(123456789), Nanos(0), second).count(), 123456789);
  // 10 000 targets at 10 s: grid points hold about ten targets each, never a burst.
  const Nanos tick = std::chrono::seconds(10);
  Nanos grid = wakeup_grid(tick, 10000, 10);
  std::map<int64_t, int> per_point;
  for (int i = 0; i < 10000; ++i) {
    Nanos p = snap_phase(schedule_phase("t" + std::to_string(i), "http://127.0.0.1/", tick), grid, tick);
    ++per_point[p.count()];
  }
  int most = 0;
  for (const auto& kv : per_point) most = std::max(most, kv.second);
  assert_true(per_point.size() > 800);
  assert_true(most <= 30);
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(phase_is_stable_and_within_tick),
      cmocka_unit_test(phases_of_many_targets_spread_over_the_tick),
      cmocka_unit_test(wakeups_are_shared_only_among_many_targets),
      cmocka_unit_test(slots_never_drift),
      cmocka_unit_test(first_slot_at_or_after),
      cmocka_unit_test(phase_follows_the_wall_clock),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
