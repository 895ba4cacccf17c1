#include "worker/target_state.h"

#include "common/duration.h"

namespace observer {

TargetState::TargetState(int failure_threshold, int success_threshold)
    : failure_threshold_(static_cast<uint32_t>(failure_threshold < 1 ? 1 : failure_threshold)),
      success_threshold_(static_cast<uint32_t>(success_threshold < 1 ? 1 : success_threshold)) {}

std::optional<StateChange> TargetState::apply(const ProbeOutcome& o) {
  ++probes_;
  if (o.ok) {
    consecutive_failures_ = 0;
    ++consecutive_successes_;
    if (health_ == TargetHealth::Up || consecutive_successes_ < success_threshold_) return std::nullopt;
    TargetHealth was = health_;
    int64_t down_since = since_unix_ms_;
    health_ = TargetHealth::Up;
    since_unix_ms_ = o.unix_ms;
    last_reason_.clear();
    last_reason_.shrink_to_fit();
    if (was != TargetHealth::Down) return std::nullopt;
    StateChange c;
    c.to = TargetHealth::Up;
    c.down_for_ms = o.unix_ms > down_since ? o.unix_ms - down_since : 0;
    c.at_unix_ms = o.unix_ms;
    return c;
  }
  ++failures_;
  consecutive_successes_ = 0;
  ++consecutive_failures_;
  if (health_ == TargetHealth::Down || consecutive_failures_ < failure_threshold_) return std::nullopt;
  health_ = TargetHealth::Down;
  since_unix_ms_ = o.unix_ms;
  last_reason_ = o.reason;
  StateChange c;
  c.to = TargetHealth::Down;
  c.reason = o.reason;
  c.at_unix_ms = o.unix_ms;
  return c;
}

void TargetState::restore(const TargetStateRecord& r) {
  health_ = r.health;
  since_unix_ms_ = r.since_unix_ms;
  consecutive_failures_ = r.consecutive_failures;
  consecutive_successes_ = r.consecutive_successes;
  probes_ = r.probes;
  failures_ = r.failures;
  last_reason_ = r.last_reason;
}

TargetStateRecord TargetState::to_record(const std::string& name, const std::string& url) const {
  TargetStateRecord r;
  r.name = name;
  r.url = url;
  r.health = health_;
  r.since_unix_ms = since_unix_ms_;
  r.consecutive_failures = consecutive_failures_;
  r.consecutive_successes = consecutive_successes_;
  r.probes = probes_;
  r.failures = failures_;
  r.last_reason = last_reason_;
  return r;
}

void HeldOutcomes::push(ProbeOutcome outcome) {
  if (held_.size() < kMaxHeld) {
    held_.push_back(std::move(outcome));
    return;
  }
  held_[oldest_] = std::move(outcome);
  oldest_ = (oldest_ + 1) % kMaxHeld;
  ++dropped_;
}

std::vector<StateChange> HeldOutcomes::replay_onto(TargetState* state) const {
  std::vector<StateChange> changes;
  for (size_t i = 0; i < held_.size(); ++i)
    if (auto c = state->apply(held_[(oldest_ + i) % held_.size()])) changes.push_back(std::move(*c));
  return changes;
}

std::string format_outage(int64_t ms) {
  int64_t secs = (ms + 500) / 1000;
  return format_duration(std::chrono::seconds(secs));
}

}  // namespace observer
