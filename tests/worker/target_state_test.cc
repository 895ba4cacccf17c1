// UP/DOWN with thresholds, and the hand-over replay.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <cstring>
#include <string>

#include "worker/target_state.h"

using namespace observer;

static ProbeOutcome ok(int64_t ms) { return ProbeOutcome{true, "", ms}; }
static ProbeOutcome bad(int64_t ms, const char* why = "Status code mismatch, got: 500") {
  return ProbeOutcome{false, why, ms};
}

static void healthy_start_is_silent(void**) {
  TargetState s(1, 1);
  assert_false(s.apply(ok(1000)).has_value());
  assert_int_equal(static_cast<int>(s.health()), static_cast<int>(TargetHealth::Up));
}

static void first_failure_goes_down_with_reason(void**) {
  TargetState s(1, 1);
  auto c = s.apply(bad(1000));
  assert_true(c.has_value());
  assert_int_equal(static_cast<int>(c->to), static_cast<int>(TargetHealth::Down));
  assert_string_equal(c->reason.c_str(), "Status code mismatch, got: 500");
  assert_false(s.apply(bad(2000)).has_value());  // still DOWN: no second line
}

static void thresholds_delay_both_changes(void**) {
  TargetState s(3, 2);
  s.apply(ok(0));
  assert_false(s.apply(bad(1000)).has_value());
  assert_false(s.apply(bad(2000)).has_value());
  assert_false(s.apply(ok(2500)).has_value());  // resets the failure run
  assert_false(s.apply(bad(3000)).has_value());
  assert_false(s.apply(bad(4000)).has_value());
  auto down = s.apply(bad(5000));
  assert_true(down && down->to == TargetHealth::Down);
  assert_false(s.apply(ok(6000)).has_value());
  auto up = s.apply(ok(197000));
  assert_true(up && up->to == TargetHealth::Up);
  assert_int_equal(up->down_for_ms, 192000);
  assert_string_equal(format_outage(up->down_for_ms).c_str(), "3m12s");
}

static void record_round_trip_keeps_outage(void**) {
  TargetState a(1, 1);
  a.apply(bad(10000));
  TargetStateRecord r = a.to_record("t", "http://x/");
  assert_int_equal(r.since_unix_ms, 10000);
  assert_int_equal(r.failures, 1);
  assert_string_equal(r.name.c_str(), "t");
  assert_string_equal(r.url.c_str(), "http://x/");
  TargetState b(1, 1);
  assert_true(same_identity(r, "t", "http://x/"));
  b.restore(r);
  assert_false(b.apply(bad(11000)).has_value());
  auto up = b.apply(ok(70000));
  assert_true(up.has_value());
  assert_int_equal(up->down_for_ms, 60000);
}

static void identity_is_name_and_url(void**) {
  TargetStateRecord r;
  r.name = "t";
  r.url = "http://y/";
  assert_false(same_identity(r, "t", "http://x/"));
  r.url = "http://x/";
  r.name = "u";
  assert_false(same_identity(r, "t", "http://x/"));
}

static void replay_onto_inherited_down_logs_no_second_down(void**) {
  TargetStateRecord inherited;
  inherited.name = "t";
  inherited.url = "http://x/";
  inherited.health = TargetHealth::Down;
  inherited.since_unix_ms = 1000;
  inherited.consecutive_failures = 4;
  inherited.last_reason = "Status code mismatch, got: 500";
  HeldOutcomes held;
  held.push(bad(5000));
  held.push(bad(6000));
  TargetState s(1, 1);
  s.restore(inherited);
  auto changes = held.replay_onto(&s);
  assert_int_equal(changes.size(), 0);
  assert_int_equal(s.to_record("t", "http://x/").since_unix_ms, 1000);
  assert_int_equal(s.to_record("t", "http://x/").consecutive_failures, 6);
}

static void replay_onto_fresh_state_logs_what_happened(void**) {
  HeldOutcomes held;
  held.push(ok(1000));
  held.push(bad(2000));
  held.push(ok(3000));
  TargetState s(1, 1);
  auto changes = held.replay_onto(&s);
  assert_int_equal(changes.size(), 2);
  assert_true(changes[0].to == TargetHealth::Down);
  assert_true(changes[1].to == TargetHealth::Up);
  assert_int_equal(changes[1].down_for_ms, 1000);
}

static void replay_onto_inherited_down_then_recovery_counts_whole_outage(void**) {
  TargetStateRecord inherited;
  inherited.name = "t";
  inherited.url = "http://x/";
  inherited.health = TargetHealth::Down;
  inherited.since_unix_ms = 1000;
  HeldOutcomes held;
  held.push(ok(193000));
  TargetState s(1, 1);
  s.restore(inherited);
  auto changes = held.replay_onto(&s);
  assert_int_equal(changes.size(), 1);
  assert_string_equal(format_outage(changes[0].down_for_ms).c_str(), "3m12s");
}

static void held_outcomes_are_bounded(void**) {
  HeldOutcomes held;
  for (int i = 0; i < 5000; ++i) held.push(bad(i));
  assert_int_equal(held.size(), HeldOutcomes::kMaxHeld);
  assert_int_equal(held.dropped(), 5000 - HeldOutcomes::kMaxHeld);
}

// Once full, the oldest outcomes go first and the rest replay in the order
// they happened.
static void full_held_outcomes_replay_the_newest_in_order(void**) {
  HeldOutcomes held;
  for (int i = 0; i < 2000; ++i) held.push(i < 1500 ? bad(i) : ok(i));
  TargetState s(1, 1);
  auto changes = held.replay_onto(&s);
  // Kept: 976..1999, failing until 1499.
  assert_int_equal(changes.size(), 2);
  assert_int_equal(static_cast<int>(changes[0].to), static_cast<int>(TargetHealth::Down));
  assert_int_equal(changes[0].at_unix_ms, 2000 - HeldOutcomes::kMaxHeld);
  assert_int_equal(static_cast<int>(changes[1].to), static_cast<int>(TargetHealth::Up));
  assert_int_equal(changes[1].down_for_ms, 1500 - (2000 - static_cast<int>(HeldOutcomes::kMaxHeld)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(healthy_start_is_silent),
      cmocka_unit_test(first_failure_goes_down_with_reason),
      cmocka_unit_test(thresholds_delay_both_changes),
      cmocka_unit_test(record_round_trip_keeps_outage),
      cmocka_unit_test(identity_is_name_and_url),
      cmocka_unit_test(replay_onto_inherited_down_logs_no_second_down),
      cmocka_unit_test(replay_onto_fresh_state_logs_what_happened),
      cmocka_unit_test(replay_onto_inherited_down_then_recovery_counts_whole_outage),
      cmocka_unit_test(held_outcomes_are_bounded),
      cmocka_unit_test(full_held_outcomes_replay_the_newest_in_order),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
