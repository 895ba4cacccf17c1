// OutputForwarder: reads one worker's stdout pipe and hands every whole line
// to the shared LineWriter (one line, one write(2), never torn or mixed with
// another worker's line). Lines are never held back because stdout is slow:
// the LineWriter bounds the backlog and counts what it drops, so the worker
// itself never blocks on its stdout.
//
// Life cycle: init() before uv_spawn (the pipe must exist to be handed to the
// child), start() after, then it reads until EOF. At EOF (or close()) a
// partial last line is flushed with a '\n' added and `on_done` runs once.
#pragma once

#include <uv.h>

#include <array>
#include <functional>

#include "supervisor/line_splitter.h"
#include "common/line_writer.h"
#include "common/uv_handle.h"

namespace observer {

class OutputForwarder {
 public:
  OutputForwarder(LineWriter* out, std::function<void()> on_done)
      : out_(out), on_done_(std::move(on_done)) {}
  OutputForwarder(const OutputForwarder&) = delete;
  OutputForwarder& operator=(const OutputForwarder&) = delete;

  // Creates the pipe handle for uv_spawn's stdio. Returns a uv error code.
  int init(uv_loop_t* loop);
  uv_stream_t* stream() const { return reinterpret_cast<uv_stream_t*>(pipe_.get()); }
  // Starts reading once the child holds the other end.
  int start();
  // Stops reading now (a worker that exited but whose pipe stays open):
  // flushes the partial line and reports done.
  void close();
  bool done() const { return done_; }

 private:
  static void on_uv_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) noexcept;
  static void on_uv_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  void finish();

  LineWriter* out_;
  std::function<void()> on_done_;
  UvHandle<uv_pipe_t> pipe_;
  LineSplitter splitter_;
  std::array<char, 64 * 1024> buffer_{};
  bool done_ = false;
};

}  // namespace observer
