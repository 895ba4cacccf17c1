#include "http_client.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cerrno>
#include <cstring>

#include "unique_fd.h"

namespace observer {

// One TCP connection and the write libuv may hold on it. libuv may call the
// write callback (with UV_ECANCELED) after uv_close, before the close
// callback: so it lives here, freed with the handle, and `owner` is null
// once the probe let go. The socket is libuv's from uv_tcp_open on; uv_close
// stops watching it before it closes it.
struct NativeProbe::Connection {
  uv_tcp_t tcp;
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

#ifdef MSG_NOSIGNAL
constexpr int kNoSigpipe = MSG_NOSIGNAL;
#else
constexpr int kNoSigpipe = 0;  // the worker ignores SIGPIPE
#endif

// A non-blocking, close-on-exec TCP socket, or a negative errno.
int open_stream_socket(int family) {
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd >= 0 ? fd : -errno;
#else
  UniqueFd fd(::socket(family, SOCK_STREAM, 0));
  if (!fd) return -errno;
  int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0 || fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0 || fcntl(fd.get(), F_SETFD, FD_CLOEXEC) != 0)
    return -errno;
  return fd.release();
#endif
}

// Writes what it can of the request from `offset` on: the count, or a
// negative errno (-EAGAIN when nothing could go yet).
ssize_t send_request_bytes(int fd, const HttpTarget& target, size_t offset) {
  iovec pieces[3];
  msghdr m{};
  m.msg_iov = pieces;
  m.msg_iovlen = target.request_pieces(offset, pieces);
  ssize_t n;
  do n = ::sendmsg(fd, &m, kNoSigpipe);
  while (n < 0 && errno == EINTR);
  if (n >= 0) return n;
  return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

// The request's bytes from `offset` on, as libuv buffers; returns how many.
unsigned request_buffers(const HttpTarget& target, size_t offset, uv_buf_t out[3]) {
  iovec pieces[3];
  size_t n = target.request_pieces(offset, pieces);
  for (size_t i = 0; i < n; ++i)
    out[i] = uv_buf_init(static_cast<char*>(pieces[i].iov_base), static_cast<unsigned>(pieces[i].iov_len));
  return static_cast<unsigned>(n);
}

// Errors a TCP connection gives only once it was up: a reset after the
// handshake. Every other failure before the request is known to be out is
// the connect's (curl's "Couldn't connect", and the next address).
bool after_handshake(int uv_error) { return uv_error == UV_ECONNRESET || uv_error == UV_EPIPE; }

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

size_t NativeProbe::address_count() const { return target_->common->numeric ? 1 : addresses_.size(); }

const sockaddr& NativeProbe::address(size_t i) const {
  if (target_->common->numeric) return target_->common->address.sa;
  return *reinterpret_cast<const sockaddr*>(&addresses_[i]);
}

// Tries the addresses in order, as libcurl does, until one accepts. Called
// from start() too, so a failure here is told through the loop (fail_later).
void NativeProbe::connect_next() {
  phase_ = Phase::Connecting;
  while (next_address_ < address_count()) {
    int rc = open_connection(address(next_address_++));
    if (rc == 0) return;
    last_connect_error_ = rc;
  }
  fail_later(TransportCode::CouldntConnect,
             "Failed to connect to " + target_->common->host + " port " + std::to_string(target_->common->port) +
                 " after " + std::to_string(elapsed_ms()) + " ms: Couldn't connect to server" +
                 (last_connect_error_ != 0 ? " (" + os_reason(last_connect_error_) + ")" : ""));
}

// Connects to `addr` and sends the request at once, without first waiting
// for the handshake: on loopback it is done inside connect(), so the request
// goes out in the same turn of the loop and the socket is watched for the
// answer alone. Elsewhere the send finds the handshake still under way
// (EAGAIN) and libuv sends the request once the socket is writable. Returns
// 0 when the probe goes on with this connection, else the connect's error
// (nothing was sent).
int NativeProbe::open_connection(const sockaddr& addr) {
  int rc = open_stream_socket(addr.sa_family);
  if (rc < 0) return rc;
  UniqueFd fd(rc);
  if (::connect(fd.get(), &addr, socket_address_length(addr)) != 0 && errno != EINPROGRESS && errno != EINTR)
    return -errno;
  ssize_t sent = send_request_bytes(fd.get(), *target_, 0);
  if (sent < 0 && sent != -EAGAIN) return static_cast<int>(sent);
  auto* c = new Connection();
  rc = uv_tcp_init(client_->loop_, &c->tcp);
  if (rc != 0) {
    delete c;  // never initialised: nothing for libuv to close
    return rc;
  }
  c->owner = this;
  c->tcp.data = c;
  rc = uv_tcp_open(&c->tcp, fd.get());
  if (rc != 0) {
    c->close();  // the socket is still `fd`'s
    return rc;
  }
  fd.release();
  conn_ = c;
  rc = uv_read_start(c->stream(), &NativeProbe::on_uv_alloc, &NativeProbe::on_uv_read);
  if (rc != 0) {
    close_connection();
    return rc;
  }
  size_t done = sent > 0 ? static_cast<size_t>(sent) : 0;
  if (done > 0) phase_ = Phase::Waiting;  // bytes went out: the connection is up
  if (done == target_->request_size()) return 0;
  // The rest (all of it while the handshake is under way) goes when the
  // socket takes it. The bytes are the target's, which outlives the probe.
  uv_buf_t bufs[3];
  unsigned count = request_buffers(*target_, done, bufs);
  c->write.data = c;
  rc = uv_write(&c->write, c->stream(), bufs, count, &NativeProbe::on_uv_written);
  if (rc != 0) {
    if (phase_ == Phase::Connecting) {
      close_connection();
      return rc;
    }
    fail_later(TransportCode::SendError, "Send failure: " + os_reason(rc));
  }
  return 0;
}

void NativeProbe::on_uv_written(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (c->owner != nullptr) c->owner->written(status);
}

void NativeProbe::written(int status) {
  if (status == 0) {
    phase_ = phase_ == Phase::Connecting ? Phase::Waiting : phase_;
    return;
  }
  if (phase_ == Phase::Connecting && !after_handshake(status)) {
    connect_failed(status);
    return;
  }
  fail_with(TransportCode::SendError, "Send failure: " + os_reason(status));
}

// The handshake failed (seen by a write or a read): the next address.
void NativeProbe::connect_failed(int uv_error) {
  last_connect_error_ = uv_error;
  close_connection();
  connect_next();
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
  if (phase_ == Phase::Connecting) {
    // libuv reads first when the socket reports an error: a refused
    // handshake may show here before the write hears of it.
    if (nread < 0 && nread != UV_EOF && !after_handshake(static_cast<int>(nread))) {
      connect_failed(static_cast<int>(nread));
      return;
    }
    phase_ = Phase::Waiting;
  }
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
      if (!connection_up()) {
        fail_with(TransportCode::OperationTimedOut, "Connection timed out " + after);
        return;
      }
      break;
    case Phase::Waiting:
    case Phase::Done:
      break;
  }
  std::string got = std::to_string(parser_.body_bytes());
  if (auto length = parser_.content_length()) got += " out of " + std::to_string(*length);
  fail_with(TransportCode::OperationTimedOut, "Operation timed out " + after + " with " + got + " bytes received");
}

// Whether the handshake is done though no byte of the request went out yet
// (a request that waits for a server that does not read).
bool NativeProbe::connection_up() const {
  uv_os_fd_t fd = -1;
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  return conn_ != nullptr && uv_fileno(reinterpret_cast<const uv_handle_t*>(&conn_->tcp), &fd) == 0 &&
         getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0;
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
