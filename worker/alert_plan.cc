#include "worker/alert_plan.h"

namespace observer {

void AlertTrack::follow(TargetHealth h, int64_t since, const std::string& reason) {
  if (h == TargetHealth::Down && (health != TargetHealth::Down || since_ms != since)) {
    down_since_ms = since;
    down_reason = reason;
  }
  health = h;
  since_ms = since;
}

std::optional<WebhookAlert> next_webhook(const AlertTrack& t, const AlertSettings& s, int64_t now_ms) {
  if (s.webhook_url.empty()) return std::nullopt;
  const AlertMark& m = t.webhook;
  WebhookAlert a;
  if (t.health == TargetHealth::Down) {
    a.since_ms = t.since_ms;
    a.reason = t.down_reason;
    if (m.health == TargetHealth::Down && m.since_ms == t.since_ms) {
      if (s.repeat.count() <= 0 || now_ms - m.sent_ms < std::chrono::duration_cast<std::chrono::milliseconds>(s.repeat).count())
        return std::nullopt;
      a.repeat = true;
    }
    return a;
  }
  if (t.health != TargetHealth::Up) return std::nullopt;
  // Its latest outage was never announced (it ended first): its DOWN now.
  if (t.down_since_ms != 0 && t.down_since_ms < t.since_ms && m.since_ms < t.down_since_ms) {
    a.since_ms = t.down_since_ms;
    a.reason = t.down_reason;
    return a;
  }
  if (m.health != TargetHealth::Down) return std::nullopt;
  a.state = TargetHealth::Up;
  a.since_ms = t.since_ms;
  a.down_for_ms = t.since_ms > m.since_ms ? t.since_ms - m.since_ms : 0;
  a.silent = !s.on_recovery;
  return a;
}

void mark_webhook(AlertTrack* t, const WebhookAlert& a, int64_t now_ms) {
  t->webhook.health = a.state;
  t->webhook.since_ms = a.since_ms;
  t->webhook.sent_ms = now_ms;
}

std::optional<AlertmanagerAlert> next_alertmanager(const AlertTrack& t, size_t i, int64_t now_ms) {
  AlertMark m = i < t.alertmanager.size() ? t.alertmanager[i] : AlertMark();
  AlertmanagerAlert a;
  if (t.health == TargetHealth::Down) {
    if (m.health == TargetHealth::Down && m.since_ms == t.since_ms && now_ms - m.sent_ms < kAlertmanagerResend.count())
      return std::nullopt;
    a.starts_ms = t.since_ms;
    a.ends_ms = now_ms + kAlertmanagerValidFor.count();
    a.reason = t.down_reason;
    return a;
  }
  if (t.health != TargetHealth::Up || m.health != TargetHealth::Down) return std::nullopt;
  a.firing = false;
  a.starts_ms = m.since_ms;
  a.ends_ms = t.since_ms;
  a.reason = t.down_reason;
  return a;
}

void mark_alertmanager(AlertTrack* t, size_t i, const AlertmanagerAlert& a, int64_t now_ms) {
  if (t->alertmanager.size() <= i) t->alertmanager.resize(i + 1);
  AlertMark& m = t->alertmanager[i];
  m.health = a.firing ? TargetHealth::Down : TargetHealth::Up;
  m.since_ms = a.firing ? a.starts_ms : a.ends_ms;
  m.sent_ms = now_ms;
}

// Words: down_since, then 3 per mark (health, since, sent): the webhook's,
// then each Alertmanager's.
void encode_alert_marks(const AlertTrack& t, std::vector<uint64_t>* words, std::string* down_reason) {
  words->clear();
  down_reason->clear();
  bool any = t.down_since_ms != 0 || t.webhook.health != TargetHealth::Unknown;
  for (const AlertMark& m : t.alertmanager) any = any || m.health != TargetHealth::Unknown;
  if (!any) return;
  auto put = [words](const AlertMark& m) {
    words->push_back(static_cast<uint64_t>(m.health));
    words->push_back(static_cast<uint64_t>(m.since_ms));
    words->push_back(static_cast<uint64_t>(m.sent_ms));
  };
  words->push_back(static_cast<uint64_t>(t.down_since_ms));
  put(t.webhook);
  for (const AlertMark& m : t.alertmanager) put(m);
  *down_reason = t.down_reason;
}

void decode_alert_marks(const std::vector<uint64_t>& words, const std::string& down_reason, AlertTrack* t) {
  if (words.empty()) return;
  t->down_since_ms = static_cast<int64_t>(words[0]);
  t->down_reason = down_reason;
  auto get = [&words](size_t at) {
    AlertMark m;
    if (words[at] == static_cast<uint64_t>(TargetHealth::Up) || words[at] == static_cast<uint64_t>(TargetHealth::Down)) {
      m.health = static_cast<TargetHealth>(words[at]);
      m.since_ms = static_cast<int64_t>(words[at + 1]);
      m.sent_ms = static_cast<int64_t>(words[at + 2]);
    }
    return m;
  };
  size_t at = 1;
  if (at + 3 <= words.size()) t->webhook = get(at);
  at += 3;
  t->alertmanager.clear();
  for (; at + 3 <= words.size(); at += 3) t->alertmanager.push_back(get(at));
}

}  // namespace observer
