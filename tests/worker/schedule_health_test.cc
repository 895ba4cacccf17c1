// /healthz's verdict (worker/schedule_health.h): a stalled loop, and no
// probe on schedule since, are unhealthy; probing on schedule again heals.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <cstring>
#include <string>

#include "worker/schedule_health.h"

using namespace observer;

static constexpr uint64_t kMs = 1000000;

static void healthy_while_probes_begin_on_schedule(void**) {
  ScheduleHealth h;
  assert_false(h.check(1000 * kMs, 0).empty());  // not started
  h.start(1000 * kMs, 1500 * kMs);                // tick 1 s + timeout 0.5 s
  assert_true(h.check(1100 * kMs, 0).empty());    // within the first cycle
  for (uint64_t t = 1500; t <= 9000; t += 500) h.pulse(t * kMs);
  assert_true(h.check(9000 * kMs, 8900 * kMs).empty());
  // No probe on schedule for longer than tick + timeout + slack.
  assert_false(h.check(9000 * kMs, 5000 * kMs).empty());
}

static void a_stall_is_unhealthy_until_a_probe_begins_on_schedule_after_it(void**) {
  ScheduleHealth h;
  h.start(0, 1500 * kMs);
  h.pulse(500 * kMs);
  // Stopped for 4 s: the first check after it sees the gap itself.
  std::string why = h.check(4600 * kMs, 400 * kMs);
  assert_false(why.empty());
  assert_non_null(strstr(why.c_str(), "stalled for 4.1s"));
  h.pulse(4601 * kMs);
  // A probe that began before the stall and ended after it does not heal.
  assert_false(h.check(4700 * kMs, 450 * kMs).empty());
  h.pulse(5100 * kMs);
  assert_true(h.check(5200 * kMs, 5000 * kMs).empty());
}

static void short_gaps_are_not_stalls(void**) {
  ScheduleHealth h;
  h.start(0, 1500 * kMs);
  h.pulse(2900 * kMs);  // 2.9 s late: below the 3 s limit
  assert_true(h.check(3000 * kMs, 2500 * kMs).empty());
}

// A shard that owns no target has nothing to probe: healthy while its
// loop runs, unhealthy only while it is stalled.
static void a_worker_without_targets_is_healthy_while_its_loop_runs(void**) {
  ScheduleHealth h;
  h.start(0, 0);
  for (uint64_t t = 500; t <= 60000; t += 500) h.pulse(t * kMs);
  assert_true(h.check(60100 * kMs, 0).empty());
  std::string why = h.check(64000 * kMs, 0);
  assert_non_null(strstr(why.c_str(), "stalled"));
  h.pulse(64001 * kMs);
  assert_true(h.check(64100 * kMs, 0).empty());
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(healthy_while_probes_begin_on_schedule),
      cmocka_unit_test(a_stall_is_unhealthy_until_a_probe_begins_on_schedule_after_it),
      cmocka_unit_test(short_gaps_are_not_stalls),
      cmocka_unit_test(a_worker_without_targets_is_healthy_while_its_loop_runs),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
