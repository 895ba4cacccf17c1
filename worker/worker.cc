#include "worker/worker.h"

#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/resource.h>
#endif

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "common/listen_address.h"
#include "common/log_format.h"
#include "common/version.h"

namespace observer {
namespace {

// Lines queued for stdout before the LineWriter starts dropping (and counting).
constexpr size_t kMaxQueuedLogBytes = 4 * 1024 * 1024;
// How long a retiring worker waits for the supervisor to take its state.
constexpr uint64_t kHandoverSendLimitMs = 5000;
// How long stdout may take to drain at exit.
constexpr std::chrono::milliseconds kFlushLimit{2000};
// How long a retiring worker keeps answering the requests it accepted
// before it quiesced (checked every kDrainPollMs).
constexpr uint64_t kDrainLimitMs = 1000;
constexpr uint64_t kDrainPollMs = 5;
// How long alerts in flight at exit may take to end: as long as one may
// take at all, so that one is cut off (and sent again by whoever comes
// next) only when the supervisor's SIGKILL is nearer.
constexpr uint64_t kAlertQuiesceLimitMs = static_cast<uint64_t>(kAlertTimeout.count()) + 200;

}  // namespace

std::chrono::milliseconds cut_over_margin() {
  const char* v = std::getenv("OBS_TEST_CUT_OVER_MARGIN_MS");
  if (v == nullptr || *v == '\0') return kCutOverMargin;
  char* end = nullptr;
  long ms = std::strtol(v, &end, 10);
  if (*end != '\0' || ms < 1 || ms > 60000) return kCutOverMargin;
  return std::chrono::milliseconds(ms);
}

bool take_internal_args(std::vector<std::string>* args, WorkerOptions* out, std::string* error) {
  size_t i = 0;
  for (; i < args->size(); ++i) {
    const std::string& a = (*args)[i];
    static constexpr const char kSupervised[] = "--supervised=";
    if (a.compare(0, sizeof kSupervised - 1, kSupervised) == 0) {
      std::string v = a.substr(sizeof kSupervised - 1);
      char* end = nullptr;
      errno = 0;
      long pid = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || errno != 0 || pid <= 0) {
        *error = "bad internal argument " + a + " (a process id is expected)";
        return false;
      }
      out->supervised = true;
      out->supervisor_pid = static_cast<pid_t>(pid);
    } else if (a == "--journal") {
      out->journal = true;
    } else if (a == "--cut-over") {
      out->cut_over = true;
    } else if (a.compare(0, 12, "--listen-fd=") == 0) {
      char* end = nullptr;
      long fd = std::strtol(a.c_str() + 12, &end, 10);
      if (a.size() == 12 || *end != '\0' || fd < 0 || fd > 65535) {
        *error = "bad internal argument " + a + " (a descriptor number is expected)";
        return false;
      }
      out->listen_fd = static_cast<int>(fd);
    } else {
      break;
    }
  }
  args->erase(args->begin(), args->begin() + static_cast<std::ptrdiff_t>(i));
  return true;
}

bool bind_to_supervisor(pid_t supervisor_pid) {
#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  // Checked after prctl: a supervisor dying in between is still noticed.
  return getppid() == supervisor_pid;
}

namespace {
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

void hold_stop_signals() {
  sigset_t set = stop_signals();
  sigprocmask(SIG_BLOCK, &set, nullptr);
}

void release_stop_signals() {
  sigset_t set = stop_signals();
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

LineOptions line_options_for(const Config& config, const WorkerOptions& options) {
  LineOptions o;
  if (options.supervised) {
    // stdout is the supervisor's pipe: it told us whether its own is the journal.
    o.style = line_style_for(config.global.log_format, options.journal);
  } else {
    o.style = choose_line_style(config.global.log_format, STDOUT_FILENO, std::getenv("JOURNAL_STREAM"));
  }
  // By the file, not by this shard's share: a target's lines read the same
  // whichever shard probes it.
  o.name_target = config.configured_targets() > 1;
  return o;
}

// One queued write on the control channel; freed in its callback.
struct Worker::Write {
  uv_write_t req;
  std::string data;
  Worker* worker;
};

Worker::Worker(WorkerOptions options) : options_(options) { loop_init_error_ = uv_loop_init(&loop_); }

Worker::~Worker() {
  if (loop_init_error_ != 0) return;
  engine_.reset();
  sigint_.close();
  sigterm_.close();
  started_.close();
  exit_guard_.close();
  retire_deadline_.close();
  heartbeat_.close();
  pulse_.close();
  drain_.close();
  control_.close();
  // Let every close callback run, whatever path brought us here.
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop_) != 0) {
    uv_walk(&loop_, [](uv_handle_t* h, void*) {
      if (!uv_is_closing(h)) uv_close(h, nullptr);
    }, nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
}

void report_config_error(const WorkerOptions& options, const std::string& error) {
  std::fprintf(stderr, "observer: %s\n", error.c_str());
  if (!options.supervised) return;
  ControlMessage m;
  m.type = MessageType::ConfigError;
  m.text = error;
  std::string wire = encode_message(m);
  // Before the loop: a plain blocking write of a few hundred bytes to a
  // socketpair the supervisor reads.
  for (size_t off = 0; off < wire.size();) {
    ssize_t n = ::write(options.control_fd, wire.data() + off, wire.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// An explicit max_in_flight above what the open-file limit affords raises
// the soft limit (up to the hard one); if even that is short, says so once.
void Worker::ensure_open_files(size_t max_in_flight) {
  struct rlimit rl {};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  uint64_t need = open_files_for_max_in_flight(max_in_flight);
  if (rl.rlim_cur != RLIM_INFINITY && static_cast<uint64_t>(rl.rlim_cur) >= need) return;
  if (rl.rlim_cur == RLIM_INFINITY) return;
  rlim_t want = rl.rlim_max == RLIM_INFINITY || static_cast<uint64_t>(rl.rlim_max) >= need ? static_cast<rlim_t>(need)
                                                                                           : rl.rlim_max;
  struct rlimit raised = rl;
  raised.rlim_cur = want;
  if (want > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0) rl.rlim_cur = want;
  if (static_cast<uint64_t>(rl.rlim_cur) < need)
    log_->log(Level::Warning, "",
              "max_in_flight=" + std::to_string(max_in_flight) + " may need " + std::to_string(need) +
                  " open files, more than the limit of " + std::to_string(rl.rlim_cur) +
                  "; raise it (LimitNOFILE=, ulimit -n) or lower max_in_flight",
              {});
}

int Worker::configure(Config config, std::string* error) {
  if (loop_init_error_ != 0) {
    *error = std::string("uv_loop_init: ") + uv_strerror(loop_init_error_);
    return kExitSoftware;
  }
  // Another shard's target with a pattern that does not compile is an
  // error here too: every shard runs the same file.
  if (!config.elsewhere.empty() && !validate_patterns(config, error)) return kExitConfig;
  config.drop_elsewhere();
  shard_ = config.global.shard;
  configured_targets_ = config.configured_targets();
  LineOptions lo = line_options_for(config, options_);
  writer_ = std::make_unique<LineWriter>(STDOUT_FILENO, kMaxQueuedLogBytes, drop_notice_for(lo));
  log_ = std::make_unique<Logger>(writer_.get(), lo);
  engine_ = std::make_unique<Engine>(&loop_, log_.get());
  ensure_open_files(config.global.max_in_flight);
  loaded_unix_ = static_cast<int64_t>(time(nullptr));
  int listen_fd = options_.listen_fd;
  if (listen_fd < 0 && !config.global.listen.empty()) {
    // Run alone (debugging): the socket is this process's own.
    own_listen_fd_.reset(bind_listen_socket(config.global.listen, error));
    if (!own_listen_fd_) return kExitSoftware;
    listen_fd = own_listen_fd_.get();
  }
  if (listen_fd >= 0) status_ = std::make_unique<StatusServer>(&loop_, [this](const std::string& path) { return answer(path); });
  switch (engine_->load(std::move(config.targets), config.global.max_in_flight, error)) {
    case Engine::LoadStatus::Ok: break;
    case Engine::LoadStatus::BadConfig: return kExitConfig;
    case Engine::LoadStatus::Failed: return kExitSoftware;
  }
  alerter_ = std::make_unique<Alerter>(&loop_, log_.get());
  std::vector<Alerter::Subject> subjects;
  for (const Engine::TargetRef& r : engine_->target_refs()) subjects.push_back({r.name, r.display_url, &r.settings->alert});
  if (!alerter_->init(std::move(subjects), error)) return kExitSoftware;
  engine_->on_change([this](size_t i, const TargetState& s) {
    alerter_->follow(i, s.health(), s.since_unix_ms(), s.down_reason());
    if (state_) state_->changed();
  });
  alerter_->on_marks_changed([this] {
    if (state_) state_->changed();
  });
  if (!config.global.state_file.empty() && !restore_state(config.global.state_file, error)) return kExitSoftware;
  // The supervisor SIGKILLs a worker shutdown_timeout after its SIGTERM. A
  // probe's own timeout may be longer, so in-flight probes get a little less
  // than that bound and are then aborted: the state is always handed over
  // and the worker always exits by itself.
  uint64_t bound_ms = whole_ms(config.global.shutdown_timeout);
  retire_limit_ms_ = bound_ms - std::min<uint64_t>(1000, bound_ms / 4);
  if (options_.supervised) {
    engine_->hold_transitions();  // until the supervisor's StateEnd
  } else {
    engine_->end_handover();
    after_handover();
  }
  return kExitOk;
}

// A reload's successor takes its predecessor's records instead: fresher.
// A reload's successor takes its predecessor's records first (fresher) and
// the file's only for the targets the predecessor did not hand over (it
// died first: a worker crash during a reload must not make every DOWN
// target news again); every other worker takes the file's at once.
bool Worker::restore_state(const std::string& path, std::string* error) {
  state_ = std::make_unique<StateKeeper>(&loop_, log_.get(), path, [this] { return records(); });
  if (!state_->init(error)) return false;
  file_records_ = state_->load();
  if (file_records_.empty()) return true;
  engine_->hold_transitions();
  if (!options_.cut_over) take_file_records("State restored from " + path);
  return true;
}

void Worker::take_file_records(const std::string& what) {
  size_t taken = 0, down = 0;
  for (const TargetStateRecord& r : file_records_) {
    std::optional<size_t> i = engine_->inherit(r);  // none for a target already handed over
    if (!i) continue;
    alerter_->restore(*i, r);
    ++taken;
    if (r.health == TargetHealth::Down) ++down;
  }
  file_records_ = {};
  if (taken == 0 && options_.cut_over) return;
  const std::string& path = state_->path();
  log_->info(what + ": " + std::to_string(taken) + " of " + std::to_string(engine_->target_refs().size()) +
                 " targets, " + std::to_string(down) + " DOWN",
             {{"state_file", path, false}, {"targets", std::to_string(taken), true}, {"down", std::to_string(down), true}});
}

// Every target's state is final: alerts may go out, and the state file is
// this worker's to write.
void Worker::after_handover() {
  if (handover_ended_) return;
  handover_ended_ = true;
  size_t n = engine_->target_refs().size();
  for (size_t i = 0; i < n; ++i) {
    const TargetState& s = engine_->state_of(i);
    alerter_->follow(i, s.health(), s.since_unix_ms(), s.down_reason());
  }
  alerter_->start();
  if (state_ && !reload_retirement_) state_->enable(true);
}

std::string Worker::records() const {
  return engine_->encode_states([this](size_t i, TargetStateRecord* r) { alerter_->add_to_record(i, r); });
}

int Worker::run() {
  std::string error;
  auto signal_init = [this](uv_signal_t* h) { return uv_signal_init(&loop_, h); };
  auto timer_init = [this](uv_timer_t* h) { return uv_timer_init(&loop_, h); };
  int rc = 0;
  if ((rc = sigint_.init(signal_init, this)) != 0 || (rc = sigterm_.init(signal_init, this)) != 0 ||
      (rc = uv_signal_start(sigint_.get(), &Worker::on_uv_signal, SIGINT)) != 0 ||
      (rc = uv_signal_start(sigterm_.get(), &Worker::on_uv_signal, SIGTERM)) != 0 ||
      (rc = started_.init(timer_init, this)) != 0 || (rc = exit_guard_.init(timer_init, this)) != 0 ||
      (rc = retire_deadline_.init(timer_init, this)) != 0 || (rc = heartbeat_.init(timer_init, this)) != 0 ||
      (rc = pulse_.init(timer_init, this)) != 0 || (rc = drain_.init(timer_init, this)) != 0 ||
      (rc = uv_timer_start(started_.get(), &Worker::on_uv_loop_started, 0, 0)) != 0) {
    std::fprintf(stderr, "observer-worker: %s\n", uv_strerror(rc));
    return kExitSoftware;
  }
  if (options_.supervised && !open_control(&error)) {
    std::fprintf(stderr, "observer-worker: control channel: %s\n", error.c_str());
    return kExitSoftware;
  }
  release_stop_signals();  // a stop that came early is delivered to libuv now
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (writer_) writer_->flush(kFlushLimit);
  return exit_code_;
}

bool Worker::open_control(std::string* error) {
  int rc = control_.init([this](uv_pipe_t* p) { return uv_pipe_init(&loop_, p, 0); }, this);
  if (rc == 0) rc = uv_pipe_open(control_.get(), options_.control_fd);
  if (rc == 0)
    rc = uv_read_start(reinterpret_cast<uv_stream_t*>(control_.get()), &Worker::on_uv_control_alloc,
                       &Worker::on_uv_control_read);
  if (rc != 0) {
    *error = "fd " + std::to_string(options_.control_fd) + ": " + uv_strerror(rc);
    return false;
  }
  return true;
}

void Worker::on_uv_loop_started(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Worker*>(handle->data);
  // Stopped before the loop came round: retiring, so never READY.
  if (self == nullptr || self->phase_ != Phase::Running) return;
  std::string error;
  bool cut_over = self->options_.supervised && self->options_.cut_over;
  if (!self->engine_->start(&error, cut_over ? Nanos{cut_over_margin()} : Nanos{0})) {
    std::fprintf(stderr, "observer-worker: %s\n", error.c_str());
    self->finish(kExitSoftware);
    return;
  }
  self->health_.start(uv_hrtime(), static_cast<uint64_t>(self->engine_->longest_probe_cycle().count()));
  auto pulse = static_cast<uint64_t>(ScheduleHealth::kPulse.count());
  uv_timer_start(self->pulse_.get(), &Worker::on_uv_pulse, pulse, pulse);
  if (!self->options_.supervised) {
    self->start_serving();
    return;
  }
  ControlMessage ready = control_message(cut_over ? MessageType::CutOverReady : MessageType::Ready);
  ready.cut_over_ns = self->engine_->cut_over_ns();
  self->send(ready);
  auto every = static_cast<uint64_t>(kHeartbeatInterval.count());
  uv_timer_start(self->heartbeat_.get(), &Worker::on_uv_heartbeat, every, every);
}

// From the loop itself, so that a loop that stops (SIGSTOP, a callback that
// never returns) falls silent; the supervisor replaces a silent worker.
void Worker::on_uv_heartbeat(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Worker*>(handle->data);
  if (self == nullptr || self->finished() || self->phase_ == Phase::HandingOver) return;
  self->send(control_message(MessageType::Heartbeat));
}

// Also from the loop: /healthz sees a stalled loop by the gaps between pulses.
void Worker::on_uv_pulse(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Worker*>(handle->data);
  if (self != nullptr) self->health_.pulse(uv_hrtime());
}

void Worker::on_uv_signal(uv_signal_t* handle, int) noexcept {
  auto* self = static_cast<Worker*>(handle->data);
  if (self == nullptr || self->finished()) return;
  // The supervisor's SIGTERM of a reload (DESIGN.md: the old worker is
  // retired with SIGTERM) comes only once the cut-over of its Retire has
  // passed: the first signal from then on is that one. (The Retire, written
  // before the signal was sent, has been read: libuv runs signal callbacks
  // after the rest of the I/O of the same poll.) Any other signal is a stop.
  bool retire_signal = self->retire_signal_due_ && uv_hrtime() >= self->retire_cut_over_ns_;
  if (retire_signal)
    self->retire_signal_due_ = false;
  else
    self->stop_signal_seen_ = true;
  // The table at the top of worker.h. Only a held hand-over waits for the
  // Retire's own SIGTERM; in any other phase the retirement it asks for is
  // already under way, and it changes nothing.
  bool stop = !retire_signal;
  switch (self->phase_) {
    case Phase::Running:
      if (!stop) return;
      if (!self->options_.supervised) self->log_->info("Got SIGINT/SIGTERM, exiting.");
      self->retire(0);
      return;
    case Phase::Retiring:
      if (!stop) return;
      if (self->engine_->cutting_over()) {
        // Retired by the supervisor and waiting for the cut-over: a signal
        // before it is a stop (the supervisor's, or from outside), which ends
        // that wait; in-flight probes may still finish.
        self->retire(0);
        return;
      }
      // A second signal: stop waiting for anything.
      self->engine_->abort();  // the engine goes idle, and on_engine_idle runs
      return;
    case Phase::HandoverHeld:
      // Done, and only waiting for this signal (or any): hand over and exit.
      self->leave();
      return;
    case Phase::EndingAlerts:
      if (stop) self->alerter_->hurry();  // alerts in flight are cancelled, owed to the next worker
      return;
    case Phase::WritingState:
      if (stop) self->engine_->abort();  // idle already: nothing is in flight
      return;
    case Phase::HandingOver:
      if (stop) self->finish(kExitOk);
      return;
    case Phase::Finished:
      return;
  }
}

void Worker::set_phase(Phase next) {
  switch (next) {
    case Phase::Running:  // resume()
      assert(phase_ == Phase::Retiring || phase_ == Phase::HandoverHeld);
      break;
    case Phase::Retiring:  // retire(), or a stop that ends the wait for a cut-over
      assert(phase_ == Phase::Running || phase_ == Phase::Retiring);
      break;
    case Phase::HandoverHeld:
      assert(phase_ == Phase::Retiring || phase_ == Phase::HandoverHeld);
      break;
    case Phase::EndingAlerts:  // leave()
      assert(phase_ == Phase::Running || phase_ == Phase::Retiring || phase_ == Phase::HandoverHeld);
      break;
    case Phase::WritingState:
      assert(phase_ == Phase::EndingAlerts);
      break;
    case Phase::HandingOver:
      assert(phase_ == Phase::WritingState);
      break;
    case Phase::Finished:
      break;
  }
  phase_ = next;
}

void Worker::retire(uint64_t cut_over_ns) {
  // In-flight probes get retire_limit_ms_ from the cut-over on.
  uint64_t now = uv_hrtime();
  uint64_t wait_ms = cut_over_ns > now ? (cut_over_ns - now + 999999) / 1000000 : 0;
  set_phase(Phase::Retiring);
  uv_timer_start(retire_deadline_.get(), &Worker::on_uv_retire_deadline, retire_limit_ms_ + wait_ms, 0);
  // The successor announced T at F = T - margin (control.h): the slots that
  // start before F stay ours.
  uint64_t margin_ns = static_cast<uint64_t>(Nanos{cut_over_margin()}.count());
  uint64_t takes_from_ns = cut_over_ns > margin_ns ? cut_over_ns - margin_ns : 0;
  engine_->retire([this] { on_engine_idle(); }, cut_over_ns, takes_from_ns);
}

void Worker::resume() {
  // Only a retirement that a Retire started, and that nothing else asked
  // for since: not after a stop signal, the Retire's own SIGTERM (which the
  // supervisor never sends before a Resume) or the retire deadline, after
  // which the hand-over may be under way.
  if ((phase_ != Phase::Retiring && phase_ != Phase::HandoverHeld) || !retire_signal_due_ || stop_signal_seen_ ||
      retire_deadline_passed_)
    return;
  set_phase(Phase::Running);
  retire_signal_due_ = false;
  reload_retirement_ = false;
  retire_cut_over_ns_ = 0;
  uv_timer_stop(retire_deadline_.get());
  engine_->resume();
  if (state_ && handover_ended_) state_->enable(true);
}

void Worker::on_uv_retire_deadline(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Worker*>(handle->data);
  if (self == nullptr || self->finished() || self->phase_ == Phase::HandingOver) return;
  self->retire_deadline_passed_ = true;
  if (self->phase_ == Phase::HandoverHeld) {
    // The Retire's SIGTERM never came: the state is handed over without it.
    self->leave();
    return;
  }
  self->engine_->abort();  // the engine goes idle, and on_engine_idle hands over
}

void Worker::on_engine_idle() {
  if (phase_ != Phase::Running && phase_ != Phase::Retiring && phase_ != Phase::HandoverHeld) return;
  if (retire_signal_due_ && !stop_signal_seen_ && !retire_deadline_passed_) {
    // Retired by a Retire, and done: no slot left before its cut-over, no
    // probe in flight. DESIGN.md retires the old worker with SIGTERM, which
    // the supervisor sends once the cut-over has passed; the hand-over and
    // the exit wait for it (a few ms; bounded by the retire deadline), so it
    // never goes to a worker that has already left.
    set_phase(Phase::HandoverHeld);
    return;
  }
  leave();
}

void Worker::leave() {
  // What is left of the time the supervisor gives us before its SIGKILL
  // (the retire deadline leaves at most 1 s of it), less a margin.
  uint64_t left_ms = uv_timer_get_due_in(retire_deadline_.get()) + 500;
  uv_timer_stop(retire_deadline_.get());
  // Retired before the hand-over ended: what arrived so far is all we have.
  engine_->end_handover();
  // Alerts in flight end (delivered and marked, or owed to whoever comes
  // next), then the state is written, then handed over.
  set_phase(Phase::EndingAlerts);
  // Only a worker whose hand-over had ended holds the real state: one that
  // never got it (a reload's candidate superseded or stopped before its
  // StateEnd) would replace the file with every target unknown and
  // nothing alerted, and the next start would alert every DOWN again.
  bool state_is_ours = handover_ended_;
  alerter_->quiesce(std::min<uint64_t>(kAlertQuiesceLimitMs, left_ms), [this, state_is_ours] {
    if (!finished()) set_phase(Phase::WritingState);
    if (!state_ || !state_is_ours) return hand_over();
    state_->write_final([this] { hand_over(); });
  });
}

void Worker::hand_over() {
  if (phase_ != Phase::WritingState) return;
  set_phase(Phase::HandingOver);
  if (!options_.supervised || !control_) {
    finish(kExitOk);
    return;
  }
  // Scrapes go to the successor from now on (start_serving()); they wait in
  // the socket's queue until it takes them, none is refused.
  if (status_) status_->quiesce();
  if (engine_->late_probes() != 0) {
    ControlMessage late = control_message(MessageType::CutOverLate);
    late.late_probes = engine_->late_probes();
    send(late);
  }
  // Every record and the end in one write: 10 000 writes (each with its own
  // request and copy) made the hand-over slow and the peak high.
  std::string wire = records();
  wire += encode_message(control_message(MessageType::StateEnd));
  send_bytes(std::move(wire));
  if (writes_pending_ == 0) {
    finish_when_served();
    return;
  }
  uv_timer_start(exit_guard_.get(), &Worker::on_uv_exit_guard, kHandoverSendLimitMs, 0);
}

// A request the server accepted just before it quiesced would otherwise be
// cut off by the exit: the successor never sees it (it is no longer in the
// socket's queue), and the client gets a closed connection, not an answer.
void Worker::finish_when_served() {
  if (finished()) return;
  if (!status_ || status_->connections() == 0 || !drain_) {
    finish(kExitOk);
    return;
  }
  if (drain_started_ns_ == 0) {
    drain_started_ns_ = uv_hrtime();
    uv_timer_start(drain_.get(), &Worker::on_uv_drain, kDrainPollMs, kDrainPollMs);
  }
}

void Worker::on_uv_drain(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Worker*>(handle->data);
  if (self == nullptr || self->finished()) return;
  bool served = !self->status_ || self->status_->connections() == 0;
  if (served || uv_hrtime() - self->drain_started_ns_ > kDrainLimitMs * 1000000) self->finish(kExitOk);
}

void Worker::on_uv_exit_guard(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Worker*>(handle->data);
  if (self != nullptr) self->finish(kExitOk);
}

bool Worker::send(const ControlMessage& msg) { return send_bytes(encode_message(msg)); }

bool Worker::send_bytes(std::string data) {
  if (!control_) return false;
  auto* w = new Write();
  w->data = std::move(data);
  w->worker = this;
  w->req.data = w;
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(control_.get()), &buf, 1, &Worker::on_uv_control_written);
  if (rc != 0) {
    delete w;
    return false;
  }
  ++writes_pending_;
  return true;
}

void Worker::on_uv_control_written(uv_write_t* req, int) noexcept {
  std::unique_ptr<Write> w(static_cast<Write*>(req->data));
  Worker* self = w->worker;
  --self->writes_pending_;
  if (self->phase_ == Phase::HandingOver && self->writes_pending_ == 0) self->finish_when_served();
}

void Worker::on_uv_control_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) noexcept {
  auto* self = static_cast<Worker*>(handle->data);
  if (self == nullptr) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(self->read_buffer_, sizeof self->read_buffer_);
}

void Worker::on_uv_control_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<Worker*>(stream->data);
  if (self == nullptr || self->finished() || nread == 0) return;
  if (nread < 0) {
    // EOF or a reset: the supervisor is gone. Nobody is left to hand over to.
    self->control_failed(kExitOk, nread == UV_EOF ? "" : uv_strerror(static_cast<int>(nread)));
    return;
  }
  std::string error;
  if (!self->decoder_.feed(buf->base, static_cast<size_t>(nread), &error)) {
    self->control_failed(kExitSoftware, error);
    return;
  }
  ControlMessage msg;
  while (!self->finished() && self->decoder_.next(&msg)) self->handle_control_message(msg);
}

void Worker::handle_control_message(const ControlMessage& msg) {
  switch (msg.type) {
    case MessageType::TargetState:
      if (std::optional<size_t> i = engine_->inherit(msg.state)) alerter_->restore(*i, msg.state);
      return;
    case MessageType::StateEnd:
      if (!file_records_.empty())
        take_file_records("Targets the previous worker did not hand over restored from " + state_->path());
      engine_->end_handover();
      after_handover();
      // The counters are whole now: the old worker stopped accepting
      // scrapes when it began its hand-over, this one takes them from here.
      start_serving();
      return;
    case MessageType::ReloadFailed:
      last_reload_ok_ = false;
      last_reload_failed_unix_ = static_cast<int64_t>(msg.unix_seconds);
      return;
    case MessageType::Retire:
      // Its SIGTERM follows at the cut-over (see on_uv_signal), also when
      // a stop signal came first and the retirement it started stands.
      retire_cut_over_ns_ = msg.cut_over_ns;
      retire_signal_due_ = true;
      reload_retirement_ = true;
      // The successor writes the state file from its hand-over on.
      if (state_) state_->enable(false);
      if (phase_ == Phase::Running) retire(msg.cut_over_ns);
      return;
    case MessageType::Resume:
      resume();
      return;
    case MessageType::Ready:
    case MessageType::CutOverReady:
    case MessageType::CutOverLate:
    case MessageType::ConfigError:
    case MessageType::Heartbeat:
      control_failed(kExitSoftware, "unexpected worker-only message from the supervisor");
      return;
  }
}

void Worker::control_failed(int code, const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "observer-worker: control channel: %s\n", why.c_str());
  control_.close();
  engine_->abort();
  finish(code);
}

void Worker::finish(int code) {
  if (finished()) return;
  set_phase(Phase::Finished);
  exit_code_ = code;
  if (status_) status_->close();
  if (alerter_) alerter_->close();
  if (state_) state_->close();
  if (engine_) {
    engine_->abort();
    engine_->close();
  }
  // Closing libuv's last handler of a signal restores SIG_DFL; a stop that
  // comes now (Ctrl-C reached us, then the supervisor's SIGTERM) must not
  // kill a worker that is already on its way out with 0. Blocked first, so
  // there is no instant between the close and SIG_IGN where one could; a
  // signal left pending is discarded once its action is SIG_IGN.
  hold_stop_signals();
  sigint_.close();
  sigterm_.close();
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
  started_.close();
  exit_guard_.close();
  retire_deadline_.close();
  heartbeat_.close();
  pulse_.close();
  drain_.close();
  control_.close();  // pending writes complete with UV_ECANCELED and are freed
}

void Worker::start_serving() {
  if (!status_ || status_->serving() || phase_ != Phase::Running) return;
  std::string error;
  int fd = options_.listen_fd >= 0 ? options_.listen_fd : own_listen_fd_.get();
  if (!status_->start(fd, &error)) log_->log(Level::Error, "", "Metrics are not served: " + error, {});
}

// The rendering of `key` still being sent to another client, when it is
// less than a second old, else a fresh one. Requests that come together
// share one copy: 16 slow readers of a 12 MB /metrics hold 12 MB, not 192;
// a scrape after the last one has been sent is always rendered anew.
std::shared_ptr<const std::string> Worker::shared_body(const std::string& key,
                                                       const std::function<std::string()>& render) {
  SharedBody& s = shared_bodies_[key];
  uint64_t now = uv_now(&loop_);
  if (auto body = s.body.lock(); body && now - s.made_ms < 1000) return body;
  auto body = std::make_shared<const std::string>(render());
  s.body = body;
  s.made_ms = now;
  return body;
}

StatusServer::Reply Worker::answer(const std::string& path) {
  StatusServer::Reply r;
  if (path == "/metrics") {
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.shared_body = shared_body(path, [this] { return render_metrics(); });
    return r;
  }
  if (path == "/" || path == "/index.html") {
    r.content_type = "text/html; charset=utf-8";
    r.shared_body = shared_body("/", [this] {
      std::vector<TargetView> targets = engine_->target_views();
      sort_for_status(&targets);
      return render_status_html(targets, process_view());
    });
    return r;
  }
  static const std::string kTargets = "/api/v1/targets";
  if (path == kTargets || path == kTargets + "/") {
    r.content_type = "application/json";
    r.shared_body = shared_body(kTargets, [this] {
      std::vector<TargetView> targets = engine_->target_views();
      sort_for_status(&targets);
      return render_targets_json(targets, process_view());
    });
    return r;
  }
  return answer_small(path);
}

std::string Worker::render_metrics() {
  std::string out;
  {
    engine_->write_metrics(&out);
    append_family(&out, "observer_build_info", "gauge", "observer's version");
    out += "observer_build_info{version=\"" OBSERVER_VERSION "\"} 1\n";
    append_family(&out, "observer_config_last_reload_successful", "gauge",
                  "0 when the last reload failed and this configuration stayed in force");
    out += std::string("observer_config_last_reload_successful ") + (last_reload_ok_ ? "1" : "0") + "\n";
    append_family(&out, "observer_config_last_reload_success_timestamp_seconds", "gauge",
                  "When the configuration in force was loaded, in unix seconds");
    out += "observer_config_last_reload_success_timestamp_seconds ";
    append_number(&out, static_cast<uint64_t>(loaded_unix_));
    out += '\n';
    append_shard_metrics(&out, shard_, engine_->target_refs().size(), configured_targets_);
    append_family(&out, "observer_log_lines_dropped_total", "counter",
                  "Log lines dropped by this worker because standard output did not keep up");
    out += "observer_log_lines_dropped_total ";
    append_number(&out, writer_ ? writer_->dropped_total() : 0);
    out += '\n';
    alerter_->write_metrics(&out);
  }
  return out;
}

StatusServer::Reply Worker::answer_small(const std::string& path) {
  StatusServer::Reply r;
  static const std::string kTargets = "/api/v1/targets";
  if (path.compare(0, kTargets.size() + 1, kTargets + "/") == 0) {
    // libmicrohttpd has already percent-decoded the path.
    std::string name = path.substr(kTargets.size() + 1);
    r.content_type = "application/json";
    for (const TargetView& t : engine_->target_views()) {
      if (*t.name != name) continue;
      r.body = render_target_json(t, unix_ms_now());
      return r;
    }
    r.status = 404;
    r.body = render_not_found_json("no target named \"" + name + "\"");
    return r;
  }
  if (path == "/healthz") {
    ProcessView p = process_view();
    r.status = p.healthy ? 200 : 503;
    r.content_type = "application/json";
    r.body = render_health_json(p);
    return r;
  }
  r.status = 404;
  r.body = "not found\n";
  return r;
}

// A stopping worker is unhealthy: a load balancer should drain it. The old
// worker of a reload is not: a successor probes on schedule from the
// cut-over on and takes the socket over at the hand-over, so until then
// (requests it accepted before it quiesced included) the old one answers
// for the service by its own schedule.
std::string Worker::health_problem() {
  if (finished()) return "the worker is exiting";
  bool for_reload = reload_retirement_ && !stop_signal_seen_ && !retire_deadline_passed_;
  if (phase_ != Phase::Running && !for_reload) return "the worker is stopping (SIGTERM/SIGINT): it starts no more probes";
  return health_.check(uv_hrtime(), engine_->last_on_time_probe_ns());
}

ProcessView Worker::process_view() {
  ProcessView p;
  p.worker_pid = static_cast<long>(getpid());
  p.config_loaded_unix = loaded_unix_;
  p.last_reload_ok = last_reload_ok_;
  p.last_reload_failed_unix = last_reload_failed_unix_;
  p.health_reason = health_problem();
  p.healthy = p.health_reason.empty();
  p.now_ms = unix_ms_now();
  p.shard = shard_;
  p.targets_configured = configured_targets_;
  return p;
}

}  // namespace observer
