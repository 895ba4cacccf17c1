// Where the worker executable is: beside the supervisor's own executable
// first (the build tree, a flat install), else in the install's libexec dir,
// found relative to the supervisor (OBSERVER_BIN_TO_LIBEXEC, e.g.
// "../libexec/observer") so that a relocated prefix still works.
#pragma once

#include <string>
#include <vector>

namespace observer {

constexpr const char* kWorkerExecutableName = "observer-worker";

// The paths tried for a supervisor at `supervisor_exe`, in order.
std::vector<std::string> worker_candidates(const std::string& supervisor_exe);

// Finds an executable worker. On failure `error` names every path tried.
bool locate_worker(std::string* path, std::string* error);

}  // namespace observer
