// StatusServer: the worker's HTTP server for /metrics (and the status page),
// libmicrohttpd driven by the worker's own libuv loop: MHD runs in its
// external epoll mode, its epoll descriptor is watched by one uv_poll and
// its timeout by one uv_timer, so there is no thread and every request is
// answered on the loop thread, where the engine's data lives.
//
// The listening socket is the supervisor's (listen_sockets.h), inherited:
// start() serves it, quiesce() stops accepting while requests in progress
// finish (a reload's old worker, at its hand-over; the new one starts after
// it), close() ends everything. Bounds against hostile clients: at most
// kMaxConnections at once (kMaxPerAddress from one address), an idle
// connection is dropped after kIdleSeconds, a request line and headers
// larger than kMaxRequestBytes are refused, only GET and HEAD are answered.
//
// Loop thread only. Linux only (MHD's epoll mode); elsewhere start() fails.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "common/uv_handle.h"

struct MHD_Daemon;

namespace observer {

class StatusServer {
 public:
  struct Reply {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    // Sent instead of `body` when set: one rendering shared by every
    // response that still sends it (see Worker::shared_body()).
    std::shared_ptr<const std::string> shared_body;
  };
  // Answers a GET (or HEAD: the body is dropped) of `path` (no query).
  using Handler = std::function<Reply(const std::string& path)>;

  static constexpr unsigned kMaxConnections = 32;
  static constexpr unsigned kMaxPerAddress = 16;
  static constexpr unsigned kIdleSeconds = 10;
  static constexpr size_t kMaxRequestBytes = 16 * 1024;

  StatusServer(uv_loop_t* loop, Handler handler);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Serves `listen_fd` (a listening socket this process keeps open).
  bool start(int listen_fd, std::string* error);
  bool serving() const { return daemon_ != nullptr && !quiesced_; }
  // The handler's reply (libmicrohttpd's request callback calls it).
  Reply answer(const std::string& path) const { return handler_(path); }
  // Connections accepted and not yet closed (a quiesced server still
  // answers them).
  size_t connections() const;
  void quiesce();
  void close();

 private:
  static void on_uv_poll(uv_poll_t* handle, int status, int events) noexcept;
  static void on_uv_timer(uv_timer_t* handle) noexcept;
  void run();

  uv_loop_t* loop_;
  Handler handler_;
  MHD_Daemon* daemon_ = nullptr;
  bool quiesced_ = false;
  UvHandle<uv_poll_t> poll_;
  UvHandle<uv_timer_t> timer_;
};

}  // namespace observer
