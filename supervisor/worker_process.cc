#include "supervisor/worker_process.h"

#include <signal.h>
#include <string.h>

#include <cassert>
#include <utility>

namespace observer {
namespace {

// How long a worker's pipes may stay open after the process exited (only a
// grandchild holding them could do that) before they are given up.
constexpr uint64_t kLingerMs = 1000;
// How long after a reload's cut-over the retiring worker gets its SIGTERM:
// enough that the loop clock (whole milliseconds, possibly a tick behind)
// can never fire it before the cut-over, small next to any tick.
constexpr uint64_t kRetireSignalMarginMs = 5;

// Whole milliseconds from now until `instant` (a uv_hrtime() value), rounded
// up; 0 if it has passed.
uint64_t ms_until(uint64_t instant) {
  uint64_t now = uv_hrtime();
  return instant > now ? (instant - now + 999999) / 1000000 : 0;
}

}  // namespace

// Messages for the worker, kept alive until libuv has written them.
struct WorkerProcess::WriteRequest {
  uv_write_t req;
  std::string data;
};

WorkerProcess::ProcessHandle::~ProcessHandle() {
  if (h == nullptr) return;
  h->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* p) { delete reinterpret_cast<uv_process_t*>(p); });
}

WorkerProcess::WorkerProcess(uv_loop_t* loop, uint64_t serial, LineWriter* out, Logger* log,
                             WorkerEvents* events)
    : loop_(loop),
      serial_(serial),
      log_(log),
      events_(events),
      stdout_(out, [this] { maybe_finished(); }) {}

int WorkerProcess::spawn(const WorkerSpawnSpec& spec) {
  int rc = stdout_.init(loop_);
  if (rc == 0) rc = control_.init([this](uv_pipe_t* p) { return uv_pipe_init(loop_, p, 0); }, this);
  if (rc == 0) rc = kill_timer_.init([this](uv_timer_t* t) { return uv_timer_init(loop_, t); }, this);
  if (rc == 0) rc = linger_timer_.init([this](uv_timer_t* t) { return uv_timer_init(loop_, t); }, this);
  if (rc == 0) rc = retire_signal_timer_.init([this](uv_timer_t* t) { return uv_timer_init(loop_, t); }, this);
  if (rc != 0) return rc;

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(spec.path.c_str()));
  for (const std::string& a : spec.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  uv_stdio_container_t stdio[5];
  stdio[0].flags = UV_IGNORE;  // /dev/null
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = stdout_.stream();
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  stdio[3].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE);
  stdio[3].data.stream = reinterpret_cast<uv_stream_t*>(control_.get());

  uv_process_options_t options{};
  options.exit_cb = &WorkerProcess::on_uv_exit;
  options.file = spec.path.c_str();
  options.args = argv.data();
  options.env = envp.data();
  stdio[4].flags = UV_INHERIT_FD;
  stdio[4].data.fd = spec.listen_fd;
  options.stdio_count = spec.listen_fd >= 0 ? 5 : 4;
  options.stdio = stdio;

  process_.h = new uv_process_t();
  rc = uv_spawn(loop_, process_.h, &options);
  if (rc != 0) return rc;  // ~ProcessHandle closes the initialised handle
  process_.h->data = this;
  pid_ = process_.h->pid;
  last_heard_ = Clock::now();

  if ((rc = stdout_.start()) != 0 ||
      (rc = uv_read_start(reinterpret_cast<uv_stream_t*>(control_.get()), &WorkerProcess::on_uv_control_alloc,
                          &WorkerProcess::on_uv_control_read)) != 0) {
    // The child runs but cannot be heard: it is of no use.
    kill();
    return rc;
  }
  return 0;
}

void WorkerProcess::send(const ControlMessage& msg) {
  if (control_done_ || !control_) return;
  outbox_ += encode_message(msg);
  flush_outbox();
}

// One write in flight at a time, of everything queued since the last: a
// hand-over of 10 000 records is a few writes (as many as the reads that
// brought them), not 10 000, each with its own request and copy.
void WorkerProcess::flush_outbox() {
  if (writing_ || outbox_.empty() || control_done_ || !control_) return;
  auto* w = new WriteRequest();
  w->data.swap(outbox_);
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  size_t bytes = w->data.size();
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(control_.get()), &buf, 1, &WorkerProcess::on_uv_written) != 0) {
    delete w;
    return;
  }
  writing_ = true;
  writing_bytes_ = bytes;
}

void WorkerProcess::on_uv_written(uv_write_t* req, int status) noexcept {
  // The pipe's data is cleared when it is closed: then nobody is left to
  // write to (pending writes end with UV_ECANCELED before the close).
  auto* self = static_cast<WorkerProcess*>(req->handle->data);
  delete reinterpret_cast<WriteRequest*>(req);
  if (self == nullptr) return;
  self->writing_ = false;
  self->writing_bytes_ = 0;
  // Errors need no handling: a worker that stopped reading has exited or
  // will, and its exit is what the supervisor acts on.
  if (status == 0) self->flush_outbox();
  if (!self->writing_) self->events_->on_worker_drained(self);
}

void WorkerProcess::set_stage(Stage next) {
  switch (next) {
    case Stage::Running:
      assert(stage_ == Stage::RetireDue);  // resume()
      break;
    case Stage::RetireDue:
      assert(stage_ == Stage::Running);  // retire()
      break;
    case Stage::Stopping:
      assert(stage_ == Stage::Running || stage_ == Stage::RetireDue || stage_ == Stage::Stopping);
      break;
    case Stage::Exited:
      assert(stage_ == Stage::Running || stage_ == Stage::RetireDue || stage_ == Stage::Stopping);
      break;
    case Stage::Finished:
      assert(stage_ == Stage::Exited);
      break;
  }
  stage_ = next;
}

void WorkerProcess::set_role(WorkerRole next) {
  switch (next) {
    case WorkerRole::Starting:
      assert(false);  // only ever the first role
      break;
    case WorkerRole::Waiting:
      assert(role_ == WorkerRole::Starting);
      break;
    case WorkerRole::Current:
      // promoted or taken over; or a retirement called off
      assert(role_ == WorkerRole::Starting || role_ == WorkerRole::Waiting || role_ == WorkerRole::Retiring ||
             role_ == WorkerRole::HandedOver);
      break;
    case WorkerRole::Retiring:
      assert(role_ == WorkerRole::Current);
      break;
    case WorkerRole::HandedOver:
      assert(role_ == WorkerRole::Retiring);
      break;
    case WorkerRole::Superseded:
      assert(role_ == WorkerRole::Starting || role_ == WorkerRole::Waiting);
      break;
  }
  role_ = next;
  // Only a retiring worker has a successor.
  if (role_ != WorkerRole::Retiring && role_ != WorkerRole::HandedOver) successor_ = 0;
}

void WorkerProcess::supersede(Nanos grace) {
  set_role(WorkerRole::Superseded);
  terminate(grace);
}

bool WorkerProcess::end_inbound() {
  if (!inbound_open_) return false;
  inbound_open_ = false;
  send(control_message(MessageType::StateEnd));
  return true;
}

void WorkerProcess::hold_reads(bool hold) {
  if (hold && exited()) return;
  if (hold == reads_held_ || control_done_ || !control_) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(control_.get());
  int rc = hold ? uv_read_stop(stream)
                : uv_read_start(stream, &WorkerProcess::on_uv_control_alloc, &WorkerProcess::on_uv_control_read);
  if (rc == 0) reads_held_ = hold;
}

void WorkerProcess::terminate(Nanos grace) {
  if (exited() || process_.h == nullptr) return;
  if (stage_ == Stage::RetireDue) {
    // A stop while a retirement waits for its cut-over: its SIGTERM goes
    // now, and the stop's SIGKILL deadline holds if it comes first (the
    // retirement's is counted from the cut-over).
    set_stage(Stage::Stopping);
    uv_timer_stop(retire_signal_timer_.get());
    uv_process_kill(process_.h, SIGTERM);
    if (uv_timer_get_due_in(kill_timer_.get()) > whole_ms(grace))
      uv_timer_start(kill_timer_.get(), &WorkerProcess::on_uv_kill_timer, whole_ms(grace), 0);
    return;
  }
  if (stage_ == Stage::Stopping) return;
  set_stage(Stage::Stopping);
  uv_process_kill(process_.h, SIGTERM);
  uv_timer_start(kill_timer_.get(), &WorkerProcess::on_uv_kill_timer, whole_ms(grace), 0);
}

void WorkerProcess::retire(uint64_t cut_over_ns, Nanos grace, uint64_t successor) {
  set_role(WorkerRole::Retiring);
  successor_ = successor;
  if (exited() || process_.h == nullptr || asked_to_stop()) return;
  if (control_done_ || !control_) {
    terminate(grace);
    return;
  }
  ControlMessage m = control_message(MessageType::Retire);
  m.cut_over_ns = cut_over_ns;
  send(m);
  set_stage(Stage::RetireDue);
  retire_cut_over_ns_ = cut_over_ns;
  uv_timer_start(kill_timer_.get(), &WorkerProcess::on_uv_kill_timer, ms_until(cut_over_ns) + whole_ms(grace), 0);
  send_retire_signal();
}

bool WorkerProcess::resume() {
  if (stage_ != Stage::RetireDue || control_done_ || !control_) return false;
  // Queued behind the Retire on the same stream: the worker reads them in order.
  send(control_message(MessageType::Resume));
  set_stage(Stage::Running);
  set_role(WorkerRole::Current);
  retire_cut_over_ns_ = 0;
  uv_timer_stop(retire_signal_timer_.get());
  uv_timer_stop(kill_timer_.get());
  return true;
}

void WorkerProcess::send_retire_signal() {
  if (stage_ != Stage::RetireDue) return;
  uint64_t delay = 0;
  if (uv_hrtime() <= retire_cut_over_ns_) {
    // The timer fires once the loop clock reaches the cut-over's millisecond
    // plus the margin. That clock never runs ahead of uv_hrtime(), so the
    // signal never leaves before the cut-over.
    uint64_t due_ms = (retire_cut_over_ns_ + 999999) / 1000000 + kRetireSignalMarginMs;
    uint64_t now_ms = uv_now(loop_);
    delay = due_ms > now_ms ? due_ms - now_ms : 0;
  } else if (control_ && queued_bytes() != 0) {
    // The Retire is still in our outbox or libuv's write queue: the signal must not overtake
    // it, or the worker would take it for a stop and drop the slots it
    // still owes before the cut-over.
    delay = kRetireSignalMarginMs;
  }
  if (delay != 0) {
    uv_timer_start(retire_signal_timer_.get(), &WorkerProcess::on_uv_retire_signal_timer, delay, 0);
    return;
  }
  set_stage(Stage::Stopping);
  uv_process_kill(process_.h, SIGTERM);
}

void WorkerProcess::kill() {
  if (exited() || process_.h == nullptr) return;
  set_stage(Stage::Stopping);
  uv_timer_stop(retire_signal_timer_.get());
  uv_timer_stop(kill_timer_.get());
  uv_process_kill(process_.h, SIGKILL);
}

std::string WorkerProcess::describe_exit() const {
  if (term_signal_ != 0) {
    const char* name = strsignal(term_signal_);
    return "was killed by signal " + std::to_string(term_signal_) + " (" + (name ? name : "?") + ")";
  }
  return "exited with status " + std::to_string(exit_status_);
}

std::chrono::milliseconds WorkerProcess::healthy_for() const {
  // Up to its last sign of life: a worker that hung for a while before it
  // was killed was not healthy all along (the restart back-off must not be
  // reset by it).
  if (!ready_ || last_heard_ < ready_at_) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(last_heard_ - ready_at_);
}

std::chrono::milliseconds WorkerProcess::silent_for() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_heard_);
}

void WorkerProcess::on_uv_exit(uv_process_t* process, int64_t exit_status, int term_signal) noexcept {
  auto* self = static_cast<WorkerProcess*>(process->data);
  if (self == nullptr) return;
  self->set_stage(Stage::Exited);
  self->exit_status_ = exit_status;
  self->term_signal_ = term_signal;
  uv_timer_stop(self->kill_timer_.get());
  self->hold_reads(false);
  uv_timer_stop(self->retire_signal_timer_.get());
  if (!self->stdout_.done() || !self->control_done_)
    uv_timer_start(self->linger_timer_.get(), &WorkerProcess::on_uv_linger_timer, kLingerMs, 0);
  self->maybe_finished();
}

void WorkerProcess::on_uv_kill_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<WorkerProcess*>(timer->data);
  if (self == nullptr || self->exited()) return;
  self->log_->warning("Worker (pid " + std::to_string(self->pid_) + ") did not exit after SIGTERM; sending SIGKILL.",
                      {{"pid", std::to_string(self->pid_), true}});
  self->kill();
}

void WorkerProcess::on_uv_retire_signal_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<WorkerProcess*>(timer->data);
  if (self != nullptr) self->send_retire_signal();
}

void WorkerProcess::on_uv_linger_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<WorkerProcess*>(timer->data);
  if (self == nullptr) return;
  self->close_control();
  self->stdout_.close();  // reports done, which checks for finished
}

void WorkerProcess::on_uv_control_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) noexcept {
  auto* self = static_cast<WorkerProcess*>(handle->data);
  *buf = uv_buf_init(self->control_buffer_.data(), static_cast<unsigned>(self->control_buffer_.size()));
}

void WorkerProcess::on_uv_control_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<WorkerProcess*>(stream->data);
  if (self == nullptr) return;
  if (nread > 0) {
    self->handle_control_bytes(buf->base, static_cast<size_t>(nread));
    return;
  }
  if (nread < 0) {
    self->close_control();
    self->maybe_finished();
  }
}

void WorkerProcess::handle_control_bytes(const char* data, size_t len) {
  last_heard_ = Clock::now();
  std::string error;
  if (!decoder_.feed(data, len, &error)) {
    protocol_error(error);
    return;
  }
  ControlMessage msg;
  while (!control_done_ && decoder_.next(&msg)) {
    switch (msg.type) {
      case MessageType::Ready:
      case MessageType::CutOverReady:
        if (ready_) continue;  // a second Ready changes nothing
        ready_ = true;
        ready_at_ = Clock::now();
        cut_over_ns_ = msg.type == MessageType::CutOverReady ? msg.cut_over_ns : 0;
        events_->on_worker_ready(this);
        break;
      case MessageType::ConfigError:
        config_error_ = msg.text;  // reported with its exit
        break;
      case MessageType::CutOverLate:
        late_probes_ = msg.late_probes;  // reported with its exit
        break;
      case MessageType::Heartbeat:
        break;  // its arrival is what counts (last_heard_)
      case MessageType::TargetState:
      case MessageType::StateEnd:
        events_->on_worker_state(this, msg);
        break;
      case MessageType::Retire:
      case MessageType::Resume:
      case MessageType::ReloadFailed:
        protocol_error("unexpected supervisor-only message from the worker");
        return;
    }
  }
}

void WorkerProcess::protocol_error(const std::string& error) {
  // Nothing from this channel can be trusted any more, including what came
  // before the bad bytes but is still queued: drop all of it.
  close_control();
  kill();
  events_->on_worker_protocol_error(this, error);
  maybe_finished();
}

void WorkerProcess::close_control() {
  if (control_done_) return;
  control_done_ = true;
  control_.close();
}

void WorkerProcess::maybe_finished() {
  if (stage_ != Stage::Exited || !stdout_.done() || !control_done_) return;
  set_stage(Stage::Finished);
  uv_timer_stop(linger_timer_.get());
  events_->on_worker_finished(this);
}

}  // namespace observer
