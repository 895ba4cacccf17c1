// ScheduleHealth: the verdict of GET /healthz, "this worker probes on
// schedule". Healthy when all of these hold:
//   * the loop is not stalled: a pulse timer (every kPulse) last ran no
//     more than kStallLimit ago, as seen at the moment of the check;
//   * since the latest stall (a gap of more than kStallLimit between two
//     pulses, or between the last pulse and a check: a SIGSTOP, a loop
//     starved of CPU), a probe has begun on schedule (within the engine's
//     kOnTimeLag of its slot) and ended;
//   * some probe that began on schedule has ended within the longest tick +
//     timeout of any target (plus kSlack) from the later of the engine's
//     start and that probe: a worker that no longer fires its probes, or
//     whose every slot is skipped, goes unhealthy.
// A worker with no target at all (a shard that owns none: shard.h) has no
// probe to wait for: it is healthy while its loop is not stalled.
// The caller (Worker) adds what is not about timing: a retiring worker is
// not healthy. A stopped process answers nothing at all; the check that runs
// first after SIGCONT (before any timer) sees the gap itself and says so.
//
// Pure: uv_hrtime() instants are passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace observer {

class ScheduleHealth {
 public:
  static constexpr std::chrono::milliseconds kPulse{500};
  static constexpr std::chrono::milliseconds kStallLimit{3000};
  static constexpr std::chrono::milliseconds kSlack{2000};

  // The engine started at `now_ns`; its longest tick + timeout is `cycle_ns`
  // (0: it has no target).
  void start(uint64_t now_ns, uint64_t cycle_ns);
  // From the pulse timer.
  void pulse(uint64_t now_ns);
  // `last_on_time_probe_ns`: Engine::last_on_time_probe_ns(). Empty when
  // healthy, else why not. Notes a stall it sees (the gap since the last pulse).
  std::string check(uint64_t now_ns, uint64_t last_on_time_probe_ns);

 private:
  void note_gap(uint64_t now_ns);

  bool started_ = false;
  uint64_t started_ns_ = 0;
  uint64_t cycle_ns_ = 0;
  uint64_t last_pulse_ns_ = 0;
  uint64_t stall_ns_ = 0;        // when the latest stall was seen (0: never)
  uint64_t stall_length_ns_ = 0;
};

}  // namespace observer
