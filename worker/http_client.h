// The native HTTP/1.1 client for plain http:// probes: one fresh TCP
// connection per probe, driven by the worker's libuv loop, far cheaper per
// probe than a libcurl easy transfer (issue 6). What it sends and how it
// words failures is libcurl's (http_request.h, http_response.h), so checks
// and logs do not depend on which client probed.
//
// HttpClient is what the native probes of one engine share: the loop, the
// resolver and one read buffer (each read is parsed whole before the next
// one starts, so one buffer serves every connection). NativeProbe is one
// probe: resolve (names only) -> connect to each address in turn until one
// answers -> write the request once -> read and parse the response -> close.
// A uv_timer bounds the whole probe by the target's timeout.
//
// The engine owns each NativeProbe and is told through HttpClient's DoneFn
// when one has its result; never from inside start(). The DoneFn may
// destroy the probe. Destroying a probe at any time aborts it: its socket
// and timer are closed and their memory is freed in their close callbacks,
// so the loop must run once more afterwards. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http_request.h"
#include "http_response.h"
#include "probe_result.h"
#include "resolver.h"
#include "uv_handle.h"

namespace observer {

class NativeProbe;

class HttpClient {
 public:
  using DoneFn = std::function<void(NativeProbe* probe)>;

  HttpClient(uv_loop_t* loop, DoneFn done);
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  bool init(std::string* error);

 private:
  friend class NativeProbe;
  static constexpr size_t kReadBufferBytes = 64 * 1024;

  uv_loop_t* loop_;
  DoneFn done_;
  Resolver resolver_;
  std::unique_ptr<char[]> read_buffer_;
};

class NativeProbe : private Resolver::Client {
 public:
  // `target` must outlive the probe.
  NativeProbe(HttpClient* client, const HttpTarget* target);
  ~NativeProbe();
  NativeProbe(const NativeProbe&) = delete;
  NativeProbe& operator=(const NativeProbe&) = delete;

  // Begins the probe. False (and `error`) only when its timer could not be
  // made; every network failure is a result, told through DoneFn.
  bool start(std::string* error);

  // The result, once DoneFn was called.
  ProbeResult take_result() { return std::move(result_); }
  // Time since start() (the first hop's time when a redirect continues).
  Nanos elapsed() const;

  uint64_t id = 0;  // free for the owner (e.g. which target)

 private:
  struct Connection;
  enum class Phase { Resolving, Connecting, Waiting, Done };

  void on_resolved(std::vector<sockaddr_storage> addresses, const std::string& error) override;
  void connect_next();
  void connected(int status);
  void send_request();
  void read(ssize_t nread, const char* data);
  void timed_out();
  void fail_with(TransportCode code, const std::string& detail);
  void fail_later(TransportCode code, const std::string& detail);
  void finish();
  void close_connection();
  int64_t elapsed_ms() const;

  static void on_uv_connect(uv_connect_t* req, int status);
  static void on_uv_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_uv_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_uv_written(uv_write_t* req, int status);
  static void on_uv_timer(uv_timer_t* handle);

  HttpClient* client_;
  const HttpTarget* target_;
  ProbeResult result_;
  ResponseParser parser_;
  UvHandle<uv_timer_t> timer_;
  Connection* conn_ = nullptr;  // freed in its close callback
  Phase phase_ = Phase::Resolving;
  uint64_t start_ns_ = 0;
  uint64_t lookup_ = 0;  // the resolver's id while a lookup is pending
  std::vector<sockaddr_storage> addresses_;
  size_t next_address_ = 0;
  int last_connect_error_ = 0;  // a negative errno
  bool failure_pending_ = false;  // fail_later(): the timer, fired at once, ends the probe
};

}  // namespace observer
