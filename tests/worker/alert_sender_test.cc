// Loop-level tests of alert delivery: AlertSender's requests and the
// Alerter's webhooks and quiesce() against a server in the same loop, the
// loop run to completion and every callback counted.
//
// AlertSender is closed only after its run, never from inside a `done`:
// closing it there frees its CurlMultiUv while that is still draining
// finished transfers (a use after free ASan reports), although
// AlertSender::on_done's comment allows it. Nothing in production does it
// (the Alerter closes from a timer), so the test keeps to what works.
#include "tests/unit/cmocka_prelude.h"

#include <curl/curl.h>

#include "tests/worker/loop_support.h"
#include "worker/alert_sender.h"
#include "worker/alerter.h"

using namespace observer;
using observer::test::HttpServer;
using observer::test::TestLoop;

namespace {

void each_send_is_one_request_and_one_done(void**) {
  constexpr size_t kSends = 5;
  TestLoop loop;
  HttpServer server(loop.get());
  assert_int_equal(server.listen(), 0);
  AlertSender sender(loop.get());
  std::string error;
  assert_true(sender.init(&error));
  size_t done_calls = 0, delivered = 0;
  bool inside_send = false;
  for (size_t i = 0; i < kSends; ++i) {
    AlertRequest r;
    r.url = server.url("/hook");
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = "{\"alert\":1}";
    inside_send = true;
    assert_true(sender.send(std::move(r), [&](const AlertResponse& a) {
      assert_false(inside_send);
      ++done_calls;
      if (a.delivered) ++delivered;
      assert_int_equal(a.status, 200);
      if (done_calls == kSends) server.close();  // the sender is closed after the run: see below
    }, &error));
    inside_send = false;
  }
  assert_int_equal(sender.in_flight(), kSends);

  assert_true(observer::test::run_bounded(loop.get()));
  sender.close();
  assert_true(observer::test::run_bounded(loop.get()));
  assert_int_equal(done_calls, kSends);
  assert_int_equal(delivered, kSends);
  assert_int_equal(server.requests("/hook"), kSends);
  assert_string_equal(server.last_body().c_str(), "{\"alert\":1}");
  assert_int_equal(observer::test::live_handles(loop.get()), 0);
  assert_int_equal(loop.close(), 0);
}

void a_refusal_is_not_delivered_and_says_why(void**) {
  TestLoop loop;
  HttpServer server(loop.get());
  assert_int_equal(server.listen(), 0);
  AlertSender sender(loop.get());
  std::string error;
  assert_true(sender.init(&error));
  size_t done_calls = 0;
  AlertResponse got;
  AlertRequest r;
  r.url = server.url("/status/500");
  assert_true(sender.send(std::move(r), [&](const AlertResponse& a) {
    ++done_calls;
    got = a;
    server.close();
  }, &error));

  assert_true(observer::test::run_bounded(loop.get()));
  sender.close();
  assert_true(observer::test::run_bounded(loop.get()));
  assert_int_equal(done_calls, 1);
  assert_false(got.delivered);
  assert_int_equal(got.status, 500);
  assert_string_equal(got.error.c_str(), "HTTP 500: status 500");
  assert_int_equal(loop.close(), 0);
}

// One alerting target, as the worker wires it to the Alerter.
struct AlertingTarget {
  std::string name = "web";
  std::string url = "http://example.invalid/";
  AlertSettings settings;

  std::vector<Alerter::Subject> subjects() { return {{&name, &url, &settings}}; }
};

// A target gone DOWN is one webhook, delivered once; its marks change once;
// a quiesce with nothing in flight is done at once, once.
void a_down_target_sends_one_webhook(void**) {
  TestLoop loop;
  observer::test::NullLog log;
  HttpServer server(loop.get());
  assert_int_equal(server.listen(), 0);
  AlertingTarget target;
  target.settings.webhook_url = server.url("/hook");
  target.settings.retry_for = std::chrono::minutes(10);
  Alerter alerter(loop.get(), &log.log);
  std::string error;
  assert_true(alerter.init(target.subjects(), &error));
  assert_true(alerter.active());
  size_t marks_changed = 0, quiesced = 0;
  alerter.on_marks_changed([&] {
    ++marks_changed;
    alerter.quiesce(kAlertTimeout.count(), [&] {
      ++quiesced;
      alerter.close();
      server.close();
    });
  });
  alerter.follow(0, TargetHealth::Down, 1000, "Status code mismatch, got: 500");
  alerter.start();

  assert_true(observer::test::run_bounded(loop.get()));
  assert_int_equal(server.requests("/hook"), 1);
  assert_contains(server.last_body(), "Status code mismatch, got: 500");
  assert_int_equal(marks_changed, 1);
  assert_int_equal(quiesced, 1);
  assert_int_equal(observer::test::live_handles(loop.get()), 0);
  assert_int_equal(loop.close(), 0);
}

// A receiver that never answers: quiesce(limit) is done once, after the
// limit, with the request cancelled (the server sees its connection
// closed) and the alert not marked as delivered.
void quiesce_cancels_a_hung_webhook_at_its_limit(void**) {
  TestLoop loop;
  observer::test::NullLog log;
  HttpServer server(loop.get());
  assert_int_equal(server.listen(), 0);
  AlertingTarget target;
  target.settings.webhook_url = server.url("/hang");
  target.settings.retry_for = std::chrono::minutes(10);
  Alerter alerter(loop.get(), &log.log);
  std::string error;
  assert_true(alerter.init(target.subjects(), &error));
  size_t marks_changed = 0, quiesced = 0;
  alerter.on_marks_changed([&] { ++marks_changed; });
  auto close_when_both = [&] {
    if (quiesced != 1 || server.hung_closed() != 1) return;
    alerter.close();
    server.close();
  };
  server.on_request = [&](const std::string&) {
    alerter.quiesce(50, [&] {
      ++quiesced;
      close_when_both();
    });
    assert_int_equal(quiesced, 0);  // never from inside quiesce()
  };
  server.on_hung_closed = close_when_both;
  alerter.follow(0, TargetHealth::Down, 1000, "Connection refused");
  alerter.start();

  assert_true(observer::test::run_bounded(loop.get()));
  assert_int_equal(server.requests("/hang"), 1);
  assert_int_equal(quiesced, 1);
  assert_int_equal(server.hung_closed(), 1);
  assert_int_equal(marks_changed, 0);
  assert_int_equal(observer::test::live_handles(loop.get()), 0);
  assert_int_equal(loop.close(), 0);
}

}  // namespace

int main() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(each_send_is_one_request_and_one_done),
      cmocka_unit_test(a_refusal_is_not_delivered_and_says_why),
      cmocka_unit_test(a_down_target_sends_one_webhook),
      cmocka_unit_test(quiesce_cancels_a_hung_webhook_at_its_limit),
  };
  int failed = cmocka_run_group_tests(tests, nullptr, nullptr);
  curl_global_cleanup();
  return failed;
}
