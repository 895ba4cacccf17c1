// The status page's per-target history (worker/history.h): the ring of the
// last probes, uptime over the last hour and day, and the round trip through
// TargetStateRecord::counters that carries it over a reload.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <cmath>
#include <string>
#include <vector>

#include "common/control.h"
#include "worker/history.h"
#include "worker/metrics.h"
#include "worker/status_page.h"

using namespace observer;

static constexpr int64_t kMinute = 60 * 1000;
static constexpr int64_t kT0 = 1795996800000;  // on a whole hour

static bool same(const ProbeHistory& a, const ProbeHistory& b) {
  std::vector<uint64_t> wa, wb;
  a.encode(&wa);
  b.encode(&wb);
  return wa == wb;
}

static void near(double got, double want) {
  if (std::fabs(got - want) > 0.005) fail_msg("got %f, want %f", got, want);
}

static void empty_history_has_no_uptime(void**) {
  ProbeHistory h;
  assert_int_equal(h.size(), 0);
  assert_false(h.uptime_last_hour(kT0).has_value());
  assert_false(h.uptime_last_day(kT0).has_value());
}

static void ring_keeps_the_last_60_probes_oldest_first(void**) {
  ProbeHistory h;
  for (int i = 0; i < 75; ++i) h.record(kT0 + i * 1000, i % 5 != 0, i / 1000.0);
  assert_int_equal(h.size(), ProbeHistory::kProbes);
  for (size_t i = 0; i < h.size(); ++i) {
    int probe = 15 + static_cast<int>(i);
    assert_int_equal(h.duration_ms(i), probe);
    assert_int_equal(h.ok(i), probe % 5 != 0);
  }
  assert_int_equal(h.last_unix_ms(), kT0 + 74 * 1000);
}

static void durations_saturate_at_u16(void**) {
  ProbeHistory h;
  h.record(kT0, true, 100.0);  // 100 s
  h.record(kT0, true, -1.0);
  assert_int_equal(h.duration_ms(0), 65535);
  assert_int_equal(h.duration_ms(1), 0);
}

static void uptime_of_the_last_hour_weighs_each_minute_alike(void**) {
  ProbeHistory h;
  // Minute 0: 4 probes, all pass. Minute 1: 2 probes, 1 fails. Minute 2: 1 fail.
  for (int i = 0; i < 4; ++i) h.record(kT0 + i * 10000, true, 0.01);
  h.record(kT0 + kMinute, true, 0.01);
  h.record(kT0 + kMinute + 1000, false, 0.01);
  h.record(kT0 + 2 * kMinute, false, 0.01);
  near(*h.uptime_last_hour(kT0 + 2 * kMinute + 1), (1.0 + 0.5 + 0.0) / 3);
  // An hour later the first two minutes have left the window...
  near(*h.uptime_last_hour(kT0 + 61 * kMinute + 1), 0.0);
  // ...and two hours later nothing is in it; the day still has them.
  assert_false(h.uptime_last_hour(kT0 + 120 * kMinute).has_value());
  assert_true(h.uptime_last_day(kT0 + 120 * kMinute).has_value());
  assert_false(h.uptime_last_day(kT0 + 25 * 60 * kMinute).has_value());
}

static void uptime_of_the_day_spans_hours_and_gaps(void**) {
  ProbeHistory h;
  int64_t hour = 60 * kMinute;
  int64_t start = (kT0 / hour) * hour;
  h.record(start, true, 0.01);                 // hour 0: 100 %
  h.record(start + 3 * hour, false, 0.01);     // hour 3: 0 % (hours 1, 2: no probe)
  h.record(start + 3 * hour + 1000, true, 0.01);  // hour 3: 50 %
  near(*h.uptime_last_day(start + 3 * hour + 2000), 0.75);
  // A gap of more than a day forgets everything before it.
  h.record(start + 40 * hour, true, 0.01);
  near(*h.uptime_last_day(start + 40 * hour), 1.0);
  near(*h.uptime_last_hour(start + 40 * hour), 1.0);
}

static void encoding_round_trips_through_a_state_record(void**) {
  ProbeHistory h;
  for (int i = 0; i < 200; ++i) h.record(kT0 + i * 37000, i % 7 != 3, (i % 13) / 100.0);
  TargetCounters c;
  c.success = 5;
  c.failures[2] = 9;
  LastProbe last;
  last.known = true;
  last.status = 503;
  last.cert_expiry_unix = 1800000000;
  std::vector<uint64_t> words = encode_target_metrics(c, last, &h);
  assert_true(words.size() <= kMaxTargetCounters);
  // Through the control channel's own encoding, as a reload carries it.
  ControlMessage m;
  m.type = MessageType::TargetState;
  m.state.name = "a";
  m.state.counters = words;
  ControlDecoder dec;
  std::string wire = encode_message(m), error;
  assert_true(dec.feed(wire.data(), wire.size(), &error));
  ControlMessage back;
  assert_true(dec.next(&back));
  TargetCounters c2;
  LastProbe last2;
  ProbeHistory h2;
  decode_target_metrics(back.state.counters, &c2, &last2, &h2);
  assert_true(same(h, h2));
  assert_int_equal(c2.success, 5);
  assert_int_equal(c2.failures[2], 9);
  assert_int_equal(last2.status, 503);
  assert_int_equal(last2.cert_expiry_unix, 1800000000);
  near(*h2.uptime_last_hour(kT0 + 200 * 37000), *h.uptime_last_hour(kT0 + 200 * 37000));
  near(*h2.uptime_last_day(kT0 + 200 * 37000), *h.uptime_last_day(kT0 + 200 * 37000));
}

static void a_record_without_history_decodes_empty(void**) {
  // A worker from before the history: its 23 words only.
  std::vector<uint64_t> words = encode_target_metrics(TargetCounters(), LastProbe());
  ProbeHistory h;
  h.record(kT0, true, 0.1);
  TargetCounters c;
  LastProbe last;
  decode_target_metrics(words, &c, &last, &h);
  assert_int_equal(h.size(), 0);
  // Malformed: an index out of range.
  ProbeHistory full;
  full.record(kT0, true, 0.1);
  std::vector<uint64_t> w;
  full.encode(&w);
  w[0] = (uint64_t{1} << 63) | 200;
  h.decode(w.data(), w.size());
  assert_int_equal(h.size(), 0);
}

static void append_puts_the_newer_probes_after_the_older(void**) {
  ProbeHistory older, newer;
  for (int i = 0; i < 59; ++i) older.record(kT0 + i * 1000, true, 0.001 * i);
  newer.record(kT0 + 59 * 1000, false, 0.5);
  newer.record(kT0 + 59 * 1000 + 500, true, 0.6);
  older.append(newer);
  assert_int_equal(older.size(), 60);
  assert_int_equal(older.duration_ms(0), 1);
  assert_int_equal(older.duration_ms(58), 500);
  assert_false(older.ok(58));
  assert_int_equal(older.duration_ms(59), 600);
  assert_int_equal(older.last_unix_ms(), kT0 + 59 * 1000 + 500);
  // The minute's counts are the sum of both: 60 of 61 passed.
  near(*older.uptime_last_hour(kT0 + 61 * 1000), 60.0 / 61);
}

static void html_escape_escapes_markup_and_quotes(void**) {
  assert_string_equal(html_escape("<a href=\"x\">'&'</a>").c_str(),
                      "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(empty_history_has_no_uptime),
      cmocka_unit_test(ring_keeps_the_last_60_probes_oldest_first),
      cmocka_unit_test(durations_saturate_at_u16),
      cmocka_unit_test(uptime_of_the_last_hour_weighs_each_minute_alike),
      cmocka_unit_test(uptime_of_the_day_spans_hours_and_gaps),
      cmocka_unit_test(encoding_round_trips_through_a_state_record),
      cmocka_unit_test(a_record_without_history_decodes_empty),
      cmocka_unit_test(append_puts_the_newer_probes_after_the_older),
      cmocka_unit_test(html_escape_escapes_markup_and_quotes),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
