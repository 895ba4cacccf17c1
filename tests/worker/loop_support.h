// Support for the loop-level tests (libuv's own test style): run a real
// uv loop to completion against a real local HTTP server on 127.0.0.1 that
// lives in the same loop, then assert how often each callback ran and that
// no handle was left open.
//
// Every run is bounded by a watchdog timer (run_bounded()): a test that
// would hang fails instead. Nothing here asserts on time; only on counts.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/line_writer.h"
#include "common/logger.h"
#include "common/unique_fd.h"

namespace observer::test {

// Generous: the tests end in milliseconds; this only turns a hang into a
// failure, also on a loaded machine under ASan.
constexpr uint64_t kWatchdogMs = 10000;

// Runs `loop` until no active handle keeps it alive (true) or `limit_ms`
// have passed (false: the watchdog stopped it; handles are left as they are).
bool run_bounded(uv_loop_t* loop, uint64_t limit_ms = kWatchdogMs);

// Handles of `loop` that are not closing, as uv_walk() sees them; only
// those of `type` unless it is UV_UNKNOWN_HANDLE.
size_t live_handles(uv_loop_t* loop, uv_handle_type type = UV_UNKNOWN_HANDLE);

// The configuration of `ini` (an INI file's text, written to a temporary
// file and loaded as observer loads its own), or a test failure.
Config config_from_ini(const std::string& ini);

// A Logger whose lines go to /dev/null: what is logged is not what these
// tests assert.
struct NullLog {
  NullLog();
  UniqueFd fd;
  LineWriter writer;
  Logger log;
};

// A loop for one test. The test asserts that it closes cleanly (close());
// the destructor only cleans up after a test that failed half-way.
class TestLoop {
 public:
  TestLoop();
  ~TestLoop();
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  uv_loop_t* get() { return &loop_; }
  // Runs the close callbacks still due and closes the loop: uv_loop_close()'s
  // result (0, or UV_EBUSY while a handle is open).
  int close();

 private:
  uv_loop_t loop_;
  bool closed_ = false;
};

// An HTTP/1.1 server on 127.0.0.1 (an ephemeral port) in the test's loop.
// It reads each request whole (headers and a Content-Length body), counts
// it by path, calls on_request, and answers by path:
//   /hang        never answers; the connection stays open until the client
//                closes it (counted by hung_closed()) or close()
//   /cut         promises a 1000-byte body, sends 10 bytes and closes
//   /status/NNN  status NNN, body "status NNN"
//   anything else  200, body "ok"
// Every answer carries "Connection: close": each request is a connection.
class HttpServer {
 public:
  explicit HttpServer(uv_loop_t* loop);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens: 0 or a negative uv error code.
  int listen();
  std::string url(const std::string& path) const;
  // Closes the listener and every connection (their memory is freed in
  // close callbacks: the loop must run once more).
  void close();

  size_t requests() const { return total_; }
  size_t requests(const std::string& path) const;
  // Connections to /hang that the client closed (a cancelled transfer).
  size_t hung_closed() const { return hung_closed_; }
  size_t open_connections() const { return connections_.size(); }
  const std::string& last_body() const { return last_body_; }

  // Runs for each complete request, after it is counted and before it is
  // answered; it may close the server.
  std::function<void(const std::string& path)> on_request;
  // Runs when the client closed a connection to /hang (after counting it).
  std::function<void()> on_hung_closed;

 private:
  struct Connection;
  static void on_uv_connection(uv_stream_t* server, int status) noexcept;
  void handle_request(Connection* c);
  void drop(Connection* c);

  uv_loop_t* loop_;
  uv_tcp_t* listener_ = nullptr;
  int port_ = 0;
  std::list<std::unique_ptr<Connection>> connections_;
  std::map<std::string, size_t> by_path_;
  size_t total_ = 0;
  size_t hung_closed_ = 0;
  std::string last_body_;
};

}  // namespace observer::test
