#include "worker/curl_multi_uv.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <cassert>
#include <type_traits>

namespace observer {

static_assert(std::is_same_v<curl_socket_t, uv_os_sock_t>, "curl and libuv name a socket alike");

struct CurlMultiUv::CurlCallbacks {
  static int cb_curl_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp) noexcept;
  static int cb_curl_timer(CURLM* multi, long timeout_ms, void* userp) noexcept;
};

// The poll of one socket number; `easy` is the transfer that asked last.
struct CurlMultiUv::SocketWatch {
  UvHandle<uv_poll_t> poll;
  curl_socket_t fd = CURL_SOCKET_BAD;
  CURL* easy = nullptr;
  CurlMultiUv* owner = nullptr;
};

CurlMultiUv::CurlMultiUv(uv_loop_t* loop, DoneFn done) : loop_(loop), done_(std::move(done)) {}

CurlMultiUv::~CurlMultiUv() {
  close();
  multi_.reset();  // may call cb_curl_socket: watches_ is gone by then, and it copes
}

bool CurlMultiUv::init(std::string* error) {
  multi_.reset(curl_multi_init());
  if (!multi_) {
    *error = "curl_multi_init failed";
    return false;
  }
  int rc = timer_.init([this](uv_timer_t* t) { return uv_timer_init(loop_, t); }, this);
  if (rc != 0) {
    *error = std::string("uv_timer_init: ") + uv_strerror(rc);
    return false;
  }
  CURLM* m = multi_.get();
  CURLMcode mc = CURLM_OK;
  if ((mc = curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &CurlCallbacks::cb_curl_socket)) != CURLM_OK ||
      (mc = curl_multi_setopt(m, CURLMOPT_SOCKETDATA, this)) != CURLM_OK ||
      (mc = curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &CurlCallbacks::cb_curl_timer)) != CURLM_OK ||
      (mc = curl_multi_setopt(m, CURLMOPT_TIMERDATA, this)) != CURLM_OK) {
    *error = std::string("curl_multi_setopt: ") + curl_multi_strerror(mc);
    return false;
  }
  return true;
}

bool CurlMultiUv::add(CURL* easy, std::string* error) {
  CURLMcode mc = curl_multi_add_handle(multi_.get(), easy);
  if (mc != CURLM_OK) {
    *error = std::string("curl_multi_add_handle: ") + curl_multi_strerror(mc);
    return false;
  }
  return true;
}

void CurlMultiUv::remove(CURL* easy) {
  // May call cb_curl_socket (CURL_POLL_REMOVE) for the transfer's sockets.
  curl_multi_remove_handle(multi_.get(), easy);
}

void CurlMultiUv::close() {
  if (timer_) uv_timer_stop(timer_.get());
  timer_.close();
  watches_.clear();  // each UvHandle closes its poll
}

CurlMultiUv::SocketWatch* CurlMultiUv::watch_for(uv_os_sock_t fd) {
  size_t i = static_cast<size_t>(fd);
  if (i >= watches_.size()) watches_.resize(i + 1);
  std::unique_ptr<SocketWatch>& w = watches_[i];
  if (w) return w.get();
  auto fresh = std::make_unique<SocketWatch>();
  fresh->fd = fd;
  fresh->owner = this;
  if (fresh->poll.init([&](uv_poll_t* p) { return uv_poll_init_socket(loop_, p, fd); }, fresh.get()) != 0) return nullptr;
  w = std::move(fresh);
  return w.get();
}

int CurlMultiUv::CurlCallbacks::cb_curl_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void*) noexcept {
  auto* self = static_cast<CurlMultiUv*>(userp);
  if (fd < 0) return -1;
  if (what == CURL_POLL_REMOVE) {
    size_t i = static_cast<size_t>(fd);
    if (i < self->watches_.size() && self->watches_[i]) {
      SocketWatch* w = self->watches_[i].get();
      uv_poll_stop(w->poll.get());
      w->easy = nullptr;
    }
    return 0;
  }
  if (!self->timer_) return -1;  // closing
  SocketWatch* w = nullptr;
  try {
    w = self->watch_for(fd);
  } catch (...) {  // out of memory: curl fails this transfer
    return -1;
  }
  if (w == nullptr) return -1;  // curl fails this transfer (CURLM_ABORTED_BY_CALLBACK)
  w->easy = easy;
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  return uv_poll_start(w->poll.get(), events, &CurlMultiUv::on_uv_poll) == 0 ? 0 : -1;
}

int CurlMultiUv::CurlCallbacks::cb_curl_timer(CURLM*, long timeout_ms, void* userp) noexcept {
  auto* self = static_cast<CurlMultiUv*>(userp);
  if (!self->timer_) return 0;  // closing: nothing to drive any more
  if (timeout_ms < 0) {
    uv_timer_stop(self->timer_.get());
    return 0;
  }
  // 0 too goes through the loop: calling curl back from here is forbidden.
  int rc = uv_timer_start(self->timer_.get(), &CurlMultiUv::on_uv_timeout, static_cast<uint64_t>(timeout_ms), 0);
  return rc == 0 ? 0 : -1;
}

void CurlMultiUv::on_uv_poll(uv_poll_t* handle, int status, int events) noexcept {
  auto* w = static_cast<SocketWatch*>(handle->data);
  if (w == nullptr || w->easy == nullptr) return;  // closing, or a late event for a finished socket
  int flags = 0;
  CurlMultiUv* self = w->owner;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (self->socket_error_ && getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error != 0)
      self->socket_error_(w->easy, so_error);
  } else {
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  }
  self->socket_action(w->fd, flags);
}

void CurlMultiUv::on_uv_timeout(uv_timer_t* handle) noexcept {
  auto* self = static_cast<CurlMultiUv*>(handle->data);
  if (self == nullptr) return;
  self->socket_action(CURL_SOCKET_TIMEOUT, 0);
}

void CurlMultiUv::socket_action(uv_os_sock_t fd, int flags) {
  int running = 0;
  curl_multi_socket_action(multi_.get(), fd, flags, &running);
  drain_finished();
}

void CurlMultiUv::drain_finished() {
  int left = 0;
  while (CURLMsg* m = curl_multi_info_read(multi_.get(), &left)) {
    if (m->msg != CURLMSG_DONE) continue;
    CURL* easy = m->easy_handle;
    CURLcode result = m->data.result;
    done_(easy, static_cast<int>(result));  // removes `easy` from the multi handle; `m` is invalid after
  }
}

}  // namespace observer
