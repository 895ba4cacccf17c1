#include "supervisor/backoff.h"

namespace observer {

RestartBackoff::Millis RestartBackoff::next_delay(Millis healthy_for) {
  if (healthy_for >= healthy_after_) failures_ = 0;
  Millis delay = initial_;
  // Doubling stops at the cap, so the shift never overflows.
  for (unsigned i = 0; i < failures_ && delay < max_; ++i) delay *= 2;
  if (delay > max_) delay = max_;
  ++failures_;
  return delay;
}

}  // namespace observer
