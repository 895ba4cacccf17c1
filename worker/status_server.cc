#include "worker/status_server.h"

#include <microhttpd.h>

#include <cstring>

namespace observer {
namespace {

#if MHD_VERSION >= 0x00097002
using MhdResult = enum MHD_Result;
#else
using MhdResult = int;
#endif

MhdResult queue(MHD_Connection* c, StatusServer::Reply reply, bool head, bool last) {
  // The response owns a reference to its bytes until MHD has sent them.
  using Body = std::shared_ptr<const std::string>;
  auto* body = new Body(head ? std::make_shared<const std::string>()
                             : reply.shared_body ? std::move(reply.shared_body)
                                                 : std::make_shared<const std::string>(std::move(reply.body)));
  MHD_Response* r = MHD_create_response_from_buffer_with_free_callback_cls(
      // MHD only reads the buffer; its parameter is not const.
      (*body)->size(), const_cast<char*>((*body)->data()), [](void* cls) { delete static_cast<Body*>(cls); }, body);
  if (r == nullptr) {
    delete body;
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type.c_str());
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (reply.status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  // A quiesced server is on its way out: the client's next request should
  // open a new connection, which the successor takes.
  if (last) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
  MhdResult rc = MHD_queue_response(c, reply.status, r);
  MHD_destroy_response(r);
  return rc;
}

// Called by libmicrohttpd for each request; `cls` is the StatusServer.
MhdResult cb_mhd_request(void* cls, MHD_Connection* connection, const char* url, const char* method, const char*,
                         const char*, size_t* upload_data_size, void** req_cls) noexcept {
  static int seen;
  if (*req_cls == nullptr) {  // the headers are in; answer on the next call
    *req_cls = &seen;
    return MHD_YES;
  }
  auto* server = static_cast<StatusServer*>(cls);
  bool head = std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
  if (!head && std::strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
    *upload_data_size = 0;  // whatever was sent is not read
    StatusServer::Reply r;
    r.status = MHD_HTTP_METHOD_NOT_ALLOWED;
    r.body = "only GET and HEAD\n";
    return queue(connection, std::move(r), false, !server->serving());
  }
  try {
    return queue(connection, server->answer(url), head, !server->serving());
  } catch (...) {  // out of memory rendering: this request fails, the loop goes on
    return MHD_NO;
  }
}

}  // namespace

StatusServer::StatusServer(uv_loop_t* loop, Handler handler) : loop_(loop), handler_(std::move(handler)) {}

StatusServer::~StatusServer() { close(); }

bool StatusServer::start(int listen_fd, std::string* error) {
#ifndef __linux__
  (void)listen_fd;
  *error = "the metrics server needs Linux (libmicrohttpd's epoll mode)";
  return false;
#else
  close();
  quiesced_ = false;
  daemon_ = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, nullptr, nullptr,
                             &cb_mhd_request, this,
                             MHD_OPTION_LISTEN_SOCKET, listen_fd,
                             MHD_OPTION_CONNECTION_LIMIT, kMaxConnections,
                             MHD_OPTION_PER_IP_CONNECTION_LIMIT, kMaxPerAddress,
                             MHD_OPTION_CONNECTION_TIMEOUT, kIdleSeconds,
                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, kMaxRequestBytes,
                             MHD_OPTION_END);
  if (daemon_ == nullptr) {
    *error = "libmicrohttpd could not start on the listening socket";
    return false;
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
  int epfd = info != nullptr ? info->epoll_fd : -1;
  int rc = epfd < 0 ? UV_EINVAL : poll_.init([&](uv_poll_t* p) { return uv_poll_init(loop_, p, epfd); }, this);
  if (rc == 0) rc = timer_.init([this](uv_timer_t* t) { return uv_timer_init(loop_, t); }, this);
  if (rc == 0) rc = uv_poll_start(poll_.get(), UV_READABLE, &StatusServer::on_uv_poll);
  if (rc != 0) {
    *error = std::string("metrics server: ") + uv_strerror(rc);
    close();
    return false;
  }
  run();
  return true;
#endif
}

size_t StatusServer::connections() const {
  if (daemon_ == nullptr) return 0;
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
  return info != nullptr ? info->num_connections : 0;
}

void StatusServer::quiesce() {
  if (daemon_ == nullptr || quiesced_) return;
  // The socket stays open (the supervisor's, shared): only this process
  // stops taking connections from it.
  MHD_quiesce_daemon(daemon_);
  quiesced_ = true;
  run();
}

void StatusServer::close() {
  poll_.close();
  timer_.close();
  if (daemon_ != nullptr) {
    // A daemon that was not quiesced would close the listening socket,
    // which the process keeps: take it back first.
    if (!quiesced_) MHD_quiesce_daemon(daemon_);
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
  }
}

void StatusServer::run() {
  if (daemon_ == nullptr) return;
  MHD_run(daemon_);
  MHD_UNSIGNED_LONG_LONG ms = 0;
  if (timer_ && MHD_get_timeout(daemon_, &ms) == MHD_YES)
    uv_timer_start(timer_.get(), &StatusServer::on_uv_timer, ms, 0);
  else if (timer_)
    uv_timer_stop(timer_.get());
}

void StatusServer::on_uv_poll(uv_poll_t* handle, int, int) noexcept {
  auto* self = static_cast<StatusServer*>(handle->data);
  if (self != nullptr) self->run();
}

void StatusServer::on_uv_timer(uv_timer_t* handle) noexcept {
  auto* self = static_cast<StatusServer*>(handle->data);
  if (self != nullptr) self->run();
}

}  // namespace observer
