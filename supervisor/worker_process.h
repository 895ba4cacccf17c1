// WorkerProcess: one spawned observer-worker, as the supervisor sees it.
//
// Owns the child's process handle, its stdout forwarder, its end of the
// control channel (fd 3 in the child: a socketpair) with the decoder, a
// kill timer that turns a SIGTERM nobody answers into a SIGKILL, and the
// timer that sends a retiring worker its SIGTERM at the cut-over. It keeps
// the worker's life cycle as two explicit states, each changed in one place
// that refuses (asserts) an illegal transition:
//
//   its role, what it is to the Supervisor (set_role(); the decisions, who
//   retires whom, where a hand-over goes, whether to restart, are the
//   Supervisor's, told to it through WorkerEvents):
//
//     Starting --wait_for_handover()--> Waiting      ready, but the current
//                                                    worker's own inbound
//                                                    hand-over still runs
//     Starting|Waiting --make_current()--> Current
//     Starting|Waiting --supersede()--> Superseded   a newer reload (or a
//                                                    failed spawn) replaced it
//     Current --retire()--> Retiring                 hands its state over to
//                                                    its successor
//     Retiring --outbound_ended()--> HandedOver      it sent its StateEnd
//     Retiring|HandedOver --resume()--> Current      the successor died
//                                                    before the cut-over
//
//   and its process stage, what has been done to the child (set_stage()):
//
//     Running --retire()--> RetireDue    Retire sent, SIGTERM at the cut-over
//     RetireDue --resume()--> Running
//     Running|RetireDue --terminate(), kill(), the cut-over--> Stopping
//     Running|RetireDue|Stopping --the child exits--> Exited
//     Exited --stdout and control channel at EOF--> Finished
//
// The role outlives the process (the Supervisor acts on a worker's exit by
// what it was). Whether StateEnd was sent to it (inbound_open()) is a fact
// of its channel, not of either state: a Current worker's inbound hand-over
// may still run, a Starting one's may have ended.
//
// A worker is "finished" once the process has exited AND its stdout and
// control channel have been read to EOF (or given up on one second after the
// exit), so that every line it wrote reaches stdout before its exit is
// logged, and every state record it sent is seen. Only then
// WorkerEvents::on_worker_finished runs; the owner may destroy the object
// afterwards, but never from inside one of its callbacks.
#pragma once

#include <uv.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/control.h"
#include "common/duration.h"
#include "common/logger.h"
#include "supervisor/output_forwarder.h"
#include "common/uv_handle.h"

namespace observer {

class WorkerProcess;

// Called by WorkerProcess on the loop thread. None of them may destroy the
// WorkerProcess they are called for.
class WorkerEvents {
 public:
  virtual void on_worker_ready(WorkerProcess* worker) = 0;
  // A TargetState or StateEnd (the worker's outbound hand-over).
  virtual void on_worker_state(WorkerProcess* worker, const ControlMessage& msg) = 0;
  // The channel broke the protocol; the worker has been sent SIGKILL.
  virtual void on_worker_protocol_error(WorkerProcess* worker, const std::string& error) = 0;
  virtual void on_worker_finished(WorkerProcess* worker) = 0;
  // Everything sent to it has been written (see queued_bytes()).
  virtual void on_worker_drained(WorkerProcess* worker) = 0;

 protected:
  ~WorkerEvents() = default;
};

enum class WorkerRole {
  Starting,    // spawned; not ready yet
  Waiting,     // ready, waiting for the current worker's own hand-over to end
  Current,     // the one that serves
  Retiring,    // retired (Retire, then SIGTERM) after a successor became ready; hands its state over
  HandedOver,  // retiring, and its StateEnd came: nothing more goes to the successor
  Superseded,  // a newer reload replaced it before it served (or its spawn failed); state discarded
};

struct WorkerSpawnSpec {
  std::string path;
  std::vector<std::string> args;  // without argv[0]
  std::vector<std::string> env;   // "KEY=value"
  int listen_fd = -1;  // the metrics socket, inherited as kListenFd; -1: none
};

class WorkerProcess {
 public:
  using Clock = std::chrono::steady_clock;

  WorkerProcess(uv_loop_t* loop, uint64_t serial, LineWriter* out, Logger* log, WorkerEvents* events);
  ~WorkerProcess() = default;
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  // Starts the child. Returns 0 or a negative uv error code; on failure the
  // object holds no process and may be destroyed.
  int spawn(const WorkerSpawnSpec& spec);

  // Queues a message to the worker (the inbound hand-over). Ignored once the
  // channel is closed: a worker that is gone needs no state.
  void send(const ControlMessage& msg);
  // Bytes sent but not yet written to the channel.
  size_t queued_bytes() const { return outbox_.size() + writing_bytes_; }

  // Stops (or resumes) reading its control channel, so that what it sends
  // waits in the socket and in the worker instead of here. Only while it
  // runs: once it has exited, reading resumes whatever was asked, so that
  // its last messages and EOF are read.
  void hold_reads(bool hold);

  // SIGTERM now, SIGKILL if still running after `grace`. A second call only
  // shortens nothing: the first grace stands. On a retire() whose SIGTERM
  // is still to come, that SIGTERM goes now (the stop of everything must
  // not wait for a cut-over), with the sooner of the two SIGKILL deadlines.
  void terminate(Nanos grace);
  // A reload's retirement (DESIGN.md: the old worker is retired with
  // SIGTERM): a Retire message with the successor's cut-over T (a
  // uv_hrtime() instant; 0: at once) now, so that the worker fires its slots
  // before T and none after; SIGTERM once T has passed (a few ms after it,
  // never before, and never ahead of the Retire itself); SIGKILL if still
  // running `grace` after T. Without a control channel, terminate(grace).
  // Asks to stop: a later retire() changes nothing, a terminate() only
  // brings the SIGTERM forward. Role Current -> Retiring, its hand-over
  // going to the worker with serial `successor`.
  void retire(uint64_t cut_over_ns, Nanos grace, uint64_t successor);
  // Calls a retire() off while its SIGTERM is still to come (the successor
  // died before the cut-over): a Resume message, no SIGTERM, no SIGKILL
  // deadline; the worker serves on, Current again. False (and nothing done)
  // when it is too late: the SIGTERM went, the worker exited or its channel
  // is closed.
  bool resume();
  // retire()'s SIGTERM is still to come (the cut-over has not passed).
  bool retire_pending() const { return stage_ == Stage::RetireDue; }
  // SIGKILL now.
  void kill();

  // The Supervisor's role changes (see the top of this file).
  // Starting -> Waiting.
  void wait_for_handover() { set_role(WorkerRole::Waiting); }
  // Starting|Waiting -> Current.
  void make_current() { set_role(WorkerRole::Current); }
  // Starting|Waiting -> Superseded, and terminate(grace).
  void supersede(Nanos grace);
  // Retiring -> HandedOver: its StateEnd came.
  void outbound_ended() { set_role(WorkerRole::HandedOver); }
  // Sends StateEnd, ending its inbound hand-over; false (nothing sent) if
  // that was done already.
  bool end_inbound();

  WorkerRole role() const { return role_; }
  // StateEnd not yet sent to it: its inbound hand-over may still run.
  bool inbound_open() const { return inbound_open_; }
  // Retiring or HandedOver, its hand-over going to the worker `serial`.
  bool hands_over_to(uint64_t serial) const {
    return (role_ == WorkerRole::Retiring || role_ == WorkerRole::HandedOver) && successor_ == serial;
  }
  // Retiring: the serial of the worker its state goes to; else 0.
  uint64_t successor() const { return successor_; }

  uint64_t serial() const { return serial_; }
  int pid() const { return pid_; }
  bool exited() const { return stage_ == Stage::Exited || stage_ == Stage::Finished; }
  bool finished() const { return stage_ == Stage::Finished; }
  // Retired, terminated or killed, and not exited yet.
  bool asked_to_stop() const { return stage_ == Stage::RetireDue || stage_ == Stage::Stopping; }
  // The cut-over its CutOverReady announced (a uv_hrtime() instant), or 0.
  uint64_t cut_over_ns() const { return cut_over_ns_; }
  // What its CutOverLate said: targets it probed for slots that were its
  // successor's (the Retire came after the cut-over).
  uint64_t late_probes() const { return late_probes_; }
  int64_t exit_status() const { return exit_status_; }
  int term_signal() const { return term_signal_; }
  // "exited with status 3", "was killed by signal 9 (Killed)"
  std::string describe_exit() const;
  // What the worker said was wrong with its configuration ("" if nothing).
  const std::string& config_error() const { return config_error_; }
  // How long it ran healthily: from its Ready to the last message it sent
  // (a worker sends a Heartbeat every second); zero if never ready.
  std::chrono::milliseconds healthy_for() const;
  // How long since it last sent anything on the control channel (since
  // its spawn if it never did): its loop's liveness (control.h).
  std::chrono::milliseconds silent_for() const;

 private:
  struct WriteRequest;

  // What has been done to the child process (see the top of this file).
  enum class Stage {
    Running,    // spawned (or resumed); not asked to stop
    RetireDue,  // retire(): Retire sent, its SIGTERM waits for the cut-over
    Stopping,   // SIGTERM or SIGKILL sent
    Exited,     // the process exited; its stdout or control channel not at EOF yet
    Finished,   // exited, and both at EOF (or given up on)
  };
  // The one place each state changes; asserts that the change is legal.
  void set_stage(Stage next);
  void set_role(WorkerRole next);

  static void on_uv_exit(uv_process_t* process, int64_t exit_status, int term_signal) noexcept;
  static void on_uv_written(uv_write_t* req, int status) noexcept;
  static void on_uv_control_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) noexcept;
  static void on_uv_control_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_uv_kill_timer(uv_timer_t* timer) noexcept;
  static void on_uv_linger_timer(uv_timer_t* timer) noexcept;
  static void on_uv_retire_signal_timer(uv_timer_t* timer) noexcept;

  void handle_control_bytes(const char* data, size_t len);
  void flush_outbox();
  void protocol_error(const std::string& error);
  // retire()'s SIGTERM: sent if its time has come, else its timer armed.
  void send_retire_signal();
  void close_control();
  void maybe_finished();

  uv_loop_t* loop_;
  uint64_t serial_;
  Logger* log_;
  WorkerEvents* events_;
  int pid_ = 0;

  // The process handle is managed by hand: a failed uv_spawn leaves the
  // handle initialised, so it must still be closed (see libuv's test-spawn).
  struct ProcessHandle {
    uv_process_t* h = nullptr;
    ~ProcessHandle();
  } process_;
  OutputForwarder stdout_;
  UvHandle<uv_pipe_t> control_;
  ControlDecoder decoder_;
  std::array<char, 16 * 1024> control_buffer_{};
  bool control_done_ = false;
  std::string outbox_;        // encoded messages not yet handed to libuv
  bool writing_ = false;      // a write of an earlier outbox is in flight
  size_t writing_bytes_ = 0;  // its size
  bool reads_held_ = false;
  UvHandle<uv_timer_t> kill_timer_;
  UvHandle<uv_timer_t> linger_timer_;
  UvHandle<uv_timer_t> retire_signal_timer_;
  uint64_t retire_cut_over_ns_ = 0;  // RetireDue: the cut-over its SIGTERM waits for

  Stage stage_ = Stage::Running;
  WorkerRole role_ = WorkerRole::Starting;
  uint64_t successor_ = 0;    // Retiring, HandedOver: serial of the worker its state goes to
  bool inbound_open_ = true;  // StateEnd not yet sent to it

  std::string config_error_;
  bool ready_ = false;  // it sent Ready (a fact of its past, whatever its stage or role now)
  uint64_t cut_over_ns_ = 0;
  uint64_t late_probes_ = 0;
  Clock::time_point ready_at_{};
  Clock::time_point last_heard_{};  // its last control message, or its spawn
  int64_t exit_status_ = 0;
  int term_signal_ = 0;
};

}  // namespace observer
