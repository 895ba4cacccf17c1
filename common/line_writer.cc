#include "common/line_writer.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace observer {

struct LineWriter::Shared {
  int fd;
  size_t max_bytes;
  DropNotice notice;
  std::mutex mu;
  std::condition_variable wake;     // writer: work or stop
  std::condition_variable drained;  // flushers: queue empty
  std::deque<std::string> queue;
  size_t queued_bytes = 0;
  bool writing = false;             // a line is out of the queue, being written
  uint64_t dropped_pending = 0;     // not yet reported
  uint64_t dropped_total = 0;
  bool stop = false;
  bool broken = false;              // EPIPE or another hard error: discard from now on
  bool finished = false;            // the thread has left run()

  // Writes all of `line`, waiting for the fd in short slices so that stop is
  // noticed. Returns false on a hard error.
  bool write_all(const std::string& line) {
    size_t off = 0;
    while (off < line.size()) {
      struct pollfd p = {fd, POLLOUT, 0};
      int pr = poll(&p, 1, 100);
      if (pr == 0) {
        std::lock_guard<std::mutex> lock(mu);
        if (stop) return false;
        continue;
      }
      ssize_t n = ::write(fd, line.data() + off, line.size() - off);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return false;
      }
      off += static_cast<size_t>(n);
    }
    return true;
  }

  void run() {
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      wake.wait(lock, [&] { return stop || !queue.empty(); });
      if (queue.empty() && stop) break;
      std::string line = std::move(queue.front());
      queue.pop_front();
      queued_bytes -= line.size();
      writing = true;
      uint64_t report = 0;
      if (queue.empty() && dropped_pending > 0 && notice) {
        report = dropped_pending;
        dropped_pending = 0;
      }
      lock.unlock();
      bool ok = broken ? true : write_all(line);
      if (ok && report > 0 && !broken) ok = write_all(notice(report));
      lock.lock();
      if (!ok) broken = true;
      writing = false;
      if (queue.empty()) drained.notify_all();
    }
    finished = true;
    drained.notify_all();
  }
};

LineWriter::LineWriter(int fd, size_t max_queued_bytes, DropNotice notice)
    : shared_(std::make_shared<Shared>()) {
  shared_->fd = fd;
  shared_->max_bytes = max_queued_bytes;
  shared_->notice = std::move(notice);
  std::shared_ptr<Shared> s = shared_;
  std::thread([s] { s->run(); }).detach();
}

LineWriter::~LineWriter() {
  flush(std::chrono::milliseconds(1000));
  std::unique_lock<std::mutex> lock(shared_->mu);
  shared_->stop = true;
  shared_->wake.notify_all();
  // The thread holds its own reference to the shared state: it ends at once
  // when idle and within 100 ms when waiting on a stalled reader; wait for
  // that, but never longer than a bound.
  shared_->drained.wait_for(lock, std::chrono::milliseconds(500), [&] { return shared_->finished; });
}

bool LineWriter::write_line(std::string line) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  if (shared_->queued_bytes + line.size() > shared_->max_bytes) {
    ++shared_->dropped_pending;
    ++shared_->dropped_total;
    return false;
  }
  shared_->queued_bytes += line.size();
  shared_->queue.push_back(std::move(line));
  shared_->wake.notify_one();
  return true;
}

bool LineWriter::flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(shared_->mu);
  return shared_->drained.wait_for(lock, timeout, [&] {
    return (shared_->queue.empty() && !shared_->writing) || shared_->broken;
  });
}

uint64_t LineWriter::dropped_total() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->dropped_total;
}

}  // namespace observer
