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
// answers, the request sent at once without waiting for the handshake
// (open_connection) -> read and parse the response -> close.
// The target's timeout bounds the whole probe (HttpClient's deadlines).
//
// The engine owns each NativeProbe and is told through HttpClient's DoneFn
// when one has its result; never from inside start(). The DoneFn may
// destroy the probe. Destroying a probe at any time aborts it: its socket
// and timer are closed and their memory is freed in their close callbacks,
// so the loop must run once more afterwards. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
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
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  bool init(std::string* error);

 private:
  friend class NativeProbe;
  static constexpr size_t kReadBufferBytes = 64 * 1024;

  // Probes waiting for their timeout, one FIFO per timeout value: they
  // start in time order, so each FIFO is in deadline order and its head is
  // the next to expire. Joining and leaving are O(1), and one uv_timer
  // serves them all: per probe, libuv's timer heap (which holds every
  // target's schedule timer) is not touched.
  struct Deadlines {
    Nanos timeout{};
    NativeProbe* head = nullptr;
    NativeProbe* tail = nullptr;
  };

  void join_deadlines(NativeProbe* p);
  void leave_deadlines(NativeProbe* p);
  void arm_deadline_timer(uint64_t now_ns);
  void expire(uint64_t now_ns);
  void defer_finish(NativeProbe* p);
  void forget_deferred(NativeProbe* p);
  static void on_uv_deadline(uv_timer_t* handle);
  static void on_uv_deferred(uv_timer_t* handle);

  uv_loop_t* loop_;
  DoneFn done_;
  Resolver resolver_;
  std::unique_ptr<char[]> read_buffer_;
  std::deque<Deadlines> deadlines_;  // few: one per distinct timeout; never moved
  UvHandle<uv_timer_t> deadline_timer_;
  uint64_t armed_for_ns_ = 0;  // uv_hrtime() the deadline timer is set for; 0: not set
  std::vector<NativeProbe*> deferred_;  // to finish on the next turn of the loop
  UvHandle<uv_timer_t> deferred_timer_;
};

class NativeProbe : private Resolver::Client {
 public:
  // `target` must outlive the probe.
  NativeProbe(HttpClient* client, const HttpTarget* target);
  ~NativeProbe();
  NativeProbe(const NativeProbe&) = delete;
  NativeProbe& operator=(const NativeProbe&) = delete;

  // Begins the probe. Every failure is a result, told through DoneFn (for
  // one found here, on the next turn of the loop).
  void start();

  // The result, once DoneFn was called.
  ProbeResult take_result() { return std::move(result_); }
  // Time since start().
  Nanos elapsed() const;

  uint64_t id = 0;  // free for the owner (e.g. which target)

 private:
  friend class HttpClient;  // its deadline FIFOs and deferred list link probes
  struct Connection;
  enum class Phase { Resolving, Connecting, Waiting, Done };

  void on_resolved(std::vector<sockaddr_storage> addresses, const std::string& error) override;
  size_t address_count() const;
  const sockaddr& address(size_t i) const;
  void connect_next();
  int open_connection(const sockaddr& addr);
  void connect_failed(int uv_error);
  void written(int status);
  void read(ssize_t nread, const char* data);
  bool connection_up() const;
  void timed_out();
  void fail_with(TransportCode code, const std::string& detail);
  void fail_later(TransportCode code, const std::string& detail);
  uint64_t deadline_ns() const;
  void finish();
  void close_connection();
  int64_t elapsed_ms() const;

  static void on_uv_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_uv_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_uv_written(uv_write_t* req, int status);

  HttpClient* client_;
  const HttpTarget* target_;
  ProbeResult result_;
  ResponseParser parser_;
  Connection* conn_ = nullptr;  // freed in its close callback
  Phase phase_ = Phase::Resolving;
  uint64_t start_ns_ = 0;
  uint64_t lookup_ = 0;  // the resolver's id while a lookup is pending
  std::vector<sockaddr_storage> addresses_;  // a name's; a numeric host's is the target's
  size_t next_address_ = 0;
  int last_connect_error_ = 0;  // a negative errno
  // In HttpClient's deadline FIFO for target_->timeout while waiting.
  HttpClient::Deadlines* deadlines_ = nullptr;
  NativeProbe* prev_ = nullptr;
  NativeProbe* next_ = nullptr;
  bool deferred_ = false;  // in HttpClient's deferred_ (fail_later)
};

}  // namespace observer
