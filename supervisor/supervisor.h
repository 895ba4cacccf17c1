// Supervisor: the context object of the `observer` process. It owns the
// event loop's handles (signals, timers), the stdout LineWriter and Logger,
// the sd_notify socket and every WorkerProcess, and it is the life-cycle
// state machine of DESIGN.md ("Life cycle"):
//
//   start    spawn a worker, send it an empty hand-over (StateEnd); its
//            Ready makes it current (and sends READY=1 the first time).
//   SIGHUP   re-read the process-wide settings (flags, environment, the
//            file up to its first [section]; a broken one declines the
//            reload); spawn a candidate (--cut-over when a worker is
//            current), which checks the sections and reports an error in
//            them with a ConfigError message. When it is Ready
//            (CutOverReady: with its cut-over instant) the current worker
//            is retired (Retire with that instant: it probes up to it, the
//            candidate from it on; then SIGTERM once the instant has
//            passed, as DESIGN.md has it) and its TargetState records and
//            StateEnd are forwarded to the candidate, which becomes current.
//            A newer SIGHUP supersedes a candidate that has not taken over
//            (SIGTERM, state discarded). A current worker whose own inbound
//            hand-over is still running is retired only once that hand-over
//            ends (bounded: the worker it comes from is SIGKILLed after
//            shutdown_timeout), so no state is lost in a burst.
//            If the candidate, now current, dies before the cut-over (the
//            retiring worker's SIGTERM not sent yet), the retirement is
//            called off (Resume): the old worker, which still holds every
//            target and its state, is current again ("Reload failed").
//   crash    a worker that dies unasked is restarted with RestartBackoff.
//   stuck    a current worker not heard from (Heartbeat, control.h) for
//            kWorkerStallLimit is logged, SIGKILLed and then restarted as a
//            crash. systemd's WATCHDOG=1 is sent only while the current
//            worker is heard from (within kWatchdogFreshness).
//   stop     SIGTERM/SIGINT: SIGTERM every worker (a retiring one whose
//            SIGTERM waits for its cut-over gets it at once), SIGKILL after
//            shutdown_timeout (at once on a second signal), then exit once
//            every worker's output has been read to EOF.
//
// Everything runs on the loop thread; signal handlers are libuv's
// (uv_signal), so no state is touched from a signal context.
#pragma once

#include <uv.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "supervisor/backoff.h"
#include "common/config.h"
#include "common/exit_codes.h"
#include "common/line_writer.h"
#include "supervisor/listen_sockets.h"
#include "common/logger.h"
#include "supervisor/sd_notify.h"
#include "common/uv_handle.h"
#include "supervisor/worker_process.h"

namespace observer {


// The most bytes of stdout the supervisor queues for a slow reader before it
// drops lines (and later says how many).
constexpr size_t kStdoutBacklogBytes = 256 * 1024;

struct SupervisorSetup {
  std::string worker_path;
  std::vector<std::string> args;  // the supervisor's argv[1..], passed on unchanged
  Environment env;                // the supervisor's environment
  GlobalConfig global;            // loaded at start; the targets are the worker's business
};

class Supervisor : public WorkerEvents {
 public:
  Supervisor(uv_loop_t* loop, SupervisorSetup setup);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Runs the loop until the supervisor stops; returns the exit code. Every
  // handle is closed and the loop is empty when it returns.
  int run();

 private:
  // libuv callbacks.
  static void on_uv_signal(uv_signal_t* handle, int signum) noexcept;
  static void on_uv_restart_timer(uv_timer_t* timer) noexcept;
  static void on_uv_ready_timer(uv_timer_t* timer) noexcept;
  static void on_uv_watchdog_timer(uv_timer_t* timer) noexcept;
  static void on_uv_reap_timer(uv_timer_t* timer) noexcept;
  static void on_uv_liveness_timer(uv_timer_t* timer) noexcept;

  // WorkerEvents.
  void on_worker_ready(WorkerProcess* worker) override;
  void on_worker_state(WorkerProcess* worker, const ControlMessage& msg) override;
  void on_worker_protocol_error(WorkerProcess* worker, const std::string& error) override;
  void on_worker_finished(WorkerProcess* worker) override;
  void on_worker_drained(WorkerProcess* worker) override;

  bool init_handles(std::string* error);
  void apply_global(const GlobalConfig& global);
  // `cut_over`: it replaces the current worker on a reload (see control.h).
  WorkerProcess* spawn_worker(bool cut_over, const std::string& listen, std::string* error);
  // Spawns a worker that, once current, brings `global` into force (a failed
  // reload must leave the supervisor's own settings as they were).
  bool start_candidate(const GlobalConfig& global, std::string* error);
  void reload();
  void begin_stop(int exit_code);
  void promote(WorkerProcess* worker);
  void take_over(WorkerProcess* successor);
  void end_inbound(WorkerProcess* worker);
  void supersede(WorkerProcess* worker);
  // Ends a pending reload for systemd: READY=1 with `status` (success or the
  // reason of the failure). No-op when no RELOADING=1 is outstanding.
  void finish_reload(const std::string& status);
  void tell_reload_failed();
  void schedule_restart(std::chrono::milliseconds healthy_for, const std::string& what);
  void handle_candidate_exit(WorkerProcess* worker);
  void handle_current_exit(WorkerProcess* worker);
  // `dead`, current since a take-over, died before its cut-over: its
  // predecessor's retirement is called off. False if too late for that.
  bool call_off_retirement(WorkerProcess* dead);
  // The current worker is alive and its loop is heard from.
  bool current_is_live() const;
  WorkerProcess* find(uint64_t serial) const;
  // Resumes reading the workers whose hand-over goes to `successor`.
  void release_relay(const WorkerProcess* successor);
  void reap_finished();
  void close_handles();

  uv_loop_t* loop_;
  SupervisorSetup setup_;
  LineOptions line_options_;
  LineWriter out_;
  Logger log_;
  SdNotifier notifier_;

  UvHandle<uv_signal_t> sighup_;
  UvHandle<uv_signal_t> sigterm_;
  UvHandle<uv_signal_t> sigint_;
  UvHandle<uv_timer_t> restart_timer_;
  UvHandle<uv_timer_t> ready_timer_;
  UvHandle<uv_timer_t> watchdog_timer_;
  UvHandle<uv_timer_t> reap_timer_;
  UvHandle<uv_timer_t> liveness_timer_;

  std::vector<std::unique_ptr<WorkerProcess>> workers_;
  WorkerProcess* current_ = nullptr;    // serves; at most one
  WorkerProcess* candidate_ = nullptr;  // newest not yet serving (Starting or Waiting)
  uint64_t next_serial_ = 1;
  RestartBackoff backoff_;
  bool ever_ready_ = false;
  bool reload_pending_ = false;  // RELOADING=1 sent; READY=1 not yet
  bool stopping_ = false;
  std::chrono::steady_clock::time_point first_stop_signal_{};
  int exit_code_ = kExitOk;
  ListenSockets listen_sockets_;   // the metrics socket(s): see listen_sockets.h
  GlobalConfig applied_global_;    // the settings in force
  GlobalConfig candidate_global_;  // the settings of candidate_'s configuration
  GlobalConfig retired_global_;    // the settings before the last take-over (see call_off_retirement)
};

}  // namespace observer
