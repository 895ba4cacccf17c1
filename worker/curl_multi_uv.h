// CurlMultiUv: the glue that lets a libuv loop drive a libcurl multi handle
// (the pattern of curl's docs/examples/multi-uv.c, with every return code
// checked). It owns the multi handle, one uv_timer for curl's timeout and a
// uv_poll for each socket number curl asks to watch.
//
//  - CURLMOPT_SOCKETFUNCTION starts, changes or stops the socket's uv_poll;
//  - CURLMOPT_TIMERFUNCTION arms the single timer (-1 stops it; 0 fires on
//    the next loop iteration: curl is never re-entered from inside its own
//    callback);
//  - a poll error is passed to curl as CURL_CSELECT_ERR;
//  - after every curl_multi_socket_action, finished transfers are drained
//    with curl_multi_info_read and handed to the `done` callback, which must
//    remove the easy handle (remove()) before it reuses or frees it.
//
// A uv_poll is kept per socket *number*, stopped (never closed) when curl
// is done with the socket, and started again when curl opens a new socket
// that got the same number. curl always says CURL_POLL_REMOVE before it
// closes a socket, so a stopped poll never watches a closed descriptor, and
// the kernel drops a closed socket from the loop's epoll/kqueue set by
// itself. That saves the init (a test registration and an ioctl) and the
// close of a uv_poll for every probe's connection; the number of polls is
// bounded by the highest descriptor number curl used.
//
// Only the loop thread may call it. The owner removes every easy handle
// before destroying it; destruction closes the uv handles (their memory is
// freed in close callbacks, so the loop must run once more afterwards).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "worker/curl_handles.h"
#include "common/uv_handle.h"

namespace observer {

class CurlMultiUv {
 public:
  // Called for each finished transfer with its CURLcode, from the loop
  // (never from inside a curl call that the owner made).
  using DoneFn = std::function<void(CURL* easy, int curl_code)>;
  // Told the socket's pending error (SO_ERROR, an errno) when its poll fails,
  // before curl hears CURL_CSELECT_ERR: curl itself only says "select/poll
  // returned error", so this is how a log line can say "Connection reset".
  using SocketErrorFn = std::function<void(CURL* easy, int error)>;

  CurlMultiUv(uv_loop_t* loop, DoneFn done);
  ~CurlMultiUv();
  CurlMultiUv(const CurlMultiUv&) = delete;
  CurlMultiUv& operator=(const CurlMultiUv&) = delete;

  bool init(std::string* error);
  void on_socket_error(SocketErrorFn fn) { socket_error_ = std::move(fn); }
  bool add(CURL* easy, std::string* error);
  void remove(CURL* easy);
  // Stops the timer and closes every socket watcher (before shutdown).
  void close();

 private:
  struct SocketWatch;
  // cb_curl_socket and cb_curl_timer, with curl's own signatures: defined
  // in the .cc, the one place that includes curl.h.
  struct CurlCallbacks;

  static void on_uv_poll(uv_poll_t* handle, int status, int events) noexcept;
  static void on_uv_timeout(uv_timer_t* handle) noexcept;

  // A socket as libuv knows it is curl's curl_socket_t (int, or SOCKET on Windows).
  SocketWatch* watch_for(uv_os_sock_t fd);
  void socket_action(uv_os_sock_t fd, int flags);
  void drain_finished();

  uv_loop_t* loop_;
  DoneFn done_;
  SocketErrorFn socket_error_;
  CurlMulti multi_;
  UvHandle<uv_timer_t> timer_;
  std::vector<std::unique_ptr<SocketWatch>> watches_;  // by socket number
};

}  // namespace observer
