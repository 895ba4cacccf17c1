#include "worker/state_keeper.h"

#include "common/state_file.h"

namespace observer {

struct StateKeeper::Write {
  uv_work_t req{};
  StateKeeper* keeper = nullptr;
  std::string path;
  std::string payload;
  std::string error;
  bool ok = false;
};

StateKeeper::StateKeeper(uv_loop_t* loop, Logger* log, std::string path, std::function<std::string()> snapshot)
    : loop_(loop), log_(log), path_(std::move(path)), snapshot_(std::move(snapshot)) {}

StateKeeper::~StateKeeper() { close(); }

bool StateKeeper::init(std::string* error) {
  int rc = timer_.init([this](uv_timer_t* h) { return uv_timer_init(loop_, h); }, this);
  if (rc != 0) *error = std::string("state_file timer: ") + uv_strerror(rc);
  return rc == 0;
}

std::vector<TargetStateRecord> StateKeeper::load() {
  std::vector<TargetStateRecord> records;
  std::string payload, why;
  StateFileRead read = read_state_file(path_, &payload, &why);
  if (read == StateFileRead::Missing) return records;
  if (read == StateFileRead::Loaded) {
    ControlDecoder decoder;
    ControlMessage msg;
    std::string error;
    bool ok = decoder.feed(payload.data(), payload.size(), &error);
    while (ok && decoder.next(&msg)) {
      if (msg.type != MessageType::TargetState) {
        ok = false;
        error = "a message that is not a target's state";
        break;
      }
      records.push_back(std::move(msg.state));
    }
    if (ok && decoder.has_partial()) {
      ok = false;
      error = "a record cut short";
    }
    if (ok) return records;
    records.clear();
    why = "state_file " + path_ + ": " + error;
  }
  log_->warning(why + "; starting afresh (every target's state unknown, nothing alerted)",
                {{"state_file", path_, false}});
  return records;
}

void StateKeeper::enable(bool on) {
  enabled_ = on;
  if (on) changed();
  else if (timer_) uv_timer_stop(timer_.get());
}

void StateKeeper::changed() {
  if (!enabled_ || !timer_) return;
  dirty_ = true;
  if (!in_flight_ && !uv_is_active(reinterpret_cast<uv_handle_t*>(timer_.get())))
    uv_timer_start(timer_.get(), &StateKeeper::on_uv_timer, static_cast<uint64_t>(kStateWriteDelay.count()), 0);
}

void StateKeeper::on_uv_timer(uv_timer_t* handle) noexcept {
  if (auto* self = static_cast<StateKeeper*>(handle->data)) self->start_write();
}

void StateKeeper::start_write() {
  if (in_flight_ || !enabled_) return;
  dirty_ = false;
  auto w = std::make_unique<Write>();
  w->keeper = this;
  w->path = path_;
  w->payload = snapshot_();
  w->req.data = w.get();
  if (uv_queue_work(loop_, &w->req, &StateKeeper::on_uv_work, &StateKeeper::on_uv_work_done) != 0) {
    // No thread pool: write here, once, as at stop.
    std::string error;
    report(write_state_file(w->path, w->payload, &error), error);
    return;
  }
  in_flight_ = std::move(w);
}

void StateKeeper::on_uv_work(uv_work_t* req) noexcept {
  auto* w = static_cast<Write*>(req->data);
  w->ok = write_state_file(w->path, w->payload, &w->error);
}

void StateKeeper::on_uv_work_done(uv_work_t* req, int) noexcept {
  auto* w = static_cast<Write*>(req->data);
  StateKeeper* self = w->keeper;
  std::unique_ptr<Write> done = std::move(self->in_flight_);
  self->report(done->ok, done->error);
  if (self->final_done_) {
    self->write_now();
    return;
  }
  if (self->dirty_) {
    self->dirty_ = false;
    self->changed();
  }
}

void StateKeeper::write_final(std::function<void()> done) {
  if (timer_) uv_timer_stop(timer_.get());
  final_done_ = std::move(done);
  if (!in_flight_) write_now();
}

void StateKeeper::write_now() {
  std::string error;
  report(write_state_file(path_, snapshot_(), &error), error);
  enabled_ = false;
  auto done = std::move(final_done_);
  final_done_ = nullptr;
  if (done) done();
}

void StateKeeper::report(bool ok, const std::string& error) {
  if (ok) {
    if (!last_error_.empty()) log_->info("state_file " + path_ + " is written again");
    last_error_.clear();
    return;
  }
  // Once per distinct failure: a full disk must not fill the log too.
  if (error == last_error_) return;
  last_error_ = error;
  log_->warning(error + " (the state is kept in memory and written again on the next change)",
                {{"state_file", path_, false}});
}

void StateKeeper::close() {
  enabled_ = false;
  timer_.close();
}

}  // namespace observer
