// LineWriter owns one thread that writes whole lines to an fd (stdout), one
// write(2) per line, from a queue bounded in bytes. Callers on an event loop
// never block on a slow or stopped reader: past the bound, lines are dropped
// and counted, and once the queue drains a single notice line reports how
// many were lost.
//
// Thread safety: write_line() and flush() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace observer {

class LineWriter {
 public:
  // Builds the notice for `dropped` lost lines (called on the writer thread;
  // must not touch the caller's state).
  using DropNotice = std::function<std::string(uint64_t dropped)>;

  LineWriter(int fd, size_t max_queued_bytes, DropNotice notice);
  // Flushes for at most one second, then lets go of the thread.
  ~LineWriter();
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  // Queues `line` (which must end in '\n'). Returns false if it was dropped.
  bool write_line(std::string line);

  // Waits until everything queued so far is written, or `timeout` passes.
  bool flush(std::chrono::milliseconds timeout);

  uint64_t dropped_total() const;

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace observer
