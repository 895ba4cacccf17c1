#include "supervisor/cli.h"

#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <uv.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/config.h"
#include "supervisor/supervisor.h"
#include "common/version.h"
#include "supervisor/worker_locator.h"

namespace observer {
namespace {

// Only the worker reads every section and compiles a target's checks (its
// regular expressions), so only it can say whether a configuration will
// really run: -check-config is answered by the worker, with the same
// arguments, in this process's place (which has read nothing but the flags).
int exec_worker_check(const std::vector<std::string>& args) {
  std::string worker, error;
  if (!locate_worker(&worker, &error)) {
    std::fprintf(stderr, "observer: %s\n", error.c_str());
    return kExitSoftware;
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(worker.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(stdout);
  execv(worker.c_str(), argv.data());
  std::fprintf(stderr, "observer: cannot run %s: %s\n", worker.c_str(), std::strerror(errno));
  return kExitSoftware;
}

}  // namespace

int supervisor_main(int argc, char** argv) {
  // A closed stdout or notify socket must be an error value, not a death.
  signal(SIGPIPE, SIG_IGN);
  // Started with fd 0, 1 or 2 closed, the worker's pipes would take those
  // numbers and log lines would go into a control channel.
  for (int fd = 0; fd <= 2; ++fd)
    if (fcntl(fd, F_GETFD) == -1 && open("/dev/null", O_RDWR) != fd) return kExitSoftware;

  std::vector<std::string> args(argv + 1, argv + argc);
  Environment env = current_environment();
  Action action = Action::Run;
  GlobalConfig global;
  std::string error;
  if (!load_process_settings(args, env, &action, &global, &error)) {
    std::fprintf(stderr, "observer: %s\n", error.c_str());
    return kExitConfig;
  }
  switch (action) {
    case Action::Help:
      std::fputs(usage_text("observer").c_str(), stdout);
      return kExitOk;
    case Action::Version:
      std::fputs("observer " OBSERVER_VERSION "\n", stdout);
      return kExitOk;
    case Action::CheckConfig:
      return exec_worker_check(args);
    case Action::Run:
      break;
  }

  SupervisorSetup setup;
  if (!locate_worker(&setup.worker_path, &error)) {
    std::fprintf(stderr, "observer: %s\n", error.c_str());
    return kExitSoftware;
  }
  setup.args = std::move(args);
  setup.env = std::move(env);
  setup.global = std::move(global);

  uv_loop_t loop;
  int rc = uv_loop_init(&loop);
  if (rc != 0) {
    std::fprintf(stderr, "observer: cannot create the event loop: %s\n", uv_strerror(rc));
    return kExitSoftware;
  }
  int code;
  {
    Supervisor supervisor(&loop, std::move(setup));
    code = supervisor.run();
  }
  // Close callbacks of whatever the supervisor's destructor closed.
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) std::fprintf(stderr, "observer: event loop closed with live handles\n");
  return code;
}

}  // namespace observer
