#include "supervisor/worker_locator.h"

#include <unistd.h>
#include <uv.h>

#include "common/version.h"

namespace observer {

std::vector<std::string> worker_candidates(const std::string& supervisor_exe) {
  size_t slash = supervisor_exe.rfind('/');
  std::string dir = slash == std::string::npos ? "." : supervisor_exe.substr(0, slash);
  if (dir.empty()) dir = "/";
  return {dir + "/" + kWorkerExecutableName,
          dir + "/" + OBSERVER_BIN_TO_LIBEXEC + "/" + kWorkerExecutableName};
}

bool locate_worker(std::string* path, std::string* error) {
  char exe[4096];
  size_t size = sizeof exe;
  int rc = uv_exepath(exe, &size);
  if (rc != 0) {
    *error = std::string("cannot find the supervisor's own executable: ") + uv_strerror(rc);
    return false;
  }
  std::vector<std::string> tried = worker_candidates(std::string(exe, size));
  for (const std::string& candidate : tried) {
    if (::access(candidate.c_str(), X_OK) == 0) {
      *path = candidate;
      return true;
    }
  }
  *error = std::string("cannot find the worker executable ") + kWorkerExecutableName + " (looked for " +
           tried[0] + " and " + tried[1] + ")";
  return false;
}

}  // namespace observer
