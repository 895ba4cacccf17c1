// The resolver's cache: a name found is kept for the cache time and asked
// again after it; an answer from the cache still comes through the loop.
// Only "localhost" is looked up (the machine's own hosts file).
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <uv.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "resolver.h"

using namespace observer;

namespace {

struct Answers : Resolver::Client {
  int count = 0;
  size_t addresses = 0;
  std::string error;
  void on_resolved(std::vector<sockaddr_storage> a, const std::string& e) override {
    ++count;
    addresses = a.size();
    error = e;
  }
};

// Runs the loop until `a` has `want` answers, for 5 s at most. (The
// resolver's async handle is unreferenced: a timer keeps the loop alive, as
// the worker's own handles do.)
void run_until(uv_loop_t* loop, const Answers& a, int want) {
  for (int i = 0; i < 5000 && a.count < want; ++i) {
    uv_run(loop, UV_RUN_NOWAIT);
    if (a.count < want) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

static void a_name_found_is_kept_for_the_cache_time(void**) {
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_t alive;
  assert_int_equal(uv_timer_init(&loop, &alive), 0);
  assert_int_equal(uv_timer_start(&alive, [](uv_timer_t*) {}, 1000, 1000), 0);
  {
    Resolver r(&loop, std::chrono::milliseconds(300));
    std::string error;
    assert_true(r.init(&error));
    Answers a;
    r.lookup("localhost", 80, IpVersion::V4, &a);
    assert_int_equal(a.count, 0);  // never from inside lookup()
    run_until(&loop, a, 1);
    assert_int_equal(a.count, 1);
    assert_true(a.addresses > 0);
    assert_int_equal(r.lookups_started(), 1);

    // From the cache: no second getaddrinfo, and still through the loop.
    r.lookup("localhost", 80, IpVersion::V4, &a);
    assert_int_equal(a.count, 1);
    run_until(&loop, a, 2);
    assert_int_equal(a.count, 2);
    assert_true(a.addresses > 0);
    assert_int_equal(r.lookups_started(), 1);

    // Another port or family is another entry.
    r.lookup("localhost", 81, IpVersion::V4, &a);
    run_until(&loop, a, 3);
    assert_int_equal(r.lookups_started(), 2);

    // Once the time is up, asked again.
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    r.lookup("localhost", 80, IpVersion::V4, &a);
    run_until(&loop, a, 4);
    assert_int_equal(a.count, 4);
    assert_int_equal(r.lookups_started(), 3);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&alive), nullptr);
  uv_run(&loop, UV_RUN_NOWAIT);  // the close callbacks
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_name_found_is_kept_for_the_cache_time),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
