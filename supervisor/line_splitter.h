// LineSplitter: turns a byte stream (a worker's stdout) into whole lines, so
// that each line reaches the supervisor's stdout in one write(2) and lines of
// two workers never interleave mid-line.
//
// A line longer than `max_line` bytes without a newline is cut there (and
// ended with '\n') so that a worker gone wrong cannot grow the buffer without
// bound. Pure: no I/O.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace observer {

class LineSplitter {
 public:
  using Emit = std::function<void(std::string line)>;

  explicit LineSplitter(size_t max_line = 64 * 1024) : max_line_(max_line) {}

  // Appends bytes and calls `emit` once per complete line, '\n' included.
  void feed(const char* data, size_t len, const Emit& emit);

  // The unfinished last line, ended with '\n' (for EOF); false when none.
  bool take_partial(std::string* line);

  size_t pending_bytes() const { return partial_.size(); }

 private:
  size_t max_line_;
  std::string partial_;
};

}  // namespace observer
