// TargetState: the UP/DOWN state machine of one target, fed one probe
// outcome at a time, with failure_threshold / success_threshold. It is what
// survives a reload: exported to and restored from common/control.h's
// TargetStateRecord (identity = name + url).
//
// HeldOutcomes: while a new worker waits for the hand-over (until StateEnd),
// it keeps each target's outcomes (bounded) instead of logging transitions;
// at StateEnd they are replayed onto the inherited state, so only the
// transitions that the combined history produces are logged.
//
// Pure: the caller passes wall-clock times in; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/control.h"

namespace observer {

struct ProbeOutcome {
  bool ok = true;
  std::string reason;  // the first finding when !ok
  int64_t unix_ms = 0;
};

// A change of health worth a log line.
struct StateChange {
  TargetHealth to = TargetHealth::Unknown;
  std::string reason;       // to Down: why
  int64_t down_for_ms = 0;  // to Up: how long it had been DOWN
  int64_t at_unix_ms = 0;
};

class TargetState {
 public:
  TargetState(int failure_threshold, int success_threshold);

  // Applies one outcome. Returns the change to log: DOWN from UP or unknown,
  // UP from DOWN. Unknown -> UP (a healthy start) changes state silently.
  std::optional<StateChange> apply(const ProbeOutcome& outcome);

  // Adopts an inherited record's state (its identity is the caller's to
  // check; the thresholds stay ours).
  void restore(const TargetStateRecord& r);
  // The state as a record of the hand-over, for the target `name` + `url`.
  TargetStateRecord to_record(const std::string& name, const std::string& url) const;

  TargetHealth health() const { return health_; }
  // Wall-clock time of the last change of health (0: none yet).
  int64_t since_unix_ms() const { return since_unix_ms_; }
  // Why it is DOWN (empty unless DOWN).
  const std::string& down_reason() const { return last_reason_; }

 private:
  // Kept small: a worker holds one per target. The identity (name, url) is
  // the target's own; only the state is here.
  uint32_t failure_threshold_, success_threshold_;
  uint32_t consecutive_failures_ = 0;
  uint32_t consecutive_successes_ = 0;
  TargetHealth health_ = TargetHealth::Unknown;
  int64_t since_unix_ms_ = 0;  // wall clock time of the last change of health
  uint64_t probes_ = 0;
  uint64_t failures_ = 0;
  std::string last_reason_;  // why it is DOWN (empty when UP)
};

// True when `r` is the record of the target `name` + `url`.
inline bool same_identity(const TargetStateRecord& r, const std::string& name, const std::string& url) {
  return r.name == name && r.url == url;
}

class HeldOutcomes {
 public:
  // The largest threshold is 1000 (config), so the last 1024 outcomes decide
  // the replayed state exactly; older ones only affect the probe counters.
  static constexpr size_t kMaxHeld = 1024;

  void push(ProbeOutcome outcome);
  // Replays the held outcomes onto `state` and returns the changes to log.
  std::vector<StateChange> replay_onto(TargetState* state) const;
  size_t size() const { return held_.size(); }
  uint64_t dropped() const { return dropped_; }

 private:
  // A ring once full (oldest at `oldest_`).
  std::vector<ProbeOutcome> held_;
  size_t oldest_ = 0;
  uint64_t dropped_ = 0;
};

// "3m12s": whole seconds, Go style (format_duration of the rounded value).
std::string format_outage(int64_t ms);

}  // namespace observer
