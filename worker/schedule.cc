#include "worker/schedule.h"

namespace observer {
namespace {

// Probes that share one wake-up of the loop (see wakeup_grid()), once at
// least kTargetsToShare targets share a tick.
constexpr size_t kTargetsPerWakeup = 20;
constexpr size_t kTargetsToShare = 100;

}  // namespace

Nanos schedule_phase(const std::string& name, const std::string& url, Nanos tick) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (unsigned char c : name) mix(c);
  mix('\n');
  for (unsigned char c : url) mix(c);
  // FNV's low bits are weak for short keys; fold the high half in.
  h ^= h >> 29;
  if (tick.count() <= 0) return Nanos{0};
  return Nanos{static_cast<int64_t>(h % static_cast<uint64_t>(tick.count()))};
}

Nanos snap_phase(Nanos phase, Nanos grid, Nanos tick) {
  if (grid.count() <= 0 || grid >= tick) return phase;
  return Nanos{phase.count() - phase.count() % grid.count()};
}

Nanos wakeup_grid(Nanos tick, size_t targets, size_t per_wakeup, size_t min_targets) {
  // Few targets: each keeps its own instant; sharing wake-ups only pays
  // when there are many.
  if (targets == 0 || targets < min_targets || tick.count() <= 0) return Nanos{0};
  int64_t g = static_cast<int64_t>(static_cast<double>(tick.count()) * static_cast<double>(per_wakeup) /
                                   static_cast<double>(targets));
  int64_t lo = 1000000, hi = tick.count() / 10;
  if (hi < lo) return Nanos{0};
  if (g > hi) g = hi;
  if (g < lo) g = lo;
  // A whole number of ms, so that the grid is the same in every process
  // that counts the same targets.
  g -= g % 1000000;
  return Nanos{g};
}

TargetPhase SchedulePlan::phase_of(const std::string& name, const std::string& url, Nanos tick) const {
  auto counted = targets_per_tick_.find(tick.count());
  size_t sharing = counted == targets_per_tick_.end() ? 0 : counted->second;
  TargetPhase p;
  p.own = schedule_phase(name, url, tick);
  p.grid = wakeup_grid(tick, sharing, kTargetsPerWakeup, kTargetsToShare);
  p.starts = snap_phase(p.own, p.grid, tick);
  return p;
}

Nanos phase_after_origin(Nanos phase, Nanos tick, int64_t wall_at_origin_ns) {
  int64_t t = tick.count();
  if (t <= 0) return Nanos{0};
  int64_t into_tick = wall_at_origin_ns % t;
  if (into_tick < 0) into_tick += t;
  int64_t off = (phase.count() % t) - into_tick;
  if (off < 0) off += t;
  return Nanos{off};
}

Nanos slot_time(Nanos phase, Nanos tick, uint64_t k) {
  return phase + tick * static_cast<int64_t>(k);
}

uint64_t first_slot_at_or_after(Nanos now, Nanos phase, Nanos tick) {
  if (now <= phase || tick.count() <= 0) return 0;
  int64_t since = (now - phase).count();
  uint64_t k = static_cast<uint64_t>(since / tick.count());
  if (slot_time(phase, tick, k) < now) ++k;
  return k;
}

Nanos slot_boundary(Nanos phase, Nanos tick, uint64_t k, Nanos snapped_by) {
  return slot_time(phase, tick, k) + snapped_by;
}

uint64_t first_slot_from(Nanos cut_over, Nanos phase, Nanos tick, Nanos snapped_by) {
  return first_slot_at_or_after(cut_over - snapped_by, phase, tick);
}

bool successors_slot(Nanos phase, Nanos tick, uint64_t k, Nanos snapped_by, Nanos cut_over, Nanos takes_from) {
  return slot_boundary(phase, tick, k, snapped_by) >= cut_over && slot_time(phase, tick, k) >= takes_from;
}

uint64_t first_successors_slot(Nanos cut_over, Nanos takes_from, Nanos phase, Nanos tick, Nanos snapped_by) {
  // Both conditions hold from some slot on: the later of the two.
  uint64_t by_boundary = first_slot_from(cut_over, phase, tick, snapped_by);
  uint64_t by_start = first_slot_at_or_after(takes_from, phase, tick);
  return by_boundary > by_start ? by_boundary : by_start;
}

}  // namespace observer
