#include "worker/alerter.h"

#include <algorithm>
#include <chrono>

#include "common/version.h"
#include "worker/alert_format.h"
#include "worker/metrics.h"
#include "worker/target_state.h"

namespace observer {

namespace {

int64_t ms_of(Nanos d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }



}  // namespace

// A target's alert bookkeeping: its plan (the marks) and its deliveries in
// progress.
struct Alerter::Track {
  AlertTrack plan;
  bool alerting = false;        // its settings name a webhook or an Alertmanager
  bool webhook_busy = false;    // a webhook of it is in flight
  uint32_t webhook_failures = 0;
  int64_t webhook_owed_ms = 0;  // wall clock: first attempt of what is owed now (0: none)
  uint64_t webhook_next_try = 0;  // uv_now(): not before
  // Per Alertmanager of its alertmanager_url: since when an alert is owed
  // to it (wall clock, 0: none), and the endpoint.
  std::vector<int64_t> am_owed_ms;
  std::vector<Endpoint*> am_endpoint;
};

struct Alerter::Endpoint {
  std::string url;
  std::string shown;  // redacted
  bool busy = false;
  uint32_t failures = 0;
  uint64_t next_try = 0;  // uv_now()
  // The POST in flight: which target's which Alertmanager, and what it said.
  struct Item {
    uint32_t target;
    uint32_t slot;
    AlertmanagerAlert alert;
  };
  std::vector<Item> batch;
};

Alerter::Alerter(uv_loop_t* loop, Logger* log) : loop_(loop), log_(log) {}

Alerter::~Alerter() { close(); }

bool Alerter::init(std::vector<Subject> subjects, std::string* error) {
  subjects_ = std::move(subjects);
  for (const Subject& s : subjects_) active_ = active_ || s.settings->any();
  if (!active_) return true;
  tracks_.resize(subjects_.size());
  for (size_t i = 0; i < subjects_.size(); ++i) {
    const AlertSettings& s = *subjects_[i].settings;
    Track& t = tracks_[i];
    t.alerting = s.any();
    t.am_owed_ms.assign(s.alertmanager_urls.size(), 0);
    for (const std::string& url : s.alertmanager_urls) {
      auto same = [&url](const std::unique_ptr<Endpoint>& e) { return e->url == url; };
      auto it = std::find_if(endpoints_.begin(), endpoints_.end(), same);
      if (it == endpoints_.end()) {
        endpoints_.push_back(std::make_unique<Endpoint>());
        endpoints_.back()->url = url;
        endpoints_.back()->shown = redact_url(url);
        it = endpoints_.end() - 1;
      }
      t.am_endpoint.push_back(it->get());
    }
  }
  sender_ = std::make_unique<AlertSender>(loop_);
  if (!sender_->init(error)) return false;
  auto timer_init = [this](uv_timer_t* h) { return uv_timer_init(loop_, h); };
  int rc = 0;
  if ((rc = sweep_timer_.init(timer_init, this)) != 0 || (rc = kick_timer_.init(timer_init, this)) != 0 ||
      (rc = quiesce_timer_.init(timer_init, this)) != 0) {
    *error = std::string("alerts: ") + uv_strerror(rc);
    return false;
  }
  return true;
}

void Alerter::restore(size_t i, const TargetStateRecord& record) {
  if (!active_ || i >= tracks_.size()) return;
  decode_alert_marks(record.alert, record.down_reason, &tracks_[i].plan);
  tracks_[i].plan.follow(record.health, record.since_unix_ms, record.last_reason);
}

void Alerter::follow(size_t i, TargetHealth health, int64_t since_ms, const std::string& reason) {
  if (!active_ || i >= tracks_.size() || !tracks_[i].alerting) return;
  tracks_[i].plan.follow(health, since_ms, reason);
  kick();
}

void Alerter::add_to_record(size_t i, TargetStateRecord* record) const {
  if (!active_ || i >= tracks_.size()) return;
  encode_alert_marks(tracks_[i].plan, &record->alert, &record->down_reason);
}

void Alerter::start() {
  if (!active_ || started_) return;
  started_ = true;
  uv_timer_start(sweep_timer_.get(), &Alerter::on_uv_sweep, 1000, 1000);
  kick();
}

void Alerter::kick() {
  if (started_ && !quiescing_ && kick_timer_ && !uv_is_active(reinterpret_cast<uv_handle_t*>(kick_timer_.get())))
    uv_timer_start(kick_timer_.get(), &Alerter::on_uv_kick, 0, 0);
}

void Alerter::on_uv_sweep(uv_timer_t* handle) noexcept {
  if (auto* self = static_cast<Alerter*>(handle->data)) self->sweep();
}

void Alerter::on_uv_kick(uv_timer_t* handle) noexcept {
  if (auto* self = static_cast<Alerter*>(handle->data)) self->sweep();
}

uint64_t Alerter::backoff_ms(uint32_t failures) {
  uint32_t n = failures == 0 ? 0 : std::min<uint32_t>(failures - 1, 6);
  return std::min<uint64_t>(uint64_t{1000} << n, 60000);
}

void Alerter::sweep() {
  if (!started_ || quiescing_) return;
  int64_t now_ms = unix_ms_now();
  uint64_t now = uv_now(loop_);
  for (size_t i = 0; i < tracks_.size(); ++i) {
    Track& t = tracks_[i];
    if (!t.alerting) continue;
    const AlertSettings& s = *subjects_[i].settings;
    if (!t.webhook_busy && now >= t.webhook_next_try && webhooks_in_flight_ < kMaxWebhooksInFlight) {
      // Marks a silent one (an UP without alert_on_recovery) and plans again.
      for (int guard = 0; guard < 3; ++guard) {
        std::optional<WebhookAlert> a = next_webhook(t.plan, s, now_ms);
        if (!a) {
          t.webhook_owed_ms = 0;
          break;
        }
        if (a->silent) {
          mark_webhook(&t.plan, *a, now_ms);
          changed();
          continue;
        }
        if (t.webhook_owed_ms == 0) t.webhook_owed_ms = now_ms;
        send_webhook(i, *a, now_ms);
        break;
      }
    }
    for (size_t k = 0; k < t.am_endpoint.size(); ++k) {
      bool owed = next_alertmanager(t.plan, k, now_ms).has_value();
      if (!owed) t.am_owed_ms[k] = 0;
      else if (t.am_owed_ms[k] == 0) t.am_owed_ms[k] = now_ms;
    }
  }
  for (auto& e : endpoints_)
    if (!e->busy && now >= e->next_try) send_alertmanager(e.get(), now_ms);
}

void Alerter::send_webhook(size_t i, const WebhookAlert& a, int64_t now_ms) {
  const AlertSettings& s = *subjects_[i].settings;
  AlertRequest req;
  req.url = s.webhook_url;
  req.method = s.webhook_method;
  bool has_type = false;
  AlertSubject who{*subjects_[i].name, *subjects_[i].url};
  for (const auto& h : s.webhook_headers) {
    req.headers.emplace_back(h.first, webhook_header_value(h.second, who, a, now_ms));
    std::string n = h.first;
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    has_type = has_type || n == "content-type";
  }
  if (!has_type) req.headers.emplace_back("Content-Type", webhook_content_type(s));
  req.body = webhook_body(s, who, a, now_ms);
  std::string error;
  Track& t = tracks_[i];
  if (!sender_->send(std::move(req), [this, i, a](const AlertResponse& r) { webhook_done(i, a, r); }, &error)) {
    AlertResponse r;
    r.error = error;
    t.webhook_busy = true;  // webhook_done clears it
    ++webhooks_in_flight_;
    webhook_done(i, a, r);
    return;
  }
  t.webhook_busy = true;
  ++webhooks_in_flight_;
}

void Alerter::webhook_done(size_t i, const WebhookAlert& a, const AlertResponse& r) {
  Track& t = tracks_[i];
  t.webhook_busy = false;
  --webhooks_in_flight_;
  int64_t now_ms = unix_ms_now();
  const std::string& name = *subjects_[i].name;
  const AlertSettings& s = *subjects_[i].settings;
  std::string what = std::string("Webhook alert ") + alert_state_word(a.state) + (a.repeat ? " (repeat)" : "");
  std::string shown = mask_webhook_url(s.webhook_url);
  if (r.delivered) {
    ++counts_[kWebhook][kSent];
    log_->log(Level::Info, name, what + " delivered to " + shown,
              {str("alert", "webhook"), str("state", a.state == TargetHealth::Up ? "up" : "down"), num("status", r.status)});
    mark_webhook(&t.plan, a, now_ms);
    t.webhook_failures = 0;
    t.webhook_owed_ms = 0;
    changed();
  } else if (now_ms - t.webhook_owed_ms >= ms_of(s.retry_for)) {
    ++counts_[kWebhook][kDropped];
    log_->log(Level::Error, name,
              what + " to " + shown + " given up after " + format_outage(now_ms - t.webhook_owed_ms) + ": " + r.error,
              {str("alert", "webhook"), str("result", "dropped"), str("error", r.error)});
    mark_webhook(&t.plan, a, now_ms);
    t.webhook_failures = 0;
    t.webhook_owed_ms = 0;
    changed();
  } else {
    ++counts_[kWebhook][kFailed];
    ++t.webhook_failures;
    uint64_t wait = backoff_ms(t.webhook_failures);
    t.webhook_next_try = uv_now(loop_) + wait;
    log_->log(Level::Warning, name,
              what + " to " + shown + " failed: " + r.error + "; retrying in " + format_outage(static_cast<int64_t>(wait)),
              {str("alert", "webhook"), str("result", "failed"), str("error", r.error)});
  }
  if (quiescing_) maybe_quiesced();
  else kick();
}

void Alerter::send_alertmanager(Endpoint* e, int64_t now_ms) {
  e->batch.clear();
  std::string body = "[";
  for (size_t i = 0; i < tracks_.size() && e->batch.size() < kMaxAlertsPerPost; ++i) {
    Track& t = tracks_[i];
    for (size_t k = 0; k < t.am_endpoint.size(); ++k) {
      if (t.am_endpoint[k] != e) continue;
      std::optional<AlertmanagerAlert> a = next_alertmanager(t.plan, k, now_ms);
      if (!a) continue;
      if (t.am_owed_ms[k] == 0) t.am_owed_ms[k] = now_ms;
      if (e->batch.size() > 0) body += ",";
      body += alertmanager_alert_json(*subjects_[i].settings, AlertSubject{*subjects_[i].name, *subjects_[i].url}, *a);
      e->batch.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(k), *a});
    }
  }
  if (e->batch.empty()) return;
  body += "]";
  AlertRequest req;
  req.url = e->url;
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::move(body);
  std::string error;
  e->busy = true;
  if (!sender_->send(std::move(req), [this, e](const AlertResponse& r) { alertmanager_done(e, r); }, &error)) {
    AlertResponse r;
    r.error = error;
    alertmanager_done(e, r);
  }
}

void Alerter::alertmanager_done(Endpoint* e, const AlertResponse& r) {
  e->busy = false;
  int64_t now_ms = unix_ms_now();
  size_t dropped = 0;
  for (const Endpoint::Item& item : e->batch) {
    Track& t = tracks_[item.target];
    int64_t& owed = t.am_owed_ms[item.slot];
    if (r.delivered) {
      ++counts_[kAlertmanager][kSent];
    } else if (now_ms - owed >= ms_of(subjects_[item.target].settings->retry_for)) {
      ++counts_[kAlertmanager][kDropped];
      ++dropped;
    } else {
      ++counts_[kAlertmanager][kFailed];
      continue;
    }
    mark_alertmanager(&t.plan, item.slot, item.alert, now_ms);
    owed = 0;
  }
  if (r.delivered) {
    e->failures = 0;
    changed();
  } else {
    ++e->failures;
    uint64_t wait = backoff_ms(e->failures);
    e->next_try = uv_now(loop_) + wait;
    std::string n = std::to_string(e->batch.size());
    log_->log(Level::Warning, "",
              "Alertmanager " + e->shown + " did not take " + n + (e->batch.size() == 1 ? " alert: " : " alerts: ") +
                  r.error + "; retrying in " + format_outage(static_cast<int64_t>(wait)),
              {str("alert", "alertmanager"), str("result", "failed"), str("error", r.error)});
    if (dropped > 0) {
      log_->log(Level::Error, "",
                "Alertmanager " + e->shown + ": " + std::to_string(dropped) +
                    " alerts given up after alert_retry_for: " + r.error,
                {str("alert", "alertmanager"), str("result", "dropped"), num("alerts", static_cast<int64_t>(dropped))});
      changed();
    }
  }
  e->batch.clear();
  if (quiescing_) maybe_quiesced();
  else if (r.delivered) kick();  // more may be owed than one POST carried
}

void Alerter::changed() {
  if (marks_changed_) marks_changed_();
}

void Alerter::quiesce(uint64_t limit_ms, std::function<void()> done) {
  quiesced_ = std::move(done);
  quiescing_ = true;
  if (!active_) {
    // Nothing was ever sent: done at once (from the loop, as promised).
    if (!quiesce_timer_) {
      auto fn = std::move(quiesced_);
      quiesced_ = nullptr;
      if (fn) fn();
      return;
    }
  }
  if (sweep_timer_) uv_timer_stop(sweep_timer_.get());
  if (kick_timer_) uv_timer_stop(kick_timer_.get());
  uv_timer_start(quiesce_timer_.get(), &Alerter::on_uv_quiesce_limit, sender_->in_flight() == 0 ? 0 : limit_ms, 0);
}

void Alerter::on_uv_quiesce_limit(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Alerter*>(handle->data);
  if (self == nullptr) return;
  if (self->sender_->in_flight() > 0) {
    self->log_->warning("Alerts still in flight at exit were cancelled: " + std::to_string(self->sender_->in_flight()) +
                        " (they are sent again by the next worker, or after the next start)");
    self->sender_->cancel_all();
  }
  auto fn = std::move(self->quiesced_);
  self->quiesced_ = nullptr;
  if (fn) fn();
}

void Alerter::hurry() {
  if (quiescing_ && quiesce_timer_) uv_timer_start(quiesce_timer_.get(), &Alerter::on_uv_quiesce_limit, 0, 0);
}

void Alerter::maybe_quiesced() {
  if (sender_->in_flight() == 0 && quiesce_timer_) uv_timer_start(quiesce_timer_.get(), &Alerter::on_uv_quiesce_limit, 0, 0);
}

void Alerter::close() {
  if (sender_) sender_->close();
  sweep_timer_.close();
  kick_timer_.close();
  quiesce_timer_.close();
}

void Alerter::write_metrics(std::string* out) const {
  append_family(out, "observer_alerts_total", "counter",
                "Alert deliveries by channel and result: sent, failed (retried later), dropped (given up after "
                "alert_retry_for).");
  static const char* const kChannels[] = {"webhook", "alertmanager"};
  static const char* const kResults[] = {"sent", "failed", "dropped"};
  for (int c = 0; c < 2; ++c)
    for (int r = 0; r < 3; ++r) {
      *out += "observer_alerts_total{channel=\"";
      *out += kChannels[c];
      *out += "\",result=\"";
      *out += kResults[r];
      *out += "\"} ";
      *out += std::to_string(counts_[c][r]);
      *out += '\n';
    }
}

}  // namespace observer
