// The fixed probe schedule of one target: probe k starts at
// origin + phase + k*tick, where origin is the engine's start and the phase
// is a stable hash of the target's identity spread over [0, tick). Computing
// every fire time from the origin (never "tick after the last fire") keeps the
// schedule from drifting; the phase keeps targets that share a tick from
// firing in one burst. The phase is taken against the wall clock (slot
// starts are phase + k*tick since the Unix epoch, read once at start and then
// followed on the monotonic clock), so a worker that replaces another on a
// reload keeps the same slots: no burst and no gap. Pure arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "common/duration.h"

namespace observer {

// Stable across processes and reloads: FNV-1a of name, '\n', url, mod tick.
Nanos schedule_phase(const std::string& name, const std::string& url, Nanos tick);

// The phase snapped down to a grid, so that targets sharing a grid point
// share one wake-up of the loop. grid <= 0 or >= tick: unchanged.
Nanos snap_phase(Nanos phase, Nanos grid, Nanos tick);

// The grid for `targets` targets that share `tick`: about `per_wakeup`
// targets per grid point, but never coarser than tick/10 (targets stay
// spread over the tick) nor finer than 1 ms; 0 (each target keeps its own
// instant) for fewer than `min_targets` targets, or a tick under 10 ms.
// A wake-up of the loop costs about as much CPU as a small probe, so
// sharing them matters at high rates. A grid point's burst is `per_wakeup`
// probes, which bounds the lag it adds.
Nanos wakeup_grid(Nanos tick, size_t targets, size_t per_wakeup, size_t min_targets);

// A target's place in its tick, as the engine schedules it: slot k starts at
// `starts` + k*tick and has its boundary (slot_boundary()) at `own` + k*tick,
// both in ns since the Unix epoch.
struct TargetPhase {
  Nanos own{};     // schedule_phase() of its identity
  Nanos starts{};  // `own` snapped down to its tick's wake-up grid (snap_phase())
  Nanos grid{};    // that grid (wakeup_grid()); 0: the target keeps its own instant
};

// The phases of one configuration's targets. A tick's wake-up grid depends
// on how many targets share that tick, so every target is counted before any
// phase is asked for. The engine schedules by it and -check-config prints it
// (worker/check_config.h): no phase is computed anywhere else.
class SchedulePlan {
 public:
  void count(Nanos tick) { ++targets_per_tick_[tick.count()]; }
  // Only after every target was counted.
  TargetPhase phase_of(const std::string& name, const std::string& url, Nanos tick) const;

 private:
  std::map<int64_t, size_t> targets_per_tick_;
};

// Where the wall-clock-aligned phase falls after an origin whose wall time
// is `wall_at_origin` (ns since the epoch): the offset of slot 0, in [0, tick).
Nanos phase_after_origin(Nanos phase, Nanos tick, int64_t wall_at_origin_ns);

// Start time (since origin) of slot k.
Nanos slot_time(Nanos phase, Nanos tick, uint64_t k);

// The first slot whose start is at or after `now` (since origin).
uint64_t first_slot_at_or_after(Nanos now, Nanos phase, Nanos tick);

// A reload's cut-over (an instant T) splits a target's slots between the old
// worker and the new one by each slot's boundary: its start plus
// `snapped_by`, how far snap_phase() moved the phase down. The boundary is
// the identity's own phase + k*tick since the epoch, the same in both
// workers even when their wake-up grids differ (the count of targets on a
// tick changed), so a slot is the old worker's (boundary before T) or the
// new one's (at or after T), never both and never neither. A slot starts at
// or before its boundary: the old worker never fires after T.
Nanos slot_boundary(Nanos phase, Nanos tick, uint64_t k, Nanos snapped_by);

// The first slot whose boundary is at or after `cut_over` (since origin).
uint64_t first_slot_from(Nanos cut_over, Nanos phase, Nanos tick, Nanos snapped_by);

// Whether slot k is a reload successor's (common/control.h): its boundary
// is at or after `cut_over` and its start at or after `takes_from`, the
// instant the successor announced the cut-over (both since origin). Every
// other slot is the old worker's. The start condition matters with a
// coarse grid: a slot that started before the successor announced T was
// fired by the old worker, which had no word of T yet, even when its
// boundary lies after T; the successor leaves it alone.
bool successors_slot(Nanos phase, Nanos tick, uint64_t k, Nanos snapped_by, Nanos cut_over, Nanos takes_from);

// The first slot that is the successor's (see successors_slot()).
uint64_t first_successors_slot(Nanos cut_over, Nanos takes_from, Nanos phase, Nanos tick, Nanos snapped_by);

}  // namespace observer
