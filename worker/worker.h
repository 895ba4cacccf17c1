// Worker: the process context of observer-worker. It owns the libuv loop and
// everything hanging off it: the stdout LineWriter and Logger, the Engine,
// the SIGINT/SIGTERM handlers and, when supervised, the control channel on
// fd 3 (common/control.h). main() builds one, configures it and runs it.
//
// Supervised (the supervisor spawned us with --supervised=PID):
//   loop running       -> send Ready; with --cut-over (we replace a running
//                         worker) CutOverReady: no slot before its instant
//   every kHeartbeatInterval -> Heartbeat (control.h: the supervisor's
//                         liveness check and systemd watchdog)
//   TargetState*, StateEnd from the supervisor -> the hand-over (Engine)
//   Retire(T)          -> fire the slots before T, then retire as on SIGTERM
//                         (with CutOverLate first if T came too late), but
//                         hand over and exit only once the SIGTERM the
//                         supervisor sends after T has come (or the retire
//                         deadline has passed)
//   Resume             -> the Retire is called off (its successor died): back
//                         to firing every slot, as the current worker;
//                         ignored after a stop signal, the Retire's SIGTERM
//                         or the retire deadline (the hand-over may have begun)
//   SIGTERM/SIGINT     -> retire: stop scheduling, let probes finish, send one
//                         TargetState per target and StateEnd, exit 0
//   second signal      -> abort the probes, then the same, at once (while a
//                         Retire waits for T, a signal only stops it waiting)
//   after a Retire(T), the first signal at or after T is the supervisor's
//                         SIGTERM of that retirement: not a second signal
//   control EOF        -> abort, exit 0 (the supervisor is gone)
//   malformed message  -> abort, exit 70 with the reason on stderr
// Standalone: the same without the channel; SIGINT/SIGTERM log the seed's
// "Got SIGINT/SIGTERM, exiting." and retire.
//
// The way out is a Phase, changed only by set_phase(), which asserts each
// transition:
//
//   Running --retire() (a stop signal, a Retire)--> Retiring
//   Retiring --resume() (a Resume)--> Running
//   Retiring --the engine is idle, a Retire's SIGTERM still due--> HandoverHeld
//   HandoverHeld --resume()--> Running
//   Retiring|HandoverHeld --leave() (idle; or that SIGTERM, any signal or
//                the retire deadline when held)--> EndingAlerts
//   EndingAlerts --alerts ended--> WritingState --state written--> HandingOver
//   any --finish()--> Finished
//
// and what a signal does in each phase (on_uv_signal()); "the Retire's
// SIGTERM" is the first signal at or after the cut-over of a Retire:
//
//   phase          the Retire's SIGTERM    any other signal (a stop)
//   Running        -                       retire at once
//   Retiring       -                       cutting over: retire at once;
//                                          else abort the probes
//   HandoverHeld   leave()                 leave()
//   EndingAlerts   -                       hurry the alerts
//   WritingState   -                       (abort the probes: none left)
//   HandingOver    -                       finish now
//   Finished       -                       -
//
// Beside the phase, facts that are not states (each set once, some cleared
// by a Resume): a Retire's SIGTERM is due (retire_signal_due_), the
// retirement is a reload's (reload_retirement_), a stop signal came
// (stop_signal_seen_), the retire deadline passed, and the inbound hand-over
// ended (handover_ended_: it runs independently of the way out).
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/control.h"
#include "worker/alerter.h"
#include "worker/engine.h"
#include "worker/state_keeper.h"
#include "common/exit_codes.h"
#include "common/line_writer.h"
#include "common/logger.h"
#include "worker/schedule_health.h"
#include "worker/status_server.h"
#include "common/unique_fd.h"
#include "common/uv_handle.h"

namespace observer {

struct WorkerOptions {
  bool supervised = false;
  pid_t supervisor_pid = 0;
  bool journal = false;  // the supervisor's stdout is journald: use its line style
  bool cut_over = false;  // --cut-over: a reload's successor (see control.h)
  int listen_fd = -1;     // --listen-fd=N: the supervisor's metrics socket
  // The control channel when supervised: the supervisor's kControlFd; a
  // test runs a Worker in its own process over a socketpair end instead.
  int control_fd = kControlFd;
};

// How far ahead of its READY a reload's successor puts the cut-over:
// kCutOverMargin (control.h), unless the test-only environment variable
// OBS_TEST_CUT_OVER_MARGIN_MS (whole ms, 1..60000) says otherwise. The
// supervisor passes its environment to every worker, so the old worker and
// the new one agree on it. Tests use it to kill a new worker between its
// READY and the cut-over with a real signal.
std::chrono::milliseconds cut_over_margin();

// Strips the supervisor's leading internal arguments (--supervised=PID,
// --journal, --cut-over) from `args`. False (with `error`) if they are malformed.
bool take_internal_args(std::vector<std::string>* args, WorkerOptions* out, std::string* error);

// Supervised start: ask for SIGKILL when the parent dies (Linux) and check
// that the parent is still the supervisor. False if it is already gone.
bool bind_to_supervisor(pid_t supervisor_pid);

// SIGINT/SIGTERM stay blocked (pending, not lost) from the start of main()
// until the Worker's handlers are in place, so a stop that arrives while the
// config loads is a clean retirement, not a death by signal.
void hold_stop_signals();
void release_stop_signals();

// The line style for stdout (text, journal, logfmt, json).
LineOptions line_options_for(const Config& config, const WorkerOptions& options);


// Reports a configuration error before the loop runs: on stderr, and, when
// supervised, as a ConfigError message on the control channel, so that a
// failed reload is logged with its reason. The caller then exits 78.
void report_config_error(const WorkerOptions& options, const std::string& error);

class Worker {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Sets up logging and the engine, which takes the targets. Returns the
  // exit code to leave with when it fails: kExitConfig for a configuration
  // error, kExitSoftware when the process cannot run (the loop, a handle,
  // libcurl not loadable); kExitOk when it is ready to run().
  int configure(Config config, std::string* error);

  // Runs the loop until the worker exits; returns the exit code.
  int run();

 private:
  struct Write;

  static void on_uv_signal(uv_signal_t* handle, int signum) noexcept;
  static void on_uv_loop_started(uv_timer_t* handle) noexcept;
  static void on_uv_exit_guard(uv_timer_t* handle) noexcept;
  static void on_uv_retire_deadline(uv_timer_t* handle) noexcept;
  static void on_uv_heartbeat(uv_timer_t* handle) noexcept;
  static void on_uv_pulse(uv_timer_t* handle) noexcept;
  static void on_uv_drain(uv_timer_t* handle) noexcept;
  static void on_uv_control_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) noexcept;
  static void on_uv_control_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_uv_control_written(uv_write_t* req, int status) noexcept;

  void ensure_open_files(size_t max_in_flight);
  bool open_control(std::string* error);
  void start_serving();
  StatusServer::Reply answer(const std::string& path);
  StatusServer::Reply answer_small(const std::string& path);  // one target, /healthz, 404
  std::string render_metrics();
  std::shared_ptr<const std::string> shared_body(const std::string& key, const std::function<std::string()>& render);
  // /healthz's verdict: empty when healthy, else why not (schedule_health.h).
  std::string health_problem();
  ProcessView process_view();
  void handle_control_message(const ControlMessage& msg);
  void control_failed(int code, const std::string& why);
  bool send(const ControlMessage& msg);
  bool send_bytes(std::string data);  // encoded messages
  // See the top of this file.
  enum class Phase { Running, Retiring, HandoverHeld, EndingAlerts, WritingState, HandingOver, Finished };
  // The one place the phase changes; asserts that the change is legal.
  void set_phase(Phase next);
  bool finished() const { return phase_ == Phase::Finished; }
  void retire(uint64_t cut_over_ns);
  void resume();
  void on_engine_idle();
  // The engine is idle and nothing waits any more: alerts end, the state is
  // written, then handed over.
  void leave();
  void hand_over();
  bool restore_state(const std::string& path, std::string* error);
  // Inherits the state file's records (those of targets not inherited
  // already) and logs "<what>: N of M targets, K DOWN".
  void take_file_records(const std::string& what);
  void after_handover();
  std::string records() const;  // every target's record, alert marks included
  // The hand-over is sent: exit once the requests the quiesced server had
  // accepted are answered (bounded by kDrainLimit).
  void finish_when_served();
  void finish(int code);

  WorkerOptions options_;
  uv_loop_t loop_;
  int loop_init_error_ = 0;
  std::unique_ptr<LineWriter> writer_;
  std::unique_ptr<Logger> log_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Alerter> alerter_;
  std::unique_ptr<StateKeeper> state_;  // null without a state_file
  std::vector<TargetStateRecord> file_records_;  // read at start, until taken
  // /metrics: serves options_.listen_fd, or (standalone) a socket of its own.
  std::unique_ptr<StatusServer> status_;
  UniqueFd own_listen_fd_;
  struct SharedBody {
    std::weak_ptr<const std::string> body;  // alive while a response still sends it
    uint64_t made_ms = 0;                    // uv_now() when rendered
  };
  std::map<std::string, SharedBody> shared_bodies_;  // by path
  Shard shard_;                      // which share of the file's targets this worker probes
  size_t configured_targets_ = 0;    // every target in the file, every shard's
  int64_t loaded_unix_ = 0;          // when this worker's configuration was loaded
  bool last_reload_ok_ = true;       // false once the supervisor says a reload failed
  int64_t last_reload_failed_unix_ = 0;
  ScheduleHealth health_;
  UvHandle<uv_signal_t> sigint_, sigterm_;
  UvHandle<uv_timer_t> started_, exit_guard_, retire_deadline_, heartbeat_, pulse_, drain_;
  uint64_t drain_started_ns_ = 0;
  UvHandle<uv_pipe_t> control_;
  ControlDecoder decoder_;
  char read_buffer_[64 * 1024];
  size_t writes_pending_ = 0;
  uint64_t retire_limit_ms_ = 0;  // in-flight probes get this long after a stop; see retire()
  Phase phase_ = Phase::Running;
  uint64_t retire_cut_over_ns_ = 0;  // the cut-over of the supervisor's Retire
  bool retire_signal_due_ = false;   // a Retire came; its SIGTERM (at the cut-over) not yet
  bool reload_retirement_ = false;   // retiring for a reload (a Retire), not called off
  bool stop_signal_seen_ = false;    // a signal other than that SIGTERM came
  bool retire_deadline_passed_ = false;
  bool handover_ended_ = false;  // our targets' states are final (after_handover())
  int exit_code_ = kExitOk;
};

}  // namespace observer
