// Loop-level tests of CurlMultiUv, the glue between libuv and libcurl's
// multi interface: real transfers to a server in the same loop, the loop run
// to completion, and every callback counted.
#include "tests/unit/cmocka_prelude.h"

#include <curl/curl.h>

#include <map>

#include "tests/worker/loop_support.h"
#include "worker/curl_handles.h"
#include "worker/curl_multi_uv.h"

using namespace observer;
using observer::test::HttpServer;
using observer::test::TestLoop;

namespace {

size_t discard(char*, size_t size, size_t nmemb, void*) noexcept { return size * nmemb; }

CurlEasy easy_for(const std::string& url) {
  CurlEasy e(curl_easy_init());
  curl_easy_setopt(e.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(e.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e.get(), CURLOPT_WRITEFUNCTION, &discard);
  curl_easy_setopt(e.get(), CURLOPT_TIMEOUT_MS, 5000L);
  return e;
}

// Transfers to one server, started `batch` at a time, each with its CURLcode.
struct Transfers {
  CurlMultiUv* multi = nullptr;
  std::map<CURL*, CurlEasy> easies;
  std::vector<int> codes;  // in the order the done callback saw them
  size_t done_calls = 0;

  void start(const std::string& url) {
    CurlEasy e = easy_for(url);
    std::string error;
    assert_true(multi->add(e.get(), &error));
    CURL* raw = e.get();
    easies.emplace(raw, std::move(e));
  }
  // The done callback: the easy handle is removed before it is freed.
  void finish(CURL* easy, int code) {
    ++done_calls;
    codes.push_back(code);
    multi->remove(easy);
    easies.erase(easy);
  }
};

void concurrent_transfers_each_call_done_once(void**) {
  constexpr size_t kTransfers = 8;
  TestLoop loop;
  HttpServer server(loop.get());
  assert_int_equal(server.listen(), 0);
  Transfers t;
  CurlMultiUv multi(loop.get(), [&](CURL* easy, int code) {
    t.finish(easy, code);
    if (t.done_calls == kTransfers) {
      multi.close();
      server.close();
    }
  });
  t.multi = &multi;
  std::string error;
  assert_true(multi.init(&error));
  for (size_t i = 0; i < kTransfers; ++i) t.start(server.url("/ok"));

  assert_true(observer::test::run_bounded(loop.get()));
  assert_int_equal(t.done_calls, kTransfers);
  for (int code : t.codes) assert_int_equal(code, CURLE_OK);
  assert_int_equal(server.requests("/ok"), kTransfers);
  assert_int_equal(observer::test::live_handles(loop.get()), 0);
  assert_int_equal(loop.close(), 0);
}

// Each transfer starts from the done callback of the one before: every one
// gets a fresh socket, most often with the number the last one had, whose
// uv_poll was stopped, not closed, and must start again for it.
void sequential_transfers_reuse_the_polls_of_socket_numbers(void**) {
  constexpr size_t kTransfers = 20;
  TestLoop loop;
  HttpServer server(loop.get());
  assert_int_equal(server.listen(), 0);
  Transfers t;
  size_t most_polls = 0;
  CurlMultiUv multi(loop.get(), [&](CURL* easy, int code) {
    t.finish(easy, code);
    most_polls = std::max(most_polls, observer::test::live_handles(loop.get(), UV_POLL));
    if (t.done_calls < kTransfers) {
      t.start(server.url("/ok"));
    } else {
      multi.close();
      server.close();
    }
  });
  t.multi = &multi;
  std::string error;
  assert_true(multi.init(&error));
  t.start(server.url("/ok"));

  assert_true(observer::test::run_bounded(loop.get()));
  assert_int_equal(t.done_calls, kTransfers);
  for (int code : t.codes) assert_int_equal(code, CURLE_OK);
  assert_int_equal(server.requests("/ok"), kTransfers);
  // A poll per socket number, not per connection.
  assert_true(most_polls >= 1);
  assert_true(most_polls < kTransfers / 2);
  assert_int_equal(observer::test::live_handles(loop.get()), 0);
  assert_int_equal(loop.close(), 0);
}

void a_response_cut_short_is_an_error_not_a_hang(void**) {
  TestLoop loop;
  HttpServer server(loop.get());
  assert_int_equal(server.listen(), 0);
  Transfers t;
  CurlMultiUv multi(loop.get(), [&](CURL* easy, int code) {
    t.finish(easy, code);
    if (t.done_calls == 2) {
      multi.close();
      server.close();
    }
  });
  t.multi = &multi;
  std::string error;
  assert_true(multi.init(&error));
  t.start(server.url("/cut"));
  t.start(server.url("/ok"));  // beside it, unharmed

  assert_true(observer::test::run_bounded(loop.get()));
  assert_int_equal(t.done_calls, 2);
  assert_int_equal(server.requests("/cut"), 1);
  int cut = t.codes[0] == CURLE_OK ? t.codes[1] : t.codes[0];
  int ok = t.codes[0] == CURLE_OK ? t.codes[0] : t.codes[1];
  assert_int_equal(cut, CURLE_PARTIAL_FILE);
  assert_int_equal(ok, CURLE_OK);
  assert_int_equal(loop.close(), 0);
}

void a_refused_connection_is_an_error(void**) {
  TestLoop loop;
  // A port that was just free: bound, then closed before the transfer.
  std::string url;
  {
    HttpServer gone(loop.get());
    assert_int_equal(gone.listen(), 0);
    url = gone.url("/ok");
  }
  assert_true(observer::test::run_bounded(loop.get()));
  Transfers t;
  CurlMultiUv multi(loop.get(), [&](CURL* easy, int code) {
    t.finish(easy, code);
    multi.close();
  });
  t.multi = &multi;
  std::string error;
  assert_true(multi.init(&error));
  t.start(url);

  assert_true(observer::test::run_bounded(loop.get()));
  assert_int_equal(t.done_calls, 1);
  assert_int_equal(t.codes[0], CURLE_COULDNT_CONNECT);
  assert_int_equal(loop.close(), 0);
}

// close() with a transfer still running: the owner removes it, and no
// callback runs after close(); every handle is closed once the loop ran.
void close_with_a_transfer_in_flight_leaves_no_handle(void**) {
  TestLoop loop;
  HttpServer server(loop.get());
  assert_int_equal(server.listen(), 0);
  Transfers t;
  CurlMultiUv multi(loop.get(), [&](CURL* easy, int code) { t.finish(easy, code); });
  t.multi = &multi;
  std::string error;
  assert_true(multi.init(&error));
  server.on_request = [&](const std::string&) {
    // The request is here and will never be answered: stop everything.
    for (auto& [easy, e] : t.easies) multi.remove(easy);
    t.easies.clear();
    multi.close();
    server.close();
  };
  t.start(server.url("/hang"));

  assert_true(observer::test::run_bounded(loop.get()));
  assert_int_equal(server.requests("/hang"), 1);
  assert_int_equal(t.done_calls, 0);
  assert_int_equal(observer::test::live_handles(loop.get()), 0);
  assert_int_equal(loop.close(), 0);
}

}  // namespace

int main() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(concurrent_transfers_each_call_done_once),
      cmocka_unit_test(sequential_transfers_reuse_the_polls_of_socket_numbers),
      cmocka_unit_test(a_response_cut_short_is_an_error_not_a_hang),
      cmocka_unit_test(a_refused_connection_is_an_error),
      cmocka_unit_test(close_with_a_transfer_in_flight_leaves_no_handle),
  };
  int failed = cmocka_run_group_tests(tests, nullptr, nullptr);
  curl_global_cleanup();
  return failed;
}
