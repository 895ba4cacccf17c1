// -check-config prints each target's schedule as the engine computes it
// (worker/check_config.h): the phases a test or the bench reads from it are
// the ones the engine fires at.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "common/config.h"
#include "worker/check_config.h"
#include "worker/schedule.h"

// After the C++ headers: cmocka's fail() and friends are macros.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

using namespace observer;

namespace {

// The -check-config output of `conf` (an INI text).
std::string check_config_of(const std::string& conf, Config* config) {
  char path[] = "/tmp/observer-check-config-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  std::ofstream(path) << conf;
  Invocation inv;
  std::string error;
  bool loaded = load_invocation({"-check-config", "-config", path}, {}, &inv, &error);
  unlink(path);
  if (!loaded) fail_msg("%s", error.c_str());
  std::string out;
  write_check_config(inv.config, [&out](const std::string& chunk) { out += chunk; });
  *config = std::move(inv.config);
  return out;
}

// Each target's schedule line, by target name.
std::map<std::string, std::string> schedule_lines(const std::string& out) {
  std::map<std::string, std::string> lines;
  std::istringstream in(out);
  std::string line, target;
  while (std::getline(in, line)) {
    if (line.rfind("target [", 0) == 0) target = line.substr(8, line.size() - 10);
    if (line.rfind("  schedule ", 0) == 0) lines[target] = line.substr(line.find_first_not_of(' ', 10));
  }
  return lines;
}

}  // namespace

// Two targets on 1s keep their own instants; 150 on 10s share wake-ups on a
// grid: for every one the printed phases are what the engine's SchedulePlan
// gives, and what the engine's start() fires at.
static void printed_phases_are_the_engines(void**) {
  std::string conf = "[api]\nurl=http://127.0.0.1:1/api\ntick=1s\n[web]\nurl=http://127.0.0.1:1/web\ntick=1s\n";
  for (int i = 0; i < 150; ++i)
    conf += "[m" + std::to_string(i) + "]\nurl=http://127.0.0.1:1/m" + std::to_string(i) + "\ntick=10s\n";
  Config config;
  std::map<std::string, std::string> printed = schedule_lines(check_config_of(conf, &config));
  assert_int_equal(printed.size(), 152);

  SchedulePlan plan;
  for (const TargetConfig& t : config.targets) plan.count(t.settings->tick);
  int snapped = 0;
  for (const TargetConfig& t : config.targets) {
    TargetPhase p = plan.phase_of(t.name, t.url, t.settings->tick);
    assert_string_equal(printed[t.name].c_str(), describe_phase(p).c_str());
    const Nanos tick = t.settings->tick;
    assert_true(p.own == schedule_phase(t.name, t.url, tick));
    assert_true(p.starts == snap_phase(p.own, p.grid, tick));
    if (tick == std::chrono::seconds(1)) assert_int_equal(p.grid.count(), 0);  // two targets: no sharing
    else assert_true(p.grid > Nanos{0} && p.grid <= tick / 10);
    if (p.starts != p.own) ++snapped;
  }
  assert_true(snapped > 100);  // the 10s targets' phases were snapped to their grid

  // The form itself, for two targets: the numbers a reader parses.
  TargetPhase api = plan.phase_of("api", "http://127.0.0.1:1/api", std::chrono::seconds(1));
  assert_int_equal(api.grid.count(), 0);
  assert_true(api.starts == api.own);
  assert_string_equal(printed["api"].c_str(), ("phase_ns=" + std::to_string(api.own.count()) + " boundary_phase_ns=" +
                                               std::to_string(api.own.count()) + " grid_ns=0")
                                                  .c_str());
  TargetPhase m7 = plan.phase_of("m7", "http://127.0.0.1:1/m7", std::chrono::seconds(10));
  assert_true(m7.grid > Nanos{0});
  assert_true(m7.starts == snap_phase(m7.own, m7.grid, std::chrono::seconds(10)));
  assert_string_equal(printed["m7"].c_str(),
                      ("phase_ns=" + std::to_string(m7.starts.count()) + " boundary_phase_ns=" +
                       std::to_string(m7.own.count()) + " grid_ns=" + std::to_string(m7.grid.count()))
                          .c_str());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(printed_phases_are_the_engines),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
