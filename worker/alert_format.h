// What an alert says on the wire: a webhook's body (the target's template
// or the default JSON object) and Alertmanager's JSON (POST /api/v2/alerts).
// Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "worker/alert_plan.h"

namespace observer {

// Who the alert is about: the target's name and its URL as it may be shown
// (secrets masked).
struct AlertSubject {
  const std::string& name;
  const std::string& url;
};

// "DOWN" or "UP", as alerts say it.
const char* alert_state_word(TargetHealth h);

// The longest failure reason an alert carries (longer ones are cut).
constexpr size_t kMaxAlertReason = 1024;

// Whether the webhook's body is JSON: its Content-Type (webhook_header.
// Content-Type; application/json when unset) says json.
bool webhook_is_json(const AlertSettings& s);
// The Content-Type a webhook is sent with.
std::string webhook_content_type(const AlertSettings& s);

// The body of webhook alert `a`, sent at `now_ms`. The template's
// placeholders ({{target}} {{url}} {{state}} {{reason}} {{down_for}}
// {{time}}) are replaced, each JSON-escaped when the body is JSON; without
// a template, the default:
//   {"target":..,"url":..,"state":"DOWN"|"UP","reason":..,"down_for":"3m12s",
//    "time":"2026-12-03T07:59:00.123Z","repeat":false}
// down_for: for DOWN how long it has been down at `now_ms`, for UP the
// outage's length; time: when it went DOWN or came UP.
std::string webhook_body(const AlertSettings& s, const AlertSubject& who, const WebhookAlert& a, int64_t now_ms);

// Webhook header `value` with its placeholders replaced; control
// characters in what they stand for become spaces (a reason cannot add a
// header line).
std::string webhook_header_value(const std::string& value, const AlertSubject& who, const WebhookAlert& a,
                                 int64_t now_ms);

// Prometheus' `instance` of a probed URL: its host and port as the URL
// gives them ("example.com", "example.com:8443", "[::1]:8080").
std::string url_instance(const std::string& url);

// One alert of Alertmanager's API: labels alertname="ObserverTargetDown",
// target, url, instance and alert_label.NAME; annotations summary and
// description (the failing check's line); startsAt, endsAt.
std::string alertmanager_alert_json(const AlertSettings& s, const AlertSubject& who, const AlertmanagerAlert& a);

}  // namespace observer
