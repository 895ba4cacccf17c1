#include "target_state.h"

#include "duration.h"

namespace observer {

TargetState::TargetState(std::string name, std::string url, int failure_threshold, int success_threshold)
    : failure_threshold_(static_cast<uint32_t>(failure_threshold < 1 ? 1 : failure_threshold)),
      success_threshold_(static_cast<uint32_t>(success_threshold < 1 ? 1 : success_threshold)) {
  record_.name = std::move(name);
  record_.url = std::move(url);
}

std::optional<StateChange> TargetState::apply(const ProbeOutcome& o) {
  ++record_.probes;
  if (o.ok) {
    record_.consecutive_failures = 0;
    ++record_.consecutive_successes;
    if (record_.health == TargetHealth::Up || record_.consecutive_successes < success_threshold_)
      return std::nullopt;
    TargetHealth was = record_.health;
    int64_t down_since = record_.since_unix_ms;
    record_.health = TargetHealth::Up;
    record_.since_unix_ms = o.unix_ms;
    record_.last_reason.clear();
    if (was != TargetHealth::Down) return std::nullopt;
    StateChange c;
    c.to = TargetHealth::Up;
    c.down_for_ms = o.unix_ms > down_since ? o.unix_ms - down_since : 0;
    c.at_unix_ms = o.unix_ms;
    return c;
  }
  ++record_.failures;
  record_.consecutive_successes = 0;
  ++record_.consecutive_failures;
  if (record_.health == TargetHealth::Down || record_.consecutive_failures < failure_threshold_)
    return std::nullopt;
  record_.health = TargetHealth::Down;
  record_.since_unix_ms = o.unix_ms;
  record_.last_reason = o.reason;
  StateChange c;
  c.to = TargetHealth::Down;
  c.reason = o.reason;
  c.at_unix_ms = o.unix_ms;
  return c;
}

void TargetState::restore(const TargetStateRecord& r) {
  std::string name = std::move(record_.name), url = std::move(record_.url);
  record_ = r;
  record_.name = std::move(name);
  record_.url = std::move(url);
}

TargetStateRecord TargetState::to_record() const { return record_; }

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
