#include "worker/schedule_health.h"

#include <algorithm>
#include <cstdio>

namespace observer {
namespace {

constexpr uint64_t ns(std::chrono::milliseconds ms) { return static_cast<uint64_t>(ms.count()) * 1000000u; }

std::string seconds(uint64_t ns_value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ns_value) / 1e9);
  return buf;
}

}  // namespace

void ScheduleHealth::start(uint64_t now_ns, uint64_t cycle_ns) {
  started_ = true;
  started_ns_ = now_ns;
  cycle_ns_ = cycle_ns;
  last_pulse_ns_ = now_ns;
}

void ScheduleHealth::note_gap(uint64_t now_ns) {
  if (!started_ || now_ns <= last_pulse_ns_) return;
  uint64_t gap = now_ns - last_pulse_ns_;
  if (gap > ns(kStallLimit)) {
    stall_ns_ = now_ns;
    stall_length_ns_ = gap;
  }
}

void ScheduleHealth::pulse(uint64_t now_ns) {
  note_gap(now_ns);
  last_pulse_ns_ = now_ns;
}

std::string ScheduleHealth::check(uint64_t now_ns, uint64_t last_on_time_probe_ns) {
  if (!started_) return "the engine has not started";
  if (cycle_ns_ == 0) {
    uint64_t gap = now_ns > last_pulse_ns_ ? now_ns - last_pulse_ns_ : 0;
    if (gap > ns(kStallLimit)) return "the loop stalled for " + seconds(gap) + " (no target to probe)";
    return "";
  }
  note_gap(now_ns);
  if (stall_ns_ != 0 && last_on_time_probe_ns <= stall_ns_)
    return "the loop stalled for " + seconds(stall_length_ns_) + " (" + seconds(now_ns - stall_ns_) +
           " ago); no probe has begun on schedule and ended since";
  uint64_t since = std::max({started_ns_, last_on_time_probe_ns, stall_ns_});
  if (now_ns > since && now_ns - since > cycle_ns_ + ns(kSlack))
    return "no probe has begun on schedule and ended for " + seconds(now_ns - since) + " (limit " +
           seconds(cycle_ns_ + ns(kSlack)) + ": the longest tick + timeout + " + seconds(ns(kSlack)) + ")";
  return "";
}

}  // namespace observer
