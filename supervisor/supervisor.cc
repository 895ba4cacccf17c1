#include "supervisor/supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace observer {
namespace {

using std::chrono::milliseconds;

// Hand-over bytes queued for a successor past which the supervisor stops
// reading the retiring worker until the successor has taken them: the
// supervisor's memory does not grow with the number of targets.
constexpr size_t kRelayQueueLimit = 64 * 1024;

// Stop signals closer together than this are one request (see on_uv_signal).
constexpr std::chrono::milliseconds kSameStopRequest(250);

// The watchdog ping certifies that the current worker's loop was heard from
// this recently: three heartbeats, so that one late heartbeat on a loaded
// machine costs no ping, while a hung worker stops the pings within seconds.
constexpr std::chrono::milliseconds kWatchdogFreshness = 3 * kHeartbeatInterval;

std::string pid_text(const WorkerProcess* w) { return "(pid " + std::to_string(w->pid()) + ")"; }

LogField pid_field(const WorkerProcess* w) { return {"pid", std::to_string(w->pid()), true}; }

const char* env_or_null(const Environment& env, const char* key) {
  auto it = env.find(key);
  return it == env.end() ? nullptr : it->second.c_str();
}

// The process-wide settings of the configuration as it is now. Only the top
// level of the file is read: the sections are the new worker's to check.
bool load_global_settings(const std::vector<std::string>& args, const Environment& env, GlobalConfig* out,
                          std::string* error) {
  Action action = Action::Run;
  return load_process_settings(args, env, &action, out, error);
}

LineOptions line_options_for(const GlobalConfig& global, const Environment& env) {
  LineOptions o;
  o.style = choose_line_style(global.log_format, STDOUT_FILENO, env_or_null(env, "JOURNAL_STREAM"));
  return o;
}

}  // namespace

Supervisor::Supervisor(uv_loop_t* loop, SupervisorSetup setup)
    : loop_(loop),
      setup_(std::move(setup)),
      line_options_(line_options_for(setup_.global, setup_.env)),
      out_(STDOUT_FILENO, kStdoutBacklogBytes, drop_notice_for(line_options_)),
      log_(&out_, line_options_) {
  applied_global_ = setup_.global;
}

Supervisor::~Supervisor() { workers_.clear(); }

int Supervisor::run() {
  std::string error;
  if (!init_handles(&error)) {
    std::fprintf(stderr, "observer: %s\n", error.c_str());
    close_handles();
    uv_run(loop_, UV_RUN_DEFAULT);
    return kExitSoftware;
  }
  if (!notifier_.open(env_or_null(setup_.env, "NOTIFY_SOCKET"), &error))
    log_.warning("sd_notify disabled: " + error);
  std::chrono::microseconds ping{};
  if (notifier_.enabled() && watchdog_ping_interval(env_or_null(setup_.env, "WATCHDOG_USEC"),
                                                    env_or_null(setup_.env, "WATCHDOG_PID"), getpid(), &ping)) {
    uint64_t ms = std::max<uint64_t>(1, static_cast<uint64_t>(ping.count() / 1000));
    // No ping yet: systemd arms the watchdog once the start-up is complete
    // (READY=1), and a ping vouches for a worker that is heard from.
    uv_timer_start(watchdog_timer_.get(), &Supervisor::on_uv_watchdog_timer, ms, ms);
  }
  std::string notice = listen_sockets_.adopt_activated(setup_.env);
  if (!notice.empty()) log_.warning(notice);
  if (!start_candidate(applied_global_, &error)) {
    std::fprintf(stderr, "observer: cannot start the worker %s: %s\n", setup_.worker_path.c_str(), error.c_str());
    exit_code_ = kExitSoftware;
    workers_.clear();
    close_handles();
  }
  uv_run(loop_, UV_RUN_DEFAULT);
  // Everything the workers wrote is queued by now; give a slow reader a
  // bounded moment to take it.
  out_.flush(milliseconds(2000));
  return exit_code_;
}

bool Supervisor::init_handles(std::string* error) {
  auto signal_init = [this](UvHandle<uv_signal_t>* h, int signum) {
    int rc = h->init([this](uv_signal_t* s) { return uv_signal_init(loop_, s); }, this);
    return rc != 0 ? rc : uv_signal_start(h->get(), &Supervisor::on_uv_signal, signum);
  };
  auto timer_init = [this](UvHandle<uv_timer_t>* h) {
    return h->init([this](uv_timer_t* t) { return uv_timer_init(loop_, t); }, this);
  };
  int rc = signal_init(&sighup_, SIGHUP);
  if (rc == 0) rc = signal_init(&sigterm_, SIGTERM);
  if (rc == 0) rc = signal_init(&sigint_, SIGINT);
  if (rc == 0) rc = timer_init(&restart_timer_);
  if (rc == 0) rc = timer_init(&ready_timer_);
  if (rc == 0) rc = timer_init(&watchdog_timer_);
  if (rc == 0) rc = timer_init(&reap_timer_);
  if (rc == 0) rc = timer_init(&liveness_timer_);
  if (rc == 0) {
    auto every = static_cast<uint64_t>(kHeartbeatInterval.count());
    rc = uv_timer_start(liveness_timer_.get(), &Supervisor::on_uv_liveness_timer, every, every);
  }
  if (rc != 0) *error = std::string("cannot set up the event loop: ") + uv_strerror(rc);
  return rc == 0;
}

void Supervisor::close_handles() {
  sighup_.close();
  sigterm_.close();
  sigint_.close();
  // Closing the last uv_signal of a signal restores its default action,
  // which would let a late SIGHUP/SIGTERM/SIGINT kill the process between
  // here and exit (with lost output and a signal exit status). The process
  // is about to exit: from now on these signals change nothing.
  for (int signum : {SIGHUP, SIGTERM, SIGINT}) signal(signum, SIG_IGN);
  restart_timer_.close();
  ready_timer_.close();
  watchdog_timer_.close();
  reap_timer_.close();
  liveness_timer_.close();
}

void Supervisor::apply_global(const GlobalConfig& global) {
  applied_global_ = global;
  listen_sockets_.keep_only(global.listen);
  line_options_ = line_options_for(global, setup_.env);
  log_.set_options(line_options_);
}

// ---- signals ---------------------------------------------------------------

void Supervisor::on_uv_signal(uv_signal_t* handle, int signum) noexcept {
  auto* self = static_cast<Supervisor*>(handle->data);
  if (self == nullptr) return;
  if (signum == SIGHUP) {
    self->reload();
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (!self->stopping_) {
    self->log_.info("Got SIGINT/SIGTERM, exiting.");
    self->first_stop_signal_ = now;
  } else if (now - self->first_stop_signal_ < kSameStopRequest) {
    // timeout(1), kill(1) of a pid and its group, a terminal plus an init
    // system: one stop request often arrives as two signals at once. Only a
    // later one means "stop waiting".
    return;
  }
  self->begin_stop(kExitOk);
}

void Supervisor::reload() {
  if (stopping_) return;
  log_.info("Got SIGHUP, reloading.");
  // Before the first READY=1 systemd is still waiting for the start to end;
  // a reload then is part of the start, not a RELOADING=1 of its own.
  if (ever_ready_) {
    reload_pending_ = true;
    notifier_.send(sd_reloading_message(monotonic_usec_now(), "Reloading configuration"));
  }

  // The supervisor reads the top of the configuration too, to decline a
  // broken one with its precise message before touching any worker.
  GlobalConfig global;
  std::string error;
  if (!load_global_settings(setup_.args, setup_.env, &global, &error)) {
    log_.error("Reload failed: " + error + "; the running worker keeps the previous configuration.");
    // A candidate of an earlier SIGHUP still finishes that reload.
    if (candidate_ == nullptr) finish_reload("Reload failed: " + error);
    return;
  }
  if (candidate_ != nullptr) supersede(candidate_);
  uv_timer_stop(restart_timer_.get());
  if (!start_candidate(global, &error)) {
    log_.error("Reload failed: cannot start the worker: " + error + ".");
    finish_reload("Reload failed: cannot start the worker: " + error);
    if (current_ == nullptr) schedule_restart(milliseconds(0), "No worker is running");
  }
}

void Supervisor::begin_stop(int exit_code) {
  if (stopping_) {
    log_.warning("Stopping: not waiting any longer; killing the workers.");
    for (auto& w : workers_) w->kill();
    return;
  }
  stopping_ = true;
  exit_code_ = exit_code;
  current_ = nullptr;
  candidate_ = nullptr;
  notifier_.send(sd_stopping_message("Stopping"));
  uv_timer_stop(restart_timer_.get());
  uv_timer_stop(ready_timer_.get());
  for (auto& w : workers_) w->terminate(applied_global_.shutdown_timeout);
  uv_timer_start(reap_timer_.get(), &Supervisor::on_uv_reap_timer, 0, 0);
}

// ---- workers ---------------------------------------------------------------

WorkerProcess* Supervisor::spawn_worker(bool cut_over, const std::string& listen, std::string* error) {
  WorkerSpawnSpec spec;
  if (!listen_sockets_.socket_for(listen, &spec.listen_fd, error)) return nullptr;
  spec.path = setup_.worker_path;
  spec.args.push_back("--supervised=" + std::to_string(getpid()));
  if (line_options_.style == LineStyle::Journal) spec.args.push_back("--journal");
  if (cut_over) spec.args.push_back("--cut-over");
  if (spec.listen_fd >= 0) spec.args.push_back("--listen-fd=" + std::to_string(kListenFd));
  spec.args.insert(spec.args.end(), setup_.args.begin(), setup_.args.end());
  for (const auto& [key, value] : setup_.env) {
    // systemd's notify and watchdog variables are the supervisor's alone.
    if (key == "NOTIFY_SOCKET" || key == "WATCHDOG_USEC" || key == "WATCHDOG_PID") continue;
    if (is_socket_activation_variable(key)) continue;
    spec.env.push_back(key + "=" + value);
  }
  auto worker = std::make_unique<WorkerProcess>(loop_, next_serial_++, &out_, &log_, static_cast<WorkerEvents*>(this));
  int rc = worker->spawn(spec);
  if (rc != 0) {
    *error = uv_strerror(rc);
    if (worker->pid() != 0) {
      // Spawned but unusable (and killed): keep it until it is reaped.
      worker->supersede(applied_global_.shutdown_timeout);
      workers_.push_back(std::move(worker));
    }
    return nullptr;
  }
  WorkerProcess* w = worker.get();
  workers_.push_back(std::move(worker));
  log_.info("Started worker " + pid_text(w) + ".", {pid_field(w)});
  return w;
}

bool Supervisor::start_candidate(const GlobalConfig& global, std::string* error) {
  // Replacing a running worker: the two cut over at an instant the new one
  // announces. A start or a restart after a crash has nobody to cut over from.
  WorkerProcess* w = spawn_worker(current_ != nullptr, global.listen, error);
  if (w == nullptr) return false;
  candidate_ = w;
  candidate_global_ = global;
  // With nobody to hand state over, the hand-over is empty.
  if (current_ == nullptr) end_inbound(w);
  uv_timer_start(ready_timer_.get(), &Supervisor::on_uv_ready_timer, whole_ms(global.reload_timeout), 0);
  return true;
}

void Supervisor::on_worker_ready(WorkerProcess* w) {
  if (stopping_ || w != candidate_) return;
  uv_timer_stop(ready_timer_.get());
  if (current_ == nullptr) {
    promote(w);
  } else if (current_->inbound_open()) {
    // Retiring the current worker now would cut its own hand-over short; it
    // ends when the worker it comes from sends StateEnd or exits.
    w->wait_for_handover();
  } else {
    take_over(w);
  }
}

void Supervisor::promote(WorkerProcess* w) {
  apply_global(candidate_global_);
  candidate_ = nullptr;
  current_ = w;
  w->make_current();
  end_inbound(w);
  log_.info("Worker " + pid_text(w) + " is ready.", {pid_field(w)});
  std::string status = "Running, worker pid " + std::to_string(w->pid());
  if (!ever_ready_) {
    ever_ready_ = true;
    notifier_.send(sd_ready_message(status));
  } else {
    finish_reload("Reloaded. " + status);
  }
}

void Supervisor::take_over(WorkerProcess* successor) {
  WorkerProcess* old = current_;
  Nanos old_bound = applied_global_.shutdown_timeout;  // what the old worker was configured with
  retired_global_ = applied_global_;
  apply_global(candidate_global_);
  candidate_ = nullptr;
  current_ = successor;
  successor->make_current();
  log_.info("Reloaded: worker " + pid_text(successor) + " takes over from worker " + pid_text(old) + ".",
            {pid_field(successor), {"old_pid", std::to_string(old->pid()), true}});
  // It fires its slots up to the successor's cut-over, then retires; its
  // SIGTERM follows at the cut-over.
  // The instant is the new worker's word; a broken one (far in the future)
  // must not keep the old worker, and so two workers, running unbounded.
  uint64_t latest = uv_hrtime() + static_cast<uint64_t>(applied_global_.reload_timeout.count());
  old->retire(std::min(successor->cut_over_ns(), latest), old_bound, successor->serial());
  finish_reload("Reloaded. Running, worker pid " + std::to_string(successor->pid()));
}

void Supervisor::end_inbound(WorkerProcess* w) {
  if (!w->end_inbound()) return;
  if (w == current_ && candidate_ != nullptr && candidate_->role() == WorkerRole::Waiting) take_over(candidate_);
}

void Supervisor::supersede(WorkerProcess* w) {
  if (candidate_ == w) candidate_ = nullptr;
  w->supersede(applied_global_.shutdown_timeout);
}

// The worker in force keeps its configuration: its metrics say so
// (observer_config_last_reload_successful).
void Supervisor::tell_reload_failed() {
  if (current_ == nullptr) return;
  ControlMessage m = control_message(MessageType::ReloadFailed);
  m.unix_seconds = static_cast<uint64_t>(time(nullptr));
  current_->send(m);
}

void Supervisor::finish_reload(const std::string& status) {
  if (status.compare(0, 13, "Reload failed") == 0) tell_reload_failed();
  if (!reload_pending_) return;
  reload_pending_ = false;
  notifier_.send(sd_ready_message(status));
}

void Supervisor::on_worker_state(WorkerProcess* w, const ControlMessage& msg) {
  // Only a retiring worker hands over; a worker stopping on its own (Ctrl-C
  // in a terminal, a stop) sends its state to nobody.
  // Once it sent StateEnd (HandedOver), nothing more goes on: the StateEnd
  // ended its successor's inbound hand-over, or there was nobody to end.
  if (w->role() != WorkerRole::Retiring) return;
  WorkerProcess* successor = find(w->successor());
  if (msg.type == MessageType::StateEnd) w->outbound_ended();
  if (successor == nullptr || !successor->inbound_open()) return;
  if (msg.type != MessageType::TargetState) {
    end_inbound(successor);
    return;
  }
  successor->send(msg);
  if (successor->queued_bytes() > kRelayQueueLimit) w->hold_reads(true);
}

void Supervisor::on_worker_drained(WorkerProcess* w) { release_relay(w); }

void Supervisor::release_relay(const WorkerProcess* successor) {
  for (auto& w : workers_)
    if (w->hands_over_to(successor->serial())) w->hold_reads(false);
}

void Supervisor::on_worker_protocol_error(WorkerProcess* w, const std::string& error) {
  log_.error("Worker " + pid_text(w) + " broke the control protocol (" + error + "); killed it.", {pid_field(w)});
}

void Supervisor::on_worker_finished(WorkerProcess* w) {
  uv_timer_start(reap_timer_.get(), &Supervisor::on_uv_reap_timer, 0, 0);
  release_relay(w);  // nobody is left to take what is held back
  if (stopping_) {
    log_.info("Worker " + pid_text(w) + " " + w->describe_exit() + ".", {pid_field(w)});
    return;
  }
  switch (w->role()) {
    case WorkerRole::Retiring:
    case WorkerRole::HandedOver: {
      Level level = (w->term_signal() == 0 && w->exit_status() == 0) ? Level::Info : Level::Warning;
      std::vector<LogField> fields = {pid_field(w)};
      // The cut-over reached it late: those targets were probed twice.
      if (w->late_probes() != 0) fields.push_back({"late_probes", std::to_string(w->late_probes()), true});
      log_.log(level, "", "Worker " + pid_text(w) + " retired: " + w->describe_exit() + ".", std::move(fields));
      WorkerProcess* successor = find(w->successor());
      // It died before its StateEnd: what it sent is all there is.
      if (successor != nullptr && w->role() == WorkerRole::Retiring) end_inbound(successor);
      break;
    }
    case WorkerRole::Superseded:
      log_.info("Worker " + pid_text(w) + " (superseded) " + w->describe_exit() + ".", {pid_field(w)});
      break;
    case WorkerRole::Starting:
    case WorkerRole::Waiting:
      if (w == candidate_) handle_candidate_exit(w);
      break;
    case WorkerRole::Current:
      if (w == current_) handle_current_exit(w);
      break;
  }
}

void Supervisor::handle_candidate_exit(WorkerProcess* w) {
  candidate_ = nullptr;
  uv_timer_stop(ready_timer_.get());
  std::string what = "worker " + pid_text(w) + " " + w->describe_exit() + " before it was ready";
  if (!w->config_error().empty()) what += " (" + w->config_error() + ")";
  if (!ever_ready_ && w->term_signal() == 0 && w->exit_status() == kExitConfig) {
    log_.error("The " + what + " (configuration error); exiting.", {pid_field(w)});
    std::fprintf(stderr, "observer: the worker reported a configuration error (exit status 78)\n");
    begin_stop(kExitConfig);
    return;
  }
  if (current_ != nullptr) {
    log_.error("Reload failed: the new " + what + "; worker " + pid_text(current_) + " keeps running.",
               {pid_field(w)});
    finish_reload("Reload failed: the new " + what);
    return;
  }
  finish_reload("Reload failed: the new " + what);
  std::string sentence = what;
  sentence[0] = 'W';
  schedule_restart(w->healthy_for(), sentence);
}

void Supervisor::handle_current_exit(WorkerProcess* w) {
  current_ = nullptr;
  if (call_off_retirement(w)) return;
  std::string what = (w->term_signal() != 0 || w->exit_status() != 0) ? "crashed: " + w->describe_exit()
                                                                       : "exited unexpectedly with status 0";
  if (candidate_ != nullptr) {
    log_.error("Worker " + pid_text(w) + " " + what + "; worker " + pid_text(candidate_) +
                   " of the pending reload takes its place.",
               {pid_field(w)});
    if (candidate_->role() == WorkerRole::Waiting) promote(candidate_);
    return;
  }
  schedule_restart(w->healthy_for(), "Worker " + pid_text(w) + " " + what);
}

bool Supervisor::call_off_retirement(WorkerProcess* dead) {
  for (auto& p : workers_) {
    WorkerProcess* old = p.get();
    if (!old->hands_over_to(dead->serial()) || !old->resume()) continue;
    // It has handed nothing over yet (that starts with its SIGTERM, after
    // the cut-over): it still has every target and its state. Current again.
    current_ = old;
    apply_global(retired_global_);
    std::string what = "the new worker " + pid_text(dead) + " " + dead->describe_exit() + " before the cut-over";
    log_.error("Reload failed: " + what + "; worker " + pid_text(old) + " keeps running.",
               {pid_field(dead), {"kept_pid", std::to_string(old->pid()), true}});
    notifier_.send("STATUS=Reload failed: " + what + ". Running, worker pid " + std::to_string(old->pid()));
    tell_reload_failed();
    return true;
  }
  return false;
}

void Supervisor::schedule_restart(milliseconds healthy_for, const std::string& what) {
  milliseconds delay = backoff_.next_delay(healthy_for);
  log_.error(what + "; restarting in " + format_duration(delay) + ".",
             {{"restart_in_ms", std::to_string(delay.count()), true}});
  uv_timer_start(restart_timer_.get(), &Supervisor::on_uv_restart_timer, static_cast<uint64_t>(delay.count()), 0);
}

void Supervisor::on_uv_restart_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Supervisor*>(timer->data);
  if (self == nullptr || self->stopping_ || self->current_ != nullptr || self->candidate_ != nullptr) return;
  std::string error;
  if (!self->start_candidate(self->applied_global_, &error))
    self->schedule_restart(milliseconds(0), "Cannot start the worker: " + error);
}

void Supervisor::on_uv_ready_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Supervisor*>(timer->data);
  if (self == nullptr || self->stopping_ || self->candidate_ == nullptr) return;
  WorkerProcess* w = self->candidate_;
  // Waiting means ready: only a worker still Starting can be late.
  if (w->role() != WorkerRole::Starting) return;
  std::string what = "worker " + pid_text(w) + " was not ready within " + format_duration(self->candidate_global_.reload_timeout);
  self->supersede(w);
  if (self->current_ != nullptr) {
    self->log_.error("Reload failed: the new " + what + "; worker " + pid_text(self->current_) + " keeps running.",
                     {pid_field(w)});
    self->finish_reload("Reload failed: the new " + what);
    return;
  }
  self->finish_reload("Reload failed: the new " + what);
  what[0] = 'W';
  self->schedule_restart(milliseconds(0), what);
}

bool Supervisor::current_is_live() const {
  return current_ != nullptr && !current_->exited() && current_->silent_for() <= kWatchdogFreshness;
}

void Supervisor::on_uv_watchdog_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Supervisor*>(timer->data);
  // A ping says the service works: only while the worker that serves is
  // heard from. A hung worker lets systemd's watchdog fire if the liveness
  // check below has not replaced it first.
  if (self != nullptr && self->current_is_live()) self->notifier_.send(sd_watchdog_message());
}

void Supervisor::on_uv_liveness_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Supervisor*>(timer->data);
  if (self == nullptr || self->stopping_) return;
  WorkerProcess* w = self->current_;
  if (w == nullptr || w->exited() || w->asked_to_stop() || w->silent_for() <= kWorkerStallLimit) return;
  // Its exit takes the crash path (logged, restarted with back-off).
  self->log_.error("Worker " + pid_text(w) + " is stuck: not heard from for " + format_duration(w->silent_for()) +
                       " (limit " + format_duration(kWorkerStallLimit) + "); killing it with SIGKILL.",
                   {pid_field(w), {"silent_ms", std::to_string(w->silent_for().count()), true}});
  w->kill();
}

void Supervisor::on_uv_reap_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Supervisor*>(timer->data);
  if (self != nullptr) self->reap_finished();
}

void Supervisor::reap_finished() {
  // A retiring worker may still point at a finished successor by serial;
  // find() then returns nullptr and its late records are dropped.
  workers_.erase(std::remove_if(workers_.begin(), workers_.end(),
                                [](const std::unique_ptr<WorkerProcess>& w) { return w->finished(); }),
                 workers_.end());
  if (stopping_ && workers_.empty()) close_handles();
}

WorkerProcess* Supervisor::find(uint64_t serial) const {
  for (const auto& w : workers_)
    if (w->serial() == serial && !w->finished()) return w.get();
  return nullptr;
}

}  // namespace observer
