// Loop-level tests of WorkerProcess, the supervisor's view of one worker:
// the real spawn, stdout pipe and control socketpair, with this test binary
// itself as the worker (run with --fake-worker SCENARIO: a fake peer that
// speaks the control protocol with blocking writes, registered beside the
// test that needs it, as libuv's helper processes are). The loop runs to
// completion and every WorkerEvents callback is counted.
#include "tests/unit/cmocka_prelude.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "supervisor/worker_process.h"
#include "tests/worker/loop_support.h"

extern char** environ;

using namespace observer;
using observer::test::TestLoop;

namespace {

std::string self_path;  // this executable, which is also the fake worker

// ---- the fake worker (its own process) ----

bool write_all(int fd, const std::string& bytes) {
  for (size_t off = 0; off < bytes.size();) {
    ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads the control channel until a message of `type` (true) or EOF.
bool await_message(MessageType type) {
  ControlDecoder decoder;
  char buf[4096];
  std::string error;
  for (;;) {
    ssize_t n = read(kControlFd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || !decoder.feed(buf, static_cast<size_t>(n), &error)) return false;
    ControlMessage m;
    while (decoder.next(&m))
      if (m.type == type) return true;
  }
}

int fake_worker(const std::string& scenario) {
  // Never outlives the test, whatever happens to it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  alarm(30);
  // SIGTERM waits: the scenarios decide when to leave.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, nullptr);
  if (scenario == "handover") {
    // Ready, a heartbeat, its state on the way out, then leaves at the Retire.
    ControlMessage state = control_message(MessageType::TargetState);
    state.state.name = "a";
    state.state.url = "http://a.invalid/";
    state.state.health = TargetHealth::Down;
    write_all(STDOUT_FILENO, "a line from the worker\n");
    if (!write_all(kControlFd, encode_message(control_message(MessageType::Ready)) +
                                   encode_message(control_message(MessageType::Heartbeat)) +
                                   encode_message(state) + encode_message(control_message(MessageType::StateEnd))))
      return 2;
    return await_message(MessageType::Retire) ? 0 : 3;
  }
  if (scenario == "garbage") {
    write_all(kControlFd, std::string("\xff\xff\0\0\0\0\0\0", 8));  // no such type
  } else if (scenario == "deaf") {
    write_all(kControlFd, encode_message(control_message(MessageType::Ready)));
  }
  for (;;) pause();  // until SIGKILL (or the alarm)
}

// ---- the supervisor's side ----

// Counts every callback; `then` says what the test does on each.
struct Events : WorkerEvents {
  size_t ready = 0, states = 0, state_ends = 0, protocol_errors = 0, finished = 0, drained = 0;
  std::string first_state_name;
  std::function<void(WorkerProcess*)> on_ready, on_state_end;

  void on_worker_ready(WorkerProcess* w) override {
    ++ready;
    if (on_ready) on_ready(w);
  }
  void on_worker_state(WorkerProcess* w, const ControlMessage& m) override {
    if (m.type == MessageType::StateEnd) {
      ++state_ends;
      if (on_state_end) on_state_end(w);
      return;
    }
    if (states++ == 0) first_state_name = m.state.name;
  }
  void on_worker_protocol_error(WorkerProcess*, const std::string&) override { ++protocol_errors; }
  void on_worker_finished(WorkerProcess*) override { ++finished; }
  void on_worker_drained(WorkerProcess*) override { ++drained; }
};

// A worker spawned as `scenario` and run to the end of the loop; its stdout
// goes to a pipe the test reads afterwards.
struct Run {
  TestLoop loop;
  observer::test::NullLog log;
  int out[2] = {-1, -1};
  std::unique_ptr<LineWriter> stdout_writer;
  Events events;
  std::unique_ptr<WorkerProcess> worker;

  explicit Run(const std::string& scenario) {
    assert_int_equal(pipe(out), 0);
    stdout_writer = std::make_unique<LineWriter>(out[1], 1 << 16, drop_notice_for(LineOptions()));
    worker = std::make_unique<WorkerProcess>(loop.get(), 1, stdout_writer.get(), &log.log, &events);
    WorkerSpawnSpec spec;
    spec.path = self_path;
    spec.args = {"--fake-worker", scenario};
    for (char** e = environ; *e != nullptr; ++e) spec.env.push_back(*e);
    assert_int_equal(worker->spawn(spec), 0);
  }
  ~Run() {
    close(out[0]);
    close(out[1]);
  }
  // Destroys the WorkerProcess (never from its own callbacks), lets its
  // handles close, and checks that none is left.
  void finish() {
    worker.reset();
    assert_int_equal(observer::test::live_handles(loop.get()), 0);
    assert_int_equal(loop.close(), 0);
  }
  std::string forwarded() {
    stdout_writer->flush(std::chrono::milliseconds(5000));
    char buf[4096];
    ssize_t n = read(out[0], buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
};

// Ready, a heartbeat, a hand-over of one record and StateEnd; retired at
// the StateEnd, the worker exits 0: each callback runs the times it should,
// and its line reaches stdout before its finish.
void a_worker_is_ready_hands_over_and_finishes_once(void**) {
  Run run("handover");
  run.events.on_state_end = [](WorkerProcess* w) {
    w->make_current();
    w->retire(0, std::chrono::seconds(5), 2);
  };

  assert_true(observer::test::run_bounded(run.loop.get()));
  assert_int_equal(run.events.ready, 1);
  assert_int_equal(run.events.states, 1);
  assert_string_equal(run.events.first_state_name.c_str(), "a");
  assert_int_equal(run.events.state_ends, 1);
  assert_int_equal(run.events.protocol_errors, 0);
  assert_int_equal(run.events.finished, 1);
  assert_true(run.events.drained >= 1);  // the Retire was written
  assert_true(run.worker->finished());
  assert_int_equal(run.worker->exit_status(), 0);
  assert_int_equal(run.worker->term_signal(), 0);
  assert_true(run.worker->healthy_for().count() >= 0);
  assert_string_equal(run.forwarded().c_str(), "a line from the worker\n");
  run.finish();
}

// Bytes that are no message end the channel: one protocol error, the
// worker is killed, and it finishes once without ever being ready.
void a_malformed_message_is_one_protocol_error_and_a_kill(void**) {
  Run run("garbage");

  assert_true(observer::test::run_bounded(run.loop.get()));
  assert_int_equal(run.events.ready, 0);
  assert_int_equal(run.events.protocol_errors, 1);
  assert_int_equal(run.events.finished, 1);
  assert_int_equal(run.worker->term_signal(), SIGKILL);
  run.finish();
}

// A worker that ignores its SIGTERM is sent SIGKILL once the grace has
// passed, and finishes once.
void a_sigterm_nobody_answers_becomes_a_sigkill(void**) {
  Run run("deaf");
  run.events.on_ready = [](WorkerProcess* w) { w->terminate(std::chrono::milliseconds(50)); };

  assert_true(observer::test::run_bounded(run.loop.get()));
  assert_int_equal(run.events.ready, 1);
  assert_int_equal(run.events.protocol_errors, 0);
  assert_int_equal(run.events.finished, 1);
  assert_int_equal(run.worker->term_signal(), SIGKILL);
  run.finish();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--fake-worker") return fake_worker(argv[2]);
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  self_path = n > 0 ? std::string(path, static_cast<size_t>(n)) : std::string(argv[0]);
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_worker_is_ready_hands_over_and_finishes_once),
      cmocka_unit_test(a_malformed_message_is_one_protocol_error_and_a_kill),
      cmocka_unit_test(a_sigterm_nobody_answers_becomes_a_sigkill),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
