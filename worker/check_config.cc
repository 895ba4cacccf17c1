#include "worker/check_config.h"

namespace observer {

std::string describe_phase(const TargetPhase& phase) {
  return "phase_ns=" + std::to_string(phase.starts.count()) + " boundary_phase_ns=" + std::to_string(phase.own.count()) +
         " grid_ns=" + std::to_string(phase.grid.count());
}

void write_check_config(const Config& config, const std::function<void(const std::string&)>& sink) {
  SchedulePlan plan;
  for (const TargetConfig& t : config.targets) plan.count(t.settings->tick);
  TargetNote schedule{"schedule", [&plan](const TargetConfig& t) {
                        return describe_phase(plan.phase_of(t.name, t.url, t.settings->tick));
                      }};
  write_effective_config(config, sink, &schedule);
}

}  // namespace observer
