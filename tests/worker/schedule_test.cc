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
      cmocka_unit_test(slots_never_drift),
      cmocka_unit_test(first_slot_at_or_after),
      cmocka_unit_test(phase_follows_the_wall_clock),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
