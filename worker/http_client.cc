#include "http_client.h"

#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstring>

namespace observer {

// One TCP connection and the requests libuv holds on it. libuv may call the
// connect and write callbacks (with UV_ECANCELED) after uv_close, before the
// close callback: so they live here, freed with the handle, and `owner` is
// null once the probe let go.
struct NativeProbe::Connection {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  NativeProbe* owner = nullptr;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp); }
  void close() {
    owner = nullptr;
    tcp.data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp),
             [](uv_handle_t* h) { delete reinterpret_cast<Connection*>(reinterpret_cast<char*>(h) - offsetof(Connection, tcp)); });
  }
};

namespace {

std::string os_reason(int uv_error) { return std::strerror(-uv_error); }

}  // namespace

HttpClient::HttpClient(uv_loop_t* loop, DoneFn done)
    : loop_(loop), done_(std::move(done)), resolver_(loop), read_buffer_(new char[kReadBufferBytes]) {}

// Probes are destroyed before their client (the engine aborts them first).
HttpClient::~HttpClient() { assert(deferred_.empty()); }

bool HttpClient::init(std::string* error) {
  auto timer_init = [this](uv_timer_t* t) { return uv_timer_init(loop_, t); };
  int rc = deadline_timer_.init(timer_init, this);
  if (rc == 0) rc = deferred_timer_.init(timer_init, this);
  if (rc != 0) {
    *error = std::string("uv_timer_init: ") + uv_strerror(rc);
    return false;
  }
  return resolver_.init(error);
}

void HttpClient::join_deadlines(NativeProbe* p) {
  Deadlines* d = nullptr;
  for (Deadlines& x : deadlines_)
    if (x.timeout == p->target_->common->timeout) d = &x;
  if (d == nullptr) {
    deadlines_.push_back(Deadlines{p->target_->common->timeout, nullptr, nullptr});
    d = &deadlines_.back();
  }
  p->deadlines_ = d;
  p->prev_ = d->tail;
  p->next_ = nullptr;
  if (d->tail != nullptr) d->tail->next_ = p;
  else d->head = p;
  d->tail = p;
  // Only an earlier deadline than the one the timer waits for moves it.
  uint64_t deadline = p->deadline_ns();
  if (armed_for_ns_ == 0 || deadline < armed_for_ns_) arm_deadline_timer(p->start_ns_);
}

// Leaving does not move the timer: it fires at the old deadline, finds the
// head still early, and waits for that one.
void HttpClient::leave_deadlines(NativeProbe* p) {
  Deadlines* d = p->deadlines_;
  if (d == nullptr) return;
  if (p->prev_ != nullptr) p->prev_->next_ = p->next_;
  else d->head = p->next_;
  if (p->next_ != nullptr) p->next_->prev_ = p->prev_;
  else d->tail = p->prev_;
  p->deadlines_ = nullptr;
  p->prev_ = p->next_ = nullptr;
}

void HttpClient::arm_deadline_timer(uint64_t now_ns) {
  uint64_t earliest = 0;
  for (const Deadlines& d : deadlines_)
    if (d.head != nullptr && (earliest == 0 || d.head->deadline_ns() < earliest)) earliest = d.head->deadline_ns();
  armed_for_ns_ = earliest;
  if (earliest == 0) {
    uv_timer_stop(deadline_timer_.get());
    return;
  }
  // libuv's clock is in whole ms and may lag behind uv_hrtime(): a timer
  // that comes early finds the head not yet due and is set again.
  uint64_t wait_ms = earliest > now_ns ? (earliest - now_ns + 999999) / 1000000 : 0;
  uv_timer_start(deadline_timer_.get(), &HttpClient::on_uv_deadline, wait_ms, 0);
}

void HttpClient::on_uv_deadline(uv_timer_t* handle) {
  auto* self = static_cast<HttpClient*>(handle->data);
  if (self != nullptr) self->expire(uv_hrtime());
}

void HttpClient::expire(uint64_t now_ns) {
  armed_for_ns_ = 0;
  for (Deadlines& d : deadlines_) {
    // timed_out() ends the probe: it leaves the FIFO, and the engine may
    // destroy it. Nothing else changes the FIFOs meanwhile.
    while (d.head != nullptr && d.head->deadline_ns() <= now_ns) d.head->timed_out();
  }
  arm_deadline_timer(now_ns);
}

void HttpClient::defer_finish(NativeProbe* p) {
  p->deferred_ = true;
  deferred_.push_back(p);
  uv_timer_start(deferred_timer_.get(), &HttpClient::on_uv_deferred, 0, 0);
}

void HttpClient::forget_deferred(NativeProbe* p) {
  if (!p->deferred_) return;
  p->deferred_ = false;
  deferred_.erase(std::find(deferred_.begin(), deferred_.end(), p));
}

void HttpClient::on_uv_deferred(uv_timer_t* handle) {
  auto* self = static_cast<HttpClient*>(handle->data);
  if (self == nullptr) return;
  // One at a time: finishing one may destroy it (and it leaves the list).
  while (!self->deferred_.empty()) {
    NativeProbe* p = self->deferred_.front();
    self->forget_deferred(p);
    p->finish();
  }
}

NativeProbe::NativeProbe(HttpClient* client, const HttpTarget* target) : client_(client), target_(target) {}

NativeProbe::~NativeProbe() {
  if (lookup_ != 0) client_->resolver_.cancel(lookup_);
  client_->leave_deadlines(this);
  client_->forget_deferred(this);
  close_connection();
}

void NativeProbe::start() {
  start_ns_ = uv_hrtime();
  parser_.start(target_->common->head, target_->common->max_body, &result_);
  client_->join_deadlines(this);
  if (target_->common->numeric) {
    sockaddr_storage a{};
    std::memcpy(&a, &target_->common->address, sizeof target_->common->address);
    addresses_.assign(1, a);
    connect_next();
  } else {
    phase_ = Phase::Resolving;
    lookup_ = client_->resolver_.lookup(target_->common->host, target_->common->port, target_->common->ip_version, this);
  }
}

uint64_t NativeProbe::deadline_ns() const {
  return start_ns_ + static_cast<uint64_t>(std::max<int64_t>(target_->common->timeout.count(), 1000000));
}

Nanos NativeProbe::elapsed() const { return Nanos{static_cast<int64_t>(uv_hrtime() - start_ns_)}; }

int64_t NativeProbe::elapsed_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(elapsed()).count();
}

void NativeProbe::on_resolved(std::vector<sockaddr_storage> addresses, const std::string&) {
  lookup_ = 0;
  if (addresses.empty()) {
    // libcurl says the same whatever getaddrinfo's reason was.
    fail_with(TransportCode::CouldntResolveHost, "Could not resolve host: " + target_->common->host);
    return;
  }
  addresses_ = std::move(addresses);
  connect_next();
}

// Tries the addresses in order, as libcurl does, until one accepts. Called
// from start() too, so a failure here is told through the loop (fail_later).
void NativeProbe::connect_next() {
  phase_ = Phase::Connecting;
  while (next_address_ < addresses_.size()) {
    const sockaddr_storage& addr = addresses_[next_address_++];
    auto* c = new Connection();
    // The socket is made here, non-blocking and close-on-exec, by libuv.
    int rc = uv_tcp_init_ex(client_->loop_, &c->tcp, addr.ss_family);
    if (rc != 0) {
      delete c;  // never initialised: nothing for libuv to close
      last_connect_error_ = rc;
      continue;
    }
    c->owner = this;
    c->tcp.data = c;
    c->connect.data = c;
    rc = uv_tcp_connect(&c->connect, &c->tcp, reinterpret_cast<const sockaddr*>(&addr), &NativeProbe::on_uv_connect);
    if (rc != 0) {
      last_connect_error_ = rc;
      c->close();
      continue;
    }
    // Reading starts now, not once connected: libuv then registers the
    // socket for both events in one epoll_ctl, and one more switches it to
    // reading alone (instead of a failed ADD and a MOD after the connect).
    rc = uv_read_start(c->stream(), &NativeProbe::on_uv_alloc, &NativeProbe::on_uv_read);
    if (rc != 0) {
      last_connect_error_ = rc;
      c->close();
      continue;
    }
    conn_ = c;
    return;
  }
  fail_later(TransportCode::CouldntConnect,
             "Failed to connect to " + target_->common->host + " port " + std::to_string(target_->common->port) + " after " +
                 std::to_string(elapsed_ms()) + " ms: Couldn't connect to server" +
                 (last_connect_error_ != 0 ? " (" + os_reason(last_connect_error_) + ")" : ""));
}

void NativeProbe::on_uv_connect(uv_connect_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (c->owner != nullptr) c->owner->connected(status);
}

void NativeProbe::connected(int status) {
  if (status != 0) {
    last_connect_error_ = status;
    close_connection();
    connect_next();
    return;
  }
  phase_ = Phase::Waiting;
  send_request();
}

// The request's bytes from `offset` on, as libuv buffers; returns how many.
static unsigned request_buffers(const HttpTarget& target, size_t offset, uv_buf_t out[3]) {
  iovec pieces[3];
  size_t n = target.request_pieces(offset, pieces);
  for (size_t i = 0; i < n; ++i) out[i] = uv_buf_init(static_cast<char*>(pieces[i].iov_base), static_cast<unsigned>(pieces[i].iov_len));
  return static_cast<unsigned>(n);
}

void NativeProbe::send_request() {
  uv_buf_t bufs[3];
  unsigned count = request_buffers(*target_, 0, bufs);
  int n = uv_try_write(conn_->stream(), bufs, count);
  if (n == UV_EAGAIN) n = 0;
  if (n < 0) {
    fail_with(TransportCode::SendError, "Send failure: " + os_reason(n));
    return;
  }
  if (static_cast<size_t>(n) < target_->request_size()) {
    // A request larger than the socket's buffer: the rest goes when it can.
    // The bytes are the target's, which outlives the probe.
    count = request_buffers(*target_, static_cast<size_t>(n), bufs);
    conn_->write.data = conn_;
    int rc = uv_write(&conn_->write, conn_->stream(), bufs, count, &NativeProbe::on_uv_written);
    if (rc != 0) {
      fail_with(TransportCode::SendError, "Send failure: " + os_reason(rc));
      return;
    }
  }
}

void NativeProbe::on_uv_written(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (c->owner == nullptr || status == 0) return;
  c->owner->fail_with(TransportCode::SendError, "Send failure: " + os_reason(status));
}

void NativeProbe::on_uv_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(handle->data);
  if (c == nullptr || c->owner == nullptr) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(c->owner->client_->read_buffer_.get(), HttpClient::kReadBufferBytes);
}

void NativeProbe::on_uv_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(stream->data);
  if (c == nullptr || c->owner == nullptr) return;
  c->owner->read(nread, buf->base);
}

void NativeProbe::read(ssize_t nread, const char* data) {
  if (nread == 0) return;  // EAGAIN
  ResponseParser::State s;
  if (nread > 0) {
    s = parser_.feed(data, static_cast<size_t>(nread));
  } else if (nread == UV_EOF) {
    // libuv reports a hang-up after a partial read as EOF without reading
    // again, and an RST hangs up too: the socket's error tells them apart.
    int so_error = 0;
    socklen_t len = sizeof so_error;
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&conn_->tcp), &fd) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error != 0) {
      fail_with(TransportCode::RecvError, "Recv failure: " + os_reason(-so_error));
      return;
    }
    s = parser_.eof();
  } else {
    fail_with(TransportCode::RecvError, "Recv failure: " + os_reason(static_cast<int>(nread)));
    return;
  }
  if (s != ResponseParser::State::More) finish();
}

// curl 7.88's words for the phase the probe was in.
void NativeProbe::timed_out() {
  std::string after = "after " + std::to_string(elapsed_ms()) + " milliseconds";
  switch (phase_) {
    case Phase::Resolving:
      fail_with(TransportCode::OperationTimedOut, "Resolving timed out " + after);
      return;
    case Phase::Connecting:
      fail_with(TransportCode::OperationTimedOut, "Connection timed out " + after);
      return;
    case Phase::Waiting:
    case Phase::Done:
      break;
  }
  std::string got = std::to_string(parser_.body_bytes());
  if (auto length = parser_.content_length()) got += " out of " + std::to_string(*length);
  fail_with(TransportCode::OperationTimedOut, "Operation timed out " + after + " with " + got + " bytes received");
}

void NativeProbe::fail_with(TransportCode code, const std::string& detail) {
  result_.set_failure(code, detail);
  finish();
}

void NativeProbe::fail_later(TransportCode code, const std::string& detail) {
  result_.set_failure(code, detail);
  client_->defer_finish(this);
}

void NativeProbe::close_connection() {
  if (conn_ == nullptr) return;
  conn_->close();
  conn_ = nullptr;
}

// The probe's end: everything stops, then the owner hears of it. The owner
// may destroy the probe, so nothing here touches `this` after done_.
void NativeProbe::finish() {
  if (phase_ == Phase::Done) return;
  phase_ = Phase::Done;
  client_->leave_deadlines(this);
  client_->forget_deferred(this);
  if (lookup_ != 0) {
    client_->resolver_.cancel(lookup_);
    lookup_ = 0;
  }
  close_connection();
  result_.total_time = elapsed();
  client_->done_(this);
}

}  // namespace observer
