// observer-worker: the probe process. Run by the supervisor as
//   observer-worker --supervised=PID [--journal] <the user's arguments>
// or alone, with observer's own flags, for debugging.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "worker/check_config.h"
#include "worker/checks.h"
#include "common/config.h"
#include <curl/curl.h>
#include "common/release_memory.h"
#include "common/version.h"
#include "worker/worker.h"

using namespace observer;

int main(int argc, char** argv) {
  hold_stop_signals();
  std::vector<std::string> args(argv + 1, argv + argc);
  WorkerOptions options;
  std::string error;
  if (!take_internal_args(&args, &options, &error)) {
    std::fprintf(stderr, "observer-worker: %s\n", error.c_str());
    return kExitSoftware;
  }
  if (options.supervised) {
    if (!bind_to_supervisor(options.supervisor_pid)) return kExitOk;  // the supervisor is already gone
    std::signal(SIGHUP, SIG_IGN);  // reloads are the supervisor's business
  }
  std::signal(SIGPIPE, SIG_IGN);
  // Stop signals are held so that a worker's loop sees them (see
  // hold_stop_signals). -check-config, -help and -version have no loop: there
  // SIGTERM and SIGINT end the process at once, as they do any command,
  // even in the middle of reading a large file.
  if (!options.supervised && requested_action(args) != Action::Run) release_stop_signals();

  Invocation inv;
  if (!load_invocation(args, current_environment(), &inv, &error)) {
    report_config_error(options, error);
    return kExitConfig;
  }
  switch (inv.action) {
    case Action::Help:
      std::fputs(usage_text("observer-worker").c_str(), stdout);
      return kExitOk;
    case Action::Version:
      std::printf("observer-worker %s\n", OBSERVER_VERSION);
      return kExitOk;
    case Action::CheckConfig:
      if (!validate_patterns(inv.config, &error)) {
        std::fprintf(stderr, "observer: %s\n", error.c_str());
        return kExitConfig;
      }
      write_check_config(inv.config, [](const std::string& chunk) { std::fwrite(chunk.data(), 1, chunk.size(), stdout); });
      return kExitOk;
    case Action::Run:
      break;
  }

  // Before any thread starts (libcurl's resolver threads come later).
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    std::fprintf(stderr, "observer-worker: curl_global_init failed\n");
    return kExitSoftware;
  }
  int code = kExitOk;
  {
    Worker worker(options);
    code = worker.configure(std::move(inv.config), &error);  // one copy of each target: the engine's
    release_free_memory();
    if (code == kExitConfig) {
      report_config_error(options, error);
    } else if (code != kExitOk) {
      // Not the configuration's fault (libcurl missing, a libuv handle):
      // 70, which the supervisor treats as a crash, not as a bad config.
      std::fprintf(stderr, "observer-worker: %s\n", error.c_str());
    } else {
      code = worker.run();
    }
  }
  curl_global_cleanup();
  return code;
}
