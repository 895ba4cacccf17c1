#include "curl_multi_uv.h"

#include "curl_library.h"

#include <sys/socket.h>

#include <cassert>

namespace observer {

// One watched socket. Owned by curl's per-socket pointer (curl_multi_assign)
// from CURL_POLL_IN/OUT/INOUT until CURL_POLL_REMOVE.
struct CurlMultiUv::SocketWatch {
  UvHandle<uv_poll_t> poll;
  curl_socket_t fd = CURL_SOCKET_BAD;
  CURL* easy = nullptr;  // the transfer that asked for the watch last
  CurlMultiUv* owner = nullptr;
};

CurlMultiUv::CurlMultiUv(uv_loop_t* loop, DoneFn done) : loop_(loop), done_(std::move(done)) {}

CurlMultiUv::~CurlMultiUv() {
  close();
  if (multi_ != nullptr) curl_multi_cleanup(multi_);
}

bool CurlMultiUv::init(std::string* error) {
  if (!load_curl_library(error)) return false;
  multi_ = curl_multi_init();
  if (multi_ == nullptr) {
    *error = "curl_multi_init failed";
    return false;
  }
  int rc = timer_.init([this](uv_timer_t* t) { return uv_timer_init(loop_, t); }, this);
  if (rc != 0) {
    *error = std::string("uv_timer_init: ") + uv_strerror(rc);
    return false;
  }
  CURLMcode mc = CURLM_OK;
  if ((mc = curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlMultiUv::cb_curl_socket)) != CURLM_OK ||
      (mc = curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this)) != CURLM_OK ||
      (mc = curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlMultiUv::cb_curl_timer)) != CURLM_OK ||
      (mc = curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this)) != CURLM_OK) {
    *error = std::string("curl_multi_setopt: ") + curl_multi_strerror(mc);
    return false;
  }
  return true;
}

bool CurlMultiUv::add(CURL* easy, std::string* error) {
  CURLMcode mc = curl_multi_add_handle(multi_, easy);
  if (mc != CURLM_OK) {
    *error = std::string("curl_multi_add_handle: ") + curl_multi_strerror(mc);
    return false;
  }
  return true;
}

void CurlMultiUv::remove(CURL* easy) {
  // May call cb_curl_socket (CURL_POLL_REMOVE) for the transfer's sockets.
  curl_multi_remove_handle(multi_, easy);
}

void CurlMultiUv::close() {
  if (timer_) uv_timer_stop(timer_.get());
  timer_.close();
}

void CurlMultiUv::stop_watch(SocketWatch* w, curl_socket_t fd) {
  curl_multi_assign(multi_, fd, nullptr);
  --watched_;
  delete w;  // UvHandle closes the poll; its memory goes in the close callback
}

int CurlMultiUv::cb_curl_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp) {
  auto* self = static_cast<CurlMultiUv*>(userp);
  auto* w = static_cast<SocketWatch*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    if (w != nullptr) self->stop_watch(w, fd);
    return 0;
  }
  if (w == nullptr) {
    w = new SocketWatch();
    w->fd = fd;
    w->owner = self;
    int rc = w->poll.init([&](uv_poll_t* p) { return uv_poll_init_socket(self->loop_, p, fd); }, w);
    if (rc != 0) {
      delete w;
      return -1;  // curl fails this transfer (CURLM_ABORTED_BY_CALLBACK)
    }
    curl_multi_assign(self->multi_, fd, w);
    ++self->watched_;
  }
  w->easy = easy;
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  int rc = uv_poll_start(w->poll.get(), events, &CurlMultiUv::on_uv_poll);
  return rc == 0 ? 0 : -1;
}

int CurlMultiUv::cb_curl_timer(CURLM*, long timeout_ms, void* userp) {
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

void CurlMultiUv::on_uv_poll(uv_poll_t* handle, int status, int events) {
  auto* w = static_cast<SocketWatch*>(handle->data);
  if (w == nullptr) return;  // closing
  int flags = 0;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (w->owner->socket_error_ && getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error != 0)
      w->owner->socket_error_(w->easy, so_error);
  } else {
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  }
  // `w` may be deleted inside socket_action (CURL_POLL_REMOVE): read first.
  CurlMultiUv* self = w->owner;
  self->socket_action(w->fd, flags);
}

void CurlMultiUv::on_uv_timeout(uv_timer_t* handle) {
  auto* self = static_cast<CurlMultiUv*>(handle->data);
  if (self == nullptr) return;
  self->socket_action(CURL_SOCKET_TIMEOUT, 0);
}

void CurlMultiUv::socket_action(curl_socket_t fd, int flags) {
  int running = 0;
  curl_multi_socket_action(multi_, fd, flags, &running);
  drain_finished();
}

void CurlMultiUv::drain_finished() {
  int left = 0;
  while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
    if (m->msg != CURLMSG_DONE) continue;
    CURL* easy = m->easy_handle;
    CURLcode result = m->data.result;
    done_(easy, result);  // removes (and frees) `easy`; `m` is invalid after
  }
}

}  // namespace observer
