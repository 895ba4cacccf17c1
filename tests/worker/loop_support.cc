#include "tests/worker/loop_support.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "tests/unit/cmocka_prelude.h"

namespace observer::test {

namespace {

void on_watchdog(uv_timer_t* t) noexcept {
  *static_cast<bool*>(t->data) = true;
  uv_stop(t->loop);
}

}  // namespace

bool run_bounded(uv_loop_t* loop, uint64_t limit_ms) {
  bool expired = false;
  auto* watchdog = new uv_timer_t();
  uv_timer_init(loop, watchdog);
  watchdog->data = &expired;
  uv_timer_start(watchdog, &on_watchdog, limit_ms, 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(watchdog));  // never what keeps the loop alive
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(watchdog), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  // One iteration for the watchdog's close callback, without waiting for
  // whatever else may still be open after a timeout.
  uv_run(loop, UV_RUN_NOWAIT);
  return !expired;
}

size_t live_handles(uv_loop_t* loop, uv_handle_type type) {
  struct Count {
    uv_handle_type type;
    size_t n = 0;
  } count{type};
  uv_walk(loop, [](uv_handle_t* h, void* arg) {
    auto* c = static_cast<Count*>(arg);
    if (!uv_is_closing(h) && (c->type == UV_UNKNOWN_HANDLE || h->type == c->type)) ++c->n;
  }, &count);
  return count.n;
}

Config config_from_ini(const std::string& ini) {
  char path[] = "/tmp/observer-loop-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, ini.data(), ini.size()), static_cast<ssize_t>(ini.size()));
  ::close(fd);
  Invocation inv;
  std::string error;
  bool ok = load_invocation({"-config", path}, {}, &inv, &error);
  unlink(path);
  if (!ok) fail_msg("config: %s", error.c_str());
  return std::move(inv.config);
}

NullLog::NullLog()
    : fd(open("/dev/null", O_WRONLY | O_CLOEXEC)),
      writer(fd.get(), 1 << 20, drop_notice_for(LineOptions())),
      log(&writer, LineOptions()) {}

TestLoop::TestLoop() {
  if (uv_loop_init(&loop_) != 0) std::abort();
}

int TestLoop::close() {
  uv_run(&loop_, UV_RUN_NOWAIT);
  int rc = uv_loop_close(&loop_);
  closed_ = rc == 0;
  return rc;
}

TestLoop::~TestLoop() {
  if (closed_) return;
  // A test failed with handles open: close them (their owners are gone or
  // going) so that the next test starts clean.
  uv_walk(&loop_, [](uv_handle_t* h, void*) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }, nullptr);
  uv_run(&loop_, UV_RUN_NOWAIT);
  uv_loop_close(&loop_);
}

struct HttpServer::Connection {
  uv_tcp_t tcp;
  HttpServer* server = nullptr;
  std::string in;
  std::string path;
  bool answered = false;  // a request was read whole (one per connection)
  bool hung = false;      // /hang: never answered
  bool closing = false;
  char buffer[4096];
};

namespace {

struct Write {
  uv_write_t req;
  std::string data;
  bool close_after = false;
};

std::string response(int status, const std::string& body, size_t promised) {
  return "HTTP/1.1 " + std::to_string(status) + " Test\r\nServer: loop-test\r\nContent-Type: text/plain\r\n" +
         "Content-Length: " + std::to_string(promised) + "\r\nConnection: close\r\n\r\n" + body;
}

// The Content-Length of a request's headers (0 when none).
size_t content_length(const std::string& headers) {
  for (const char* name : {"\r\nContent-Length:", "\r\ncontent-length:"}) {
    size_t at = headers.find(name);
    if (at != std::string::npos) return std::strtoul(headers.c_str() + at + std::strlen(name), nullptr, 10);
  }
  return 0;
}

}  // namespace

HttpServer::HttpServer(uv_loop_t* loop) : loop_(loop) {}

HttpServer::~HttpServer() { close(); }

int HttpServer::listen() {
  listener_ = new uv_tcp_t();
  int rc = uv_tcp_init(loop_, listener_);
  if (rc != 0) {
    delete listener_;
    listener_ = nullptr;
    return rc;
  }
  listener_->data = this;
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", 0, &addr);
  if ((rc = uv_tcp_bind(listener_, reinterpret_cast<const sockaddr*>(&addr), 0)) == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 128, &HttpServer::on_uv_connection);
  sockaddr_in bound{};
  int len = sizeof bound;
  if (rc == 0) rc = uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  if (rc != 0) {
    close();
    return rc;
  }
  port_ = ntohs(bound.sin_port);
  return 0;
}

std::string HttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

size_t HttpServer::requests(const std::string& path) const {
  auto it = by_path_.find(path);
  return it == by_path_.end() ? 0 : it->second;
}

void HttpServer::close() {
  if (listener_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    listener_ = nullptr;
  }
  while (!connections_.empty()) drop(connections_.front().get());
}

void HttpServer::drop(Connection* c) {
  if (c->closing) return;
  c->closing = true;
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    if (it->get() != c) continue;
    it->release();  // freed by the close callback
    connections_.erase(it);
    break;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
}

void HttpServer::on_uv_connection(uv_stream_t* listener, int status) noexcept {
  auto* self = static_cast<HttpServer*>(listener->data);
  if (status != 0) return;
  auto c = std::make_unique<Connection>();
  c->server = self;
  uv_tcp_init(self->loop_, &c->tcp);
  c->tcp.data = c.get();
  Connection* conn = c.get();
  self->connections_.push_back(std::move(c));
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&conn->tcp)) != 0) {
    self->drop(conn);
    return;
  }
  auto alloc = [](uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* cc = static_cast<Connection*>(h->data);
    *buf = uv_buf_init(cc->buffer, sizeof cc->buffer);
  };
  auto read = [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* cc = static_cast<Connection*>(s->data);
    if (cc->closing) return;
    if (nread < 0) {  // EOF or error: the client is done with us
      HttpServer* server = cc->server;
      bool hung = cc->hung;
      server->drop(cc);
      if (hung) {
        ++server->hung_closed_;
        if (server->on_hung_closed) server->on_hung_closed();
      }
      return;
    }
    if (cc->answered) return;  // one request per connection
    cc->in.append(buf->base, static_cast<size_t>(nread));
    size_t end = cc->in.find("\r\n\r\n");
    if (end == std::string::npos || cc->in.size() < end + 4 + content_length(cc->in.substr(0, end + 2))) return;
    cc->answered = true;
    cc->server->handle_request(cc);
  };
  uv_read_start(reinterpret_cast<uv_stream_t*>(&conn->tcp), alloc, read);
}

void HttpServer::handle_request(Connection* c) {
  size_t start = c->in.find(' ');
  size_t stop = start == std::string::npos ? start : c->in.find(' ', start + 1);
  c->path = stop == std::string::npos ? "" : c->in.substr(start + 1, stop - start - 1);
  size_t head_end = c->in.find("\r\n\r\n");
  last_body_ = c->in.substr(head_end + 4);
  ++by_path_[c->path];
  ++total_;
  if (on_request) on_request(c->path);  // may close everything, c included
  if (c->closing) return;
  if (c->path == "/hang") {
    c->hung = true;
    return;
  }
  auto* w = new Write();
  w->close_after = true;
  if (c->path == "/cut") {
    w->data = response(200, "0123456789", 1000);
  } else if (c->path.rfind("/status/", 0) == 0) {
    int status = std::atoi(c->path.c_str() + 8);
    w->data = response(status, "status " + std::to_string(status), 6 + 1 + std::to_string(status).size());
  } else {
    w->data = response(200, "ok", 2);
  }
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  auto written = [](uv_write_t* req, int) {
    auto* ww = reinterpret_cast<Write*>(req);
    auto* cc = static_cast<Connection*>(req->handle->data);
    if (ww->close_after && !cc->closing) cc->server->drop(cc);
    delete ww;
  };
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, written) != 0) {
    delete w;
    drop(c);
  }
}

}  // namespace observer::test
