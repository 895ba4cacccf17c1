// What observer-worker -check-config prints: the effective configuration
// (common/config.h) and, in each target's block, its schedule as the engine
// will run it (schedule.h: SchedulePlan, the engine's own computation):
//
//   schedule                      phase_ns=P boundary_phase_ns=B grid_ns=G
//
// Slot k of the target starts at P + k*tick ns since the Unix epoch; its
// boundary, by which a reload's cut-over splits the slots, is at
// B + k*tick; G is the wake-up grid of the targets that share its tick
// (0: none), to which B is snapped down to give P. The form is stable: the
// tests and the bench read each target's phases from it.
#pragma once

#include <functional>
#include <string>

#include "common/config.h"
#include "worker/schedule.h"

namespace observer {

// The text of a target's schedule line (after its label).
std::string describe_phase(const TargetPhase& phase);

// Hands the output of -check-config to `sink`, in pieces (see
// write_effective_config()). The checks must have been validated.
void write_check_config(const Config& config, const std::function<void(const std::string&)>& sink);

}  // namespace observer
