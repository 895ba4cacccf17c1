// A loop-level test of Worker, observer-worker's process context, run
// supervised in this process: its loop on a thread of its own, and the
// supervisor's end of the control channel (a socketpair) and the HTTP
// server its target probes in the test's loop. Every control message is
// counted as it arrives.
#include "tests/unit/cmocka_prelude.h"

#include <curl/curl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "tests/worker/loop_support.h"
#include "worker/worker.h"

using namespace observer;
using observer::test::HttpServer;
using observer::test::TestLoop;

namespace {

// The supervisor's end of the channel, in the test's loop.
struct FakeSupervisor {
  uv_pipe_t pipe;
  ControlDecoder decoder;
  char buffer[16 * 1024];
  size_t ready = 0, heartbeats = 0, states = 0, state_ends = 0, eof = 0, others = 0;
  TargetStateRecord record;  // the one the worker handed over
  std::function<void()> on_eof;

  void open(uv_loop_t* loop, int fd) {
    uv_pipe_init(loop, &pipe, 0);
    pipe.data = this;
    assert_int_equal(uv_pipe_open(&pipe, fd), 0);
    auto alloc = [](uv_handle_t* h, size_t, uv_buf_t* buf) {
      auto* self = static_cast<FakeSupervisor*>(h->data);
      *buf = uv_buf_init(self->buffer, sizeof self->buffer);
    };
    auto read = [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
      auto* self = static_cast<FakeSupervisor*>(s->data);
      if (n < 0) {
        ++self->eof;
        if (self->on_eof) self->on_eof();
        return;
      }
      std::string error;
      assert_true(self->decoder.feed(buf->base, static_cast<size_t>(n), &error));
      ControlMessage m;
      while (self->decoder.next(&m)) self->take(m);
    };
    uv_read_start(reinterpret_cast<uv_stream_t*>(&pipe), alloc, read);
  }
  void take(const ControlMessage& m) {
    switch (m.type) {
      case MessageType::Ready:
        ++ready;
        send(control_message(MessageType::StateEnd));  // nothing to inherit
        break;
      case MessageType::Heartbeat: ++heartbeats; break;
      case MessageType::TargetState:
        ++states;
        record = m.state;
        break;
      case MessageType::StateEnd: ++state_ends; break;
      default: ++others; break;
    }
  }
  // `then` runs once the message is written.
  void send(const ControlMessage& m, void (*then)() = nullptr) {
    struct Write {
      uv_write_t req;
      std::string data;
      void (*then)();
    };
    auto* w = new Write{{}, encode_message(m), then};
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&pipe), &buf, 1, [](uv_write_t* req, int status) {
      auto* ww = reinterpret_cast<Write*>(req);
      if (status == 0 && ww->then) ww->then();
      delete ww;
    });
  }
  void close() {
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&pipe))) uv_close(reinterpret_cast<uv_handle_t*>(&pipe), nullptr);
  }
};

// Ready once; the hand-over in (an empty one) lets it serve; probes reach
// the server; a Retire and its SIGTERM make it hand over exactly one record
// per target and one StateEnd, close the channel and exit 0.
void a_supervised_worker_serves_then_hands_over_once(void**) {
  TestLoop loop;
  HttpServer server(loop.get());
  assert_int_equal(server.listen(), 0);
  Config config = observer::test::config_from_ini("tick=100ms\nstatus=200\nshutdown_timeout=5s\n[web]\nurl=" +
                                                  server.url("/ok") + "\n");
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  FakeSupervisor peer;
  peer.open(loop.get(), sv[0]);
  peer.on_eof = [&] {
    peer.close();
    server.close();
  };
  constexpr size_t kProbes = 3;
  server.on_request = [&](const std::string&) {
    if (server.requests() != kProbes) return;
    ControlMessage retire = control_message(MessageType::Retire);
    retire.cut_over_ns = 0;
    // The retirement's SIGTERM follows the Retire, as the supervisor's does.
    peer.send(retire, [] { kill(getpid(), SIGTERM); });
  };

  int exit_code = -1;
  std::string error;
  WorkerOptions options;
  options.supervised = true;
  options.control_fd = sv[1];
  std::thread worker_thread([&] {
    Worker worker(options);
    int code = worker.configure(std::move(config), &error);
    exit_code = code == kExitOk ? worker.run() : code;
  });

  bool ended = observer::test::run_bounded(loop.get());
  if (!ended) peer.close();  // EOF: a worker that hangs aborts and exits
  worker_thread.join();
  close(sv[1]);
  assert_true(ended);
  assert_int_equal(exit_code, kExitOk);
  assert_int_equal(peer.ready, 1);
  assert_int_equal(peer.states, 1);
  assert_string_equal(peer.record.name.c_str(), "web");
  assert_int_equal(static_cast<int>(peer.record.health), static_cast<int>(TargetHealth::Up));
  assert_true(peer.record.probes >= kProbes);
  assert_int_equal(peer.state_ends, 1);
  assert_int_equal(peer.eof, 1);
  assert_int_equal(peer.others, 0);
  assert_true(server.requests("/ok") >= kProbes);
  assert_int_equal(loop.close(), 0);
}

}  // namespace

int main() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_supervised_worker_serves_then_hands_over_once),
  };
  int failed = cmocka_run_group_tests(tests, nullptr, nullptr);
  curl_global_cleanup();
  return failed;
}
