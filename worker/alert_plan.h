// AlertTrack and the planner: what a target's alerts still owe, decided from
// what the target is (UP/DOWN since when) and what has been delivered, never
// from a queue of events. So a reload or a restart carries two small marks
// per channel, not a queue: the successor (or the next start) plans from the
// same marks and neither repeats what was delivered nor drops what was not.
//
// Webhook: DOWN once per outage (since = the instant it went DOWN), then UP
// once when alert_on_recovery; alert_repeat resends DOWN while it lasts. An
// outage that began and ended before its DOWN was delivered still gets its
// DOWN, then its UP (the track keeps the latest outage's start and reason);
// only an older outage, two behind, is folded into the latest.
//
// Alertmanager (per URL, by its position in alertmanager_url): a firing
// alert (startsAt = since) on DOWN and every kAlertmanagerResend while DOWN,
// as Prometheus does, with endsAt kAlertmanagerValidFor ahead so that it
// resolves by itself if observer is gone; on UP a resolved one (endsAt = the
// instant it came UP). Alertmanager deduplicates resends.
//
// Pure: the caller passes wall-clock times (unix ms) in; no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/control.h"

namespace observer {

constexpr std::chrono::milliseconds kAlertmanagerResend{60000};
constexpr std::chrono::milliseconds kAlertmanagerValidFor{4 * 60000};

// What a channel delivered last: the health it announced and since when
// (the target's since_unix_ms then), and when it was sent.
struct AlertMark {
  TargetHealth health = TargetHealth::Unknown;
  int64_t since_ms = 0;
  int64_t sent_ms = 0;
};

struct AlertTrack {
  // The target, as TargetState says.
  TargetHealth health = TargetHealth::Unknown;
  int64_t since_ms = 0;
  // Its latest outage: when it began (0: none seen) and why.
  int64_t down_since_ms = 0;
  std::string down_reason;
  AlertMark webhook;
  std::vector<AlertMark> alertmanager;  // by position in alertmanager_url

  // The target is now `health` since `since_ms`; `reason` when DOWN.
  void follow(TargetHealth health, int64_t since_ms, const std::string& reason);
};

struct WebhookAlert {
  TargetHealth state = TargetHealth::Down;  // Down or Up
  int64_t since_ms = 0;                     // when it went DOWN, or came UP
  std::string reason;                       // DOWN: why
  int64_t down_for_ms = 0;                  // UP: how long it was DOWN
  bool repeat = false;                      // alert_repeat's resend of a DOWN
  bool silent = false;                      // UP without alert_on_recovery: mark it, send nothing
};

// The webhook alert `t` owes at `now_ms`, or none.
std::optional<WebhookAlert> next_webhook(const AlertTrack& t, const AlertSettings& s, int64_t now_ms);
// `a` was delivered (or given up on) at `now_ms`.
void mark_webhook(AlertTrack* t, const WebhookAlert& a, int64_t now_ms);

struct AlertmanagerAlert {
  bool firing = true;
  int64_t starts_ms = 0;
  int64_t ends_ms = 0;  // firing: now + kAlertmanagerValidFor; resolved: when it came UP
  std::string reason;
};

// The alert `t` owes Alertmanager number `i` at `now_ms`, or none.
std::optional<AlertmanagerAlert> next_alertmanager(const AlertTrack& t, size_t i, int64_t now_ms);
void mark_alertmanager(AlertTrack* t, size_t i, const AlertmanagerAlert& a, int64_t now_ms);

// The track's marks as a record carries them (control.h: alert,
// down_reason), and back. A record without marks leaves a fresh track; a
// mark of unknown health is dropped. The target's health is not in them:
// it is the record's own.
void encode_alert_marks(const AlertTrack& t, std::vector<uint64_t>* words, std::string* down_reason);
void decode_alert_marks(const std::vector<uint64_t>& words, const std::string& down_reason, AlertTrack* t);

}  // namespace observer
