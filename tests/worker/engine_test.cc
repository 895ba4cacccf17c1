// Loop-level tests of the Engine: real targets on a server in the same loop
// with short ticks, the loop run to completion, and the probes counted at
// the server and in the engine, the life-cycle callbacks (on_idle,
// on_change) counted, and every handle closed at the end.
#include "tests/unit/cmocka_prelude.h"

#include <curl/curl.h>

#include <algorithm>
#include <map>

#include "tests/worker/loop_support.h"
#include "worker/engine.h"

using namespace observer;
using observer::test::HttpServer;
using observer::test::TestLoop;

namespace {

const TargetCounters& counters_of(const Engine& e, size_t i) { return *e.target_views()[i].counters; }

// Targets `paths` on `server`, as [section]s named after them ("/status/500":
// "status_500"), sharing `keys`.
std::vector<TargetConfig> targets(const HttpServer& server, const std::vector<std::string>& paths,
                                  const std::string& keys) {
  std::string ini = keys;
  for (const std::string& p : paths) {
    std::string name = p.substr(1);
    std::replace(name.begin(), name.end(), '/', '_');
    ini += "\n[" + name + "]\nurl=" + server.url(p) + "\n";
  }
  return observer::test::config_from_ini(ini).targets;
}

// Target /a is retired the moment the server has its K-th request, so it
// was probed exactly K times; /b, on the same tick, as often as its slots
// came by then. Every probe started ends before on_idle, which runs once.
void retire_after_k_probes_counts_them_exactly_and_goes_idle_once(void**) {
  constexpr size_t kProbes = 6;
  TestLoop loop;
  observer::test::NullLog log;
  HttpServer server(loop.get());
  assert_int_equal(server.listen(), 0);
  Engine engine(loop.get(), &log.log);
  std::string error;
  assert_int_equal(static_cast<int>(engine.load(targets(server, {"/a", "/b"}, "tick=100ms\nstatus=200\n"), 16, &error)),
                   static_cast<int>(Engine::LoadStatus::Ok));
  size_t idle_calls = 0;
  server.on_request = [&](const std::string& path) {
    if (path == "/a" && server.requests("/a") == kProbes)
      engine.retire([&] {
        ++idle_calls;
        assert_int_equal(engine.in_flight(), 0);
        engine.close();
        server.close();
      });
  };
  engine.end_handover();
  assert_true(engine.start(&error));

  assert_true(observer::test::run_bounded(loop.get()));
  assert_int_equal(idle_calls, 1);
  const TargetCounters& a = counters_of(engine, 0);
  const TargetCounters& b = counters_of(engine, 1);
  assert_int_equal(server.requests("/a"), kProbes);
  assert_int_equal(a.success + a.failure, kProbes);
  // What b's probes found is what the server saw: a success was answered,
  // and no request came that the engine did not count.
  assert_true(b.success >= 1);
  assert_true(server.requests("/b") >= b.success);
  assert_true(server.requests("/b") <= b.success + b.failure);
  assert_int_equal(server.requests(), server.requests("/a") + server.requests("/b"));
  assert_int_equal(observer::test::live_handles(loop.get()), 0);
  assert_int_equal(loop.close(), 0);
}

// A probe the server never answers is ended by abort(): the connection is
// closed (the server sees it), no result is recorded, on_idle runs once.
void abort_ends_a_hung_probe_and_close_leaves_no_handle(void**) {
  TestLoop loop;
  observer::test::NullLog log;
  HttpServer server(loop.get());
  assert_int_equal(server.listen(), 0);
  Engine engine(loop.get(), &log.log);
  std::string error;
  // A long timeout (at most the tick): the probe is still running whenever
  // abort() comes, however loaded the machine.
  assert_int_equal(static_cast<int>(engine.load(targets(server, {"/hang"}, "tick=500ms\ntimeout=500ms\n"), 16, &error)),
                   static_cast<int>(Engine::LoadStatus::Ok));
  size_t idle_calls = 0;
  size_t in_flight_at_abort = 0;
  // Closed once both happened: idle, and the connection closed by curl (a
  // probe given up but left on the multi handle would keep it open).
  auto close_when_both = [&] {
    if (idle_calls != 1 || server.hung_closed() != 1) return;
    engine.close();
    server.close();
  };
  server.on_request = [&](const std::string&) {
    engine.retire([&] {
      ++idle_calls;
      close_when_both();
    });
    assert_int_equal(idle_calls, 0);  // never from inside retire()
    in_flight_at_abort = engine.in_flight();
    engine.abort();
    assert_int_equal(engine.in_flight(), 0);
  };
  server.on_hung_closed = close_when_both;
  engine.end_handover();
  assert_true(engine.start(&error));

  assert_true(observer::test::run_bounded(loop.get()));
  assert_int_equal(server.requests("/hang"), 1);
  assert_int_equal(in_flight_at_abort, 1);
  assert_int_equal(server.hung_closed(), 1);
  assert_int_equal(idle_calls, 1);
  const TargetCounters& c = counters_of(engine, 0);
  assert_int_equal(c.success + c.failure, 0);
  assert_int_equal(observer::test::live_handles(loop.get()), 0);
  assert_int_equal(loop.close(), 0);
}

// A retirement before start(): nothing is ever probed, on_idle runs once.
void retire_before_start_goes_idle_without_a_probe(void**) {
  TestLoop loop;
  observer::test::NullLog log;
  HttpServer server(loop.get());
  assert_int_equal(server.listen(), 0);
  Engine engine(loop.get(), &log.log);
  std::string error;
  assert_int_equal(static_cast<int>(engine.load(targets(server, {"/a"}, "tick=10ms\n"), 16, &error)),
                   static_cast<int>(Engine::LoadStatus::Ok));
  size_t idle_calls = 0;
  engine.retire([&] {
    ++idle_calls;
    engine.close();
    server.close();
  });
  assert_true(engine.start(&error));

  assert_true(observer::test::run_bounded(loop.get()));
  assert_int_equal(idle_calls, 1);
  assert_int_equal(server.requests(), 0);
  assert_int_equal(loop.close(), 0);
}

TargetStateRecord record(const std::string& name, const std::string& url, TargetHealth health) {
  TargetStateRecord r;
  r.name = name;
  r.url = url;
  r.health = health;
  r.since_unix_ms = 1000;
  r.consecutive_failures = health == TargetHealth::Down ? 3 : 0;
  r.last_reason = health == TargetHealth::Down ? "inherited" : "";
  return r;
}

// While transitions are held nothing changes; end_handover() replays what
// was probed onto the inherited (or fresh) state and reports exactly the
// changes that replay makes: "up" was DOWN and answers (one change, to UP),
// "down" was DOWN and still fails (none), "fresh" inherited nothing and
// fails (one, to DOWN).
void handover_replay_reports_exactly_the_changes_it_makes(void**) {
  TestLoop loop;
  observer::test::NullLog log;
  HttpServer server(loop.get());
  assert_int_equal(server.listen(), 0);
  Engine engine(loop.get(), &log.log);
  std::string error;
  std::vector<TargetConfig> ts =
      // A tick (and so a timeout) long enough that "/up" answers in time on
      // a loaded machine: a timed-out first probe keeps it DOWN (seen in CI).
      targets(server, {"/up", "/status/500", "/status/503"}, "tick=400ms\nstatus=200\nfailure_threshold=1\n");
  ts[1].name = "down";
  ts[2].name = "fresh";
  const std::string up_url = ts[0].url, down_url = ts[1].url;
  assert_int_equal(static_cast<int>(engine.load(std::move(ts), 16, &error)), static_cast<int>(Engine::LoadStatus::Ok));
  std::map<size_t, std::vector<TargetHealth>> changes;
  engine.on_change([&](size_t i, const TargetState& s) { changes[i].push_back(s.health()); });

  engine.hold_transitions();
  std::optional<size_t> taken = engine.inherit(record("up", up_url, TargetHealth::Down));
  assert_true(taken.has_value());
  assert_int_equal(*taken, 0);
  taken = engine.inherit(record("down", down_url, TargetHealth::Down));
  assert_true(taken.has_value());
  assert_int_equal(*taken, 1);
  assert_false(engine.inherit(record("up", up_url, TargetHealth::Up)).has_value());  // a second one
  assert_false(engine.inherit(record("gone", up_url, TargetHealth::Up)).has_value());  // no such target
  assert_false(engine.inherit(record("up", down_url, TargetHealth::Up)).has_value());  // its url changed

  // Polled from the loop: ends the hand-over once every target has a result.
  size_t changes_while_held = SIZE_MAX;
  size_t idle_calls = 0;
  uv_timer_t poll;
  uv_timer_init(loop.get(), &poll);
  struct Ctx {
    std::function<void()> check;
  } ctx;
  poll.data = &ctx;
  ctx.check = [&] {
    for (size_t i = 0; i < 3; ++i)
      if (counters_of(engine, i).success + counters_of(engine, i).failure == 0) return;
    uv_timer_stop(&poll);
    changes_while_held = changes.size();
    engine.end_handover();
    engine.retire([&] {
      ++idle_calls;
      engine.close();
      server.close();
      uv_close(reinterpret_cast<uv_handle_t*>(&poll), nullptr);
    });
  };
  uv_timer_start(&poll, [](uv_timer_t* t) { static_cast<Ctx*>(t->data)->check(); }, 5, 5);
  assert_true(engine.start(&error));

  assert_true(observer::test::run_bounded(loop.get()));
  assert_int_equal(changes_while_held, 0);
  assert_int_equal(idle_calls, 1);
  assert_int_equal(changes.size(), 2);
  assert_int_equal(changes[0].size(), 1);
  assert_int_equal(static_cast<int>(changes[0][0]), static_cast<int>(TargetHealth::Up));
  assert_int_equal(changes.count(1), 0);
  assert_int_equal(changes[2].size(), 1);
  assert_int_equal(static_cast<int>(changes[2][0]), static_cast<int>(TargetHealth::Down));
  assert_int_equal(static_cast<int>(engine.state_of(1).health()), static_cast<int>(TargetHealth::Down));
  assert_int_equal(observer::test::live_handles(loop.get()), 0);
  assert_int_equal(loop.close(), 0);
}

}  // namespace

int main() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(retire_after_k_probes_counts_them_exactly_and_goes_idle_once),
      cmocka_unit_test(abort_ends_a_hung_probe_and_close_leaves_no_handle),
      cmocka_unit_test(retire_before_start_goes_idle_without_a_probe),
      cmocka_unit_test(handover_replay_reports_exactly_the_changes_it_makes),
  };
  int failed = cmocka_run_group_tests(tests, nullptr, nullptr);
  curl_global_cleanup();
  return failed;
}
