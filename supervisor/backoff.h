// RestartBackoff: how long the supervisor waits before restarting a worker
// that died unasked. Exponential (100 ms doubling to 30 s by default) so that
// a crash loop never becomes a busy loop, and forgiving: a worker that ran
// healthily for a while (60 s by default) starts the sequence afresh.
//
// Pure: the caller measures time and passes it in, so the policy is
// unit-tested without a clock.
#pragma once

#include <chrono>

namespace observer {

class RestartBackoff {
 public:
  using Millis = std::chrono::milliseconds;

  explicit RestartBackoff(Millis initial = Millis(100), Millis max = Millis(30000),
                          Millis healthy_after = Millis(60000))
      : initial_(initial), max_(max), healthy_after_(healthy_after) {}

  // A worker died unasked after being healthy (ready) for `healthy_for`
  // (zero if it never became ready). Returns the delay before the next start.
  Millis next_delay(Millis healthy_for);

  // How many restarts in a row the current sequence has seen.
  unsigned failures() const { return failures_; }

 private:
  Millis initial_;
  Millis max_;
  Millis healthy_after_;
  unsigned failures_ = 0;
};

}  // namespace observer
