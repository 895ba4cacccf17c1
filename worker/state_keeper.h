// StateKeeper: the worker's side of the state file (common/state_file.h):
// what it held is read back at start, and what it holds now is written
// after every change (at most once per kStateWriteDelay, in libuv's thread
// pool, so a slow disk never stalls a probe) and once more at stop.
//
// The payload is the records a reload hands over (control.h TargetState
// messages: health, counters, history, alert marks), so a restart picks up
// where the last worker stopped exactly as a reload does. Only the current
// worker writes (enable()): a reload's retiring worker hands its state to
// its successor instead, which writes from the end of the hand-over on.
//
// Loop thread only.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/control.h"
#include "common/logger.h"
#include "common/uv_handle.h"

namespace observer {

constexpr std::chrono::milliseconds kStateWriteDelay{1000};

class StateKeeper {
 public:
  // `snapshot` returns the payload: the encoded records of every target.
  StateKeeper(uv_loop_t* loop, Logger* log, std::string path, std::function<std::string()> snapshot);
  ~StateKeeper();
  StateKeeper(const StateKeeper&) = delete;
  StateKeeper& operator=(const StateKeeper&) = delete;

  bool init(std::string* error);
  const std::string& path() const { return path_; }

  // The records the file holds. Missing file: none, silently; a file that
  // cannot be trusted (corrupt, truncated, foreign, unreadable): none, and
  // a warning saying why.
  std::vector<TargetStateRecord> load();

  // Writes happen only while enabled.
  void enable(bool on);
  // Something in the state changed: written within kStateWriteDelay.
  void changed();
  // Writes now (once a write in flight has ended), then runs `done`.
  // Enabled or not: the caller decides that this process's state is final.
  void write_final(std::function<void()> done);
  void close();

 private:
  struct Write;
  static void on_uv_timer(uv_timer_t* handle) noexcept;
  static void on_uv_work(uv_work_t* req) noexcept;
  static void on_uv_work_done(uv_work_t* req, int status) noexcept;
  void start_write();
  void write_now();
  void report(bool ok, const std::string& error);

  uv_loop_t* loop_;
  Logger* log_;
  std::string path_;
  std::function<std::string()> snapshot_;
  UvHandle<uv_timer_t> timer_;
  std::unique_ptr<Write> in_flight_;  // a write in the thread pool
  std::function<void()> final_done_;  // write_final() waits for in_flight_
  std::string last_error_;            // the last failure logged (each new one is)
  bool enabled_ = false;
  bool dirty_ = false;
};

}  // namespace observer
