// What a target's alerts owe (alert_plan.h) and what they say on the wire
// (alert_format.h).
#include <nlohmann/json.hpp>

#include <string>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include "worker/alert_format.h"
#include "worker/alert_plan.h"

using namespace observer;
using nlohmann::json;

namespace {

AlertSettings webhook_settings() {
  AlertSettings s;
  s.webhook_url = "http://127.0.0.1:9/hook";
  s.retry_for = std::chrono::minutes(10);
  return s;
}

int health(TargetHealth h) { return static_cast<int>(h); }

void down_once_then_up_once(void**) {
  AlertSettings s = webhook_settings();
  AlertTrack t;
  assert_false(next_webhook(t, s, 0).has_value());  // unknown: nothing
  t.follow(TargetHealth::Up, 1000, "");
  assert_false(next_webhook(t, s, 1000).has_value());  // a healthy start says nothing
  t.follow(TargetHealth::Down, 2000, "Status 503");
  auto a = next_webhook(t, s, 2000);
  assert_true(a.has_value());
  assert_int_equal(health(a->state), health(TargetHealth::Down));
  assert_int_equal(a->since_ms, 2000);
  assert_string_equal(a->reason.c_str(), "Status 503");
  assert_false(a->repeat);
  mark_webhook(&t, *a, 2100);
  assert_false(next_webhook(t, s, 900000).has_value());  // once per outage (no alert_repeat)
  t.follow(TargetHealth::Up, 62000, "");
  a = next_webhook(t, s, 62000);
  assert_true(a.has_value());
  assert_int_equal(health(a->state), health(TargetHealth::Up));
  assert_int_equal(a->down_for_ms, 60000);
  assert_false(a->silent);
  mark_webhook(&t, *a, 62000);
  assert_false(next_webhook(t, s, 99999999).has_value());
}

void recovery_can_be_silent(void**) {
  AlertSettings s = webhook_settings();
  s.on_recovery = false;
  AlertTrack t;
  t.follow(TargetHealth::Down, 2000, "x");
  mark_webhook(&t, *next_webhook(t, s, 2000), 2000);
  t.follow(TargetHealth::Up, 5000, "");
  auto a = next_webhook(t, s, 5000);
  assert_true(a.has_value() && a->silent);
  mark_webhook(&t, *a, 5000);
  assert_false(next_webhook(t, s, 5000).has_value());
}

void repeat_resends_while_down(void**) {
  AlertSettings s = webhook_settings();
  s.repeat = std::chrono::minutes(5);
  AlertTrack t;
  t.follow(TargetHealth::Down, 0, "x");
  mark_webhook(&t, *next_webhook(t, s, 0), 0);
  assert_false(next_webhook(t, s, 299999).has_value());
  auto a = next_webhook(t, s, 300000);
  assert_true(a.has_value() && a->repeat);
  mark_webhook(&t, *a, 300000);
  assert_false(next_webhook(t, s, 300001).has_value());
}

// An outage that ended before its DOWN was delivered (the receiver was
// down) still gets its DOWN, then its UP.
void an_outage_never_announced_is_announced_late(void**) {
  AlertSettings s = webhook_settings();
  AlertTrack t;
  t.follow(TargetHealth::Up, 0, "");
  t.follow(TargetHealth::Down, 1000, "refused");
  t.follow(TargetHealth::Up, 5000, "");
  auto a = next_webhook(t, s, 6000);
  assert_true(a.has_value());
  assert_int_equal(health(a->state), health(TargetHealth::Down));
  assert_int_equal(a->since_ms, 1000);
  assert_string_equal(a->reason.c_str(), "refused");
  mark_webhook(&t, *a, 6000);
  a = next_webhook(t, s, 6000);
  assert_true(a.has_value());
  assert_int_equal(health(a->state), health(TargetHealth::Up));
  assert_int_equal(a->down_for_ms, 4000);
  mark_webhook(&t, *a, 6000);
  assert_false(next_webhook(t, s, 6000).has_value());
}

// A record carries the marks: the successor owes exactly what was not
// delivered, whatever the predecessor had in flight.
void marks_survive_a_record(void**) {
  AlertSettings s = webhook_settings();
  s.alertmanager_urls = {"http://127.0.0.1:9/api/v2/alerts", "http://127.0.0.1:10/api/v2/alerts"};
  AlertTrack t;
  t.follow(TargetHealth::Down, 7000, "Status 500");
  mark_webhook(&t, *next_webhook(t, s, 7000), 7100);
  mark_alertmanager(&t, 1, *next_alertmanager(t, 1, 7000), 7200);
  std::vector<uint64_t> words;
  std::string reason;
  encode_alert_marks(t, &words, &reason);
  AlertTrack u;
  decode_alert_marks(words, reason, &u);
  u.follow(TargetHealth::Down, 7000, "Status 500");
  assert_false(next_webhook(u, s, 8000).has_value());      // delivered: not again
  assert_true(next_alertmanager(u, 0, 8000).has_value());  // never sent to the first
  assert_false(next_alertmanager(u, 1, 8000).has_value()); // sent to the second a second ago
  assert_true(next_alertmanager(u, 1, 7200 + kAlertmanagerResend.count()).has_value());
  // Nothing alerted: no words, and a record as before alerts.
  AlertTrack fresh;
  encode_alert_marks(fresh, &words, &reason);
  assert_true(words.empty());
  // Garbage words leave marks unknown, never a wrong state.
  decode_alert_marks({1, 77, 1, 2}, "", &fresh);
  assert_int_equal(health(fresh.webhook.health), health(TargetHealth::Unknown));
}

void alertmanager_fires_resends_and_resolves(void**) {
  AlertTrack t;
  t.follow(TargetHealth::Down, 10000, "timeout");
  auto a = next_alertmanager(t, 0, 10000);
  assert_true(a.has_value() && a->firing);
  assert_int_equal(a->starts_ms, 10000);
  assert_int_equal(a->ends_ms, 10000 + kAlertmanagerValidFor.count());
  mark_alertmanager(&t, 0, *a, 10000);
  assert_false(next_alertmanager(t, 0, 69999).has_value());
  assert_true(next_alertmanager(t, 0, 70000).has_value());  // re-sent every minute
  t.follow(TargetHealth::Up, 80000, "");
  a = next_alertmanager(t, 0, 80000);
  assert_true(a.has_value() && !a->firing);
  assert_int_equal(a->starts_ms, 10000);
  assert_int_equal(a->ends_ms, 80000);
  mark_alertmanager(&t, 0, *a, 80000);
  assert_false(next_alertmanager(t, 0, 999999).has_value());
}

void default_body_is_json(void**) {
  AlertSettings s = webhook_settings();
  std::string name = "shop \"eu\"", url = "https://shop.example/health";
  WebhookAlert a;
  a.since_ms = 1796256000000;  // 2026-12-03T00:00:00Z
  a.reason = "Status 503\n";
  json j = json::parse(webhook_body(s, AlertSubject{name, url}, a, a.since_ms + 192000));
  assert_string_equal(j["target"].get<std::string>().c_str(), "shop \"eu\"");
  assert_string_equal(j["state"].get<std::string>().c_str(), "DOWN");
  assert_string_equal(j["reason"].get<std::string>().c_str(), "Status 503\n");
  assert_string_equal(j["down_for"].get<std::string>().c_str(), "3m12s");
  assert_string_equal(j["time"].get<std::string>().c_str(), "2026-12-03T00:00:00.000Z");
  assert_false(j["repeat"].get<bool>());
}

void template_escapes_only_json(void**) {
  AlertSettings s = webhook_settings();
  s.webhook_body = "{\"text\":\"{{target}} is {{state}}: {{reason}} {{bogus}}\"}";
  std::string name = "a\"b", url = "http://x/";
  WebhookAlert a;
  a.reason = "quote \" and\nline";
  std::string body = webhook_body(s, AlertSubject{name, url}, a, 0);
  json j = json::parse(body);  // still valid JSON
  assert_string_equal(j["text"].get<std::string>().c_str(), "a\"b is DOWN: quote \" and\nline {{bogus}}");
  s.webhook_headers = {{"Content-Type", "text/plain"}};
  s.webhook_body = "{{target}} {{state}} {{reason}}";
  assert_string_equal(webhook_body(s, AlertSubject{name, url}, a, 0).c_str(), "a\"b DOWN quote \" and\nline");
  assert_false(webhook_is_json(s));
}

void a_long_reason_is_cut_at_a_character(void**) {
  AlertSettings s = webhook_settings();
  std::string name = "t", url = "http://x/";
  WebhookAlert a;
  a.reason = "Server header mismatch, got: " + std::string(60000, 'x');
  a.reason.replace(kMaxAlertReason - 1, 2, "\xc3\xa9");  // a two-byte character across the cut
  json j = json::parse(webhook_body(s, AlertSubject{name, url}, a, 0));
  std::string r = j["reason"].get<std::string>();
  assert_true(r.size() <= kMaxAlertReason + 3);
  assert_string_equal(r.substr(r.size() - 3).c_str(), "...");
  assert_int_equal(r.size(), kMaxAlertReason - 1 + 3);  // the character is left out whole
  AlertmanagerAlert m;
  m.reason = a.reason;
  json k = json::parse(alertmanager_alert_json(s, AlertSubject{name, url}, m));
  assert_true(k["annotations"]["description"].get<std::string>().size() <= kMaxAlertReason + 3);
}

void alertmanager_json_has_the_labels(void**) {
  AlertSettings s;
  s.labels = {{"team", "web"}};
  std::string name = "shop", url = "https://u:****@shop.example:8443/health?x=1";
  AlertmanagerAlert a;
  a.starts_ms = 0;
  a.ends_ms = 1000;
  a.reason = "Status 503";
  json j = json::parse(alertmanager_alert_json(s, AlertSubject{name, url}, a));
  assert_string_equal(j["labels"]["alertname"].get<std::string>().c_str(), "ObserverTargetDown");
  assert_string_equal(j["labels"]["target"].get<std::string>().c_str(), "shop");
  assert_string_equal(j["labels"]["instance"].get<std::string>().c_str(), "shop.example:8443");
  assert_string_equal(j["labels"]["team"].get<std::string>().c_str(), "web");
  assert_string_equal(j["annotations"]["description"].get<std::string>().c_str(), "Status 503");
  assert_string_equal(j["startsAt"].get<std::string>().c_str(), "1970-01-01T00:00:00.000Z");
  assert_string_equal(j["endsAt"].get<std::string>().c_str(), "1970-01-01T00:00:01.000Z");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(down_once_then_up_once),
      cmocka_unit_test(recovery_can_be_silent),
      cmocka_unit_test(repeat_resends_while_down),
      cmocka_unit_test(an_outage_never_announced_is_announced_late),
      cmocka_unit_test(marks_survive_a_record),
      cmocka_unit_test(alertmanager_fires_resends_and_resolves),
      cmocka_unit_test(default_body_is_json),
      cmocka_unit_test(template_escapes_only_json),
      cmocka_unit_test(a_long_reason_is_cut_at_a_character),
      cmocka_unit_test(alertmanager_json_has_the_labels),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
