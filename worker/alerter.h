// Alerter: delivers each target's alerts (alert_plan.h says which are owed)
// through its webhook and its Alertmanagers (alert_sender.h), on the
// worker's loop, without ever holding up a probe.
//
//  - Sweeps: once a second, and soon after a change (follow()), every
//    alerting target is asked what it owes; a target's webhook alerts go out
//    one at a time, in order (a DOWN before its UP). At most
//    kMaxWebhooksInFlight webhooks at once; the rest wait for the next sweep
//    (what waits is the targets' marks, so the queue is bounded by the
//    number of targets, whatever the receiver does).
//  - Alertmanager: one POST per Alertmanager at a time, carrying every alert
//    owed to it (at most kMaxAlertsPerPost), as Prometheus batches them.
//  - A failed delivery is logged with its reason, counted, and retried with
//    exponential back-off (1 s doubling, at most a minute apart) until
//    alert_retry_for has passed since it was first owed; then it is given
//    up (logged, counted as dropped) and marked as if delivered.
//  - observer_alerts_total{channel,result}: sent, failed (an attempt that
//    will be retried), dropped (given up).
//
// Marks travel with the target's record (restore(), add_to_record()) over a
// reload and, through the state file, a restart. quiesce() lets the
// requests in flight end (bounded) before a worker hands its records over,
// so an alert is either delivered and marked, or owed and sent by whoever
// comes next; never both.
//
// Loop thread only; close() before the loop is closed.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/control.h"
#include "common/logger.h"
#include "common/uv_handle.h"
#include "worker/alert_plan.h"
#include "worker/alert_sender.h"

namespace observer {

class Alerter {
 public:
  static constexpr size_t kMaxWebhooksInFlight = 16;
  static constexpr size_t kMaxAlertsPerPost = 500;

  // A target as the alerter sees it; the pointers outlive the Alerter (the
  // engine's targets are never moved after load).
  struct Subject {
    const std::string* name;
    const std::string* url;  // as it may be shown (secrets masked)
    const AlertSettings* settings;
  };

  Alerter(uv_loop_t* loop, Logger* log);
  ~Alerter();
  Alerter(const Alerter&) = delete;
  Alerter& operator=(const Alerter&) = delete;

  // One Subject per engine target, in its order. Without any alerting
  // target it opens nothing and every call below is cheap.
  bool init(std::vector<Subject> subjects, std::string* error);
  bool active() const { return active_; }

  // Target `i`'s marks from its record (a reload's or the state file's).
  void restore(size_t i, const TargetStateRecord& record);
  // Target `i` is now `health` since `since_ms` (`reason`: why DOWN).
  void follow(size_t i, TargetHealth health, int64_t since_ms, const std::string& reason);
  // Target `i`'s marks into its record.
  void add_to_record(size_t i, TargetStateRecord* record) const;

  // Delivering begins (after the hand-over: what is owed is known).
  void start();
  // No new delivery starts; `done` runs (from the loop) once none is in
  // flight, or after `limit_ms`, when the rest are cancelled unmarked.
  void quiesce(uint64_t limit_ms, std::function<void()> done);
  // While quiescing: stop waiting (as if the limit had passed).
  void hurry();
  void close();

  // Runs after marks change (the state file wants writing).
  void on_marks_changed(std::function<void()> fn) { marks_changed_ = std::move(fn); }
  void write_metrics(std::string* out) const;

 private:
  struct Track;
  struct Endpoint;
  enum Channel { kWebhook = 0, kAlertmanager = 1 };
  enum Result { kSent = 0, kFailed = 1, kDropped = 2 };

  static void on_uv_sweep(uv_timer_t* handle) noexcept;
  static void on_uv_kick(uv_timer_t* handle) noexcept;
  static void on_uv_quiesce_limit(uv_timer_t* handle) noexcept;

  void sweep();
  void kick();
  void send_webhook(size_t i, const WebhookAlert& a, int64_t now_ms);
  void webhook_done(size_t i, const WebhookAlert& a, const AlertResponse& r);
  void send_alertmanager(Endpoint* e, int64_t now_ms);
  void alertmanager_done(Endpoint* e, const AlertResponse& r);
  void maybe_quiesced();
  void changed();
  // The back-off after `failures` failed attempts.
  static uint64_t backoff_ms(uint32_t failures);

  uv_loop_t* loop_;
  Logger* log_;
  std::vector<Subject> subjects_;
  std::vector<Track> tracks_;  // by target; empty when not active
  std::vector<std::unique_ptr<Endpoint>> endpoints_;  // one per distinct Alertmanager URL
  std::unique_ptr<AlertSender> sender_;
  UvHandle<uv_timer_t> sweep_timer_, kick_timer_, quiesce_timer_;
  std::function<void()> marks_changed_;
  std::function<void()> quiesced_;
  size_t webhooks_in_flight_ = 0;
  uint64_t counts_[2][3] = {};  // [channel][result]
  bool active_ = false;
  bool started_ = false;
  bool quiescing_ = false;
};

}  // namespace observer
