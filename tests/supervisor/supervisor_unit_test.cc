// cmocka tests of the supervisor's pure parts: the restart back-off policy,
// the stdout line splitter, the sd_notify messages and addresses, and where
// the worker executable is looked for.
#include "../unit/cmocka_prelude.h"

#include <cstddef>
#include <cstring>

#include "supervisor/backoff.h"
#include "supervisor/line_splitter.h"
#include "supervisor/sd_notify.h"
#include "supervisor/worker_locator.h"

using namespace observer;
using Millis = std::chrono::milliseconds;

namespace {

void backoff_doubles_from_100ms_to_a_30s_cap(void**) {
  RestartBackoff b;
  const long expected[] = {100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000};
  for (long e : expected) assert_int_equal(b.next_delay(Millis(0)).count(), e);
  // Many more failures never overflow past the cap.
  for (int i = 0; i < 200; ++i) assert_int_equal(b.next_delay(Millis(59999)).count(), 30000);
}

void backoff_resets_after_a_healthy_minute(void**) {
  RestartBackoff b;
  b.next_delay(Millis(0));
  b.next_delay(Millis(0));
  assert_int_equal(b.next_delay(Millis(0)).count(), 400);
  assert_int_equal(b.next_delay(Millis(60000)).count(), 100);
  assert_int_equal(b.next_delay(Millis(1000)).count(), 200);
}

std::vector<std::string> split(LineSplitter* s, const std::string& bytes) {
  std::vector<std::string> out;
  s->feed(bytes.data(), bytes.size(), [&](std::string line) { out.push_back(std::move(line)); });
  return out;
}

void splitter_yields_whole_lines_only(void**) {
  LineSplitter s;
  assert_true(split(&s, "2020/04/23 19:43:34 Status co").empty());
  auto lines = split(&s, "de mismatch, got: 500\nsecond\nthi");
  assert_int_equal(lines.size(), 2);
  assert_string_equal(lines[0].c_str(), "2020/04/23 19:43:34 Status code mismatch, got: 500\n");
  assert_string_equal(lines[1].c_str(), "second\n");
  assert_int_equal(s.pending_bytes(), 3);
  lines = split(&s, "rd\n");
  assert_int_equal(lines.size(), 1);
  assert_string_equal(lines[0].c_str(), "third\n");
  std::string partial;
  assert_false(s.take_partial(&partial));
}

void splitter_keeps_bytes_exact(void**) {
  LineSplitter s;
  std::string odd = std::string("a\0b\xff\t\r", 6) + "\n\n";
  auto lines = split(&s, odd);
  assert_int_equal(lines.size(), 2);
  assert_int_equal(lines[0].size(), 7);
  assert_memory_equal(lines[0].data(), odd.data(), 7);
  assert_string_equal(lines[1].c_str(), "\n");
}

void splitter_flushes_a_partial_last_line_at_eof(void**) {
  LineSplitter s;
  split(&s, "no newline yet");
  std::string partial;
  assert_true(s.take_partial(&partial));
  assert_string_equal(partial.c_str(), "no newline yet\n");
  assert_false(s.take_partial(&partial));
}

void splitter_cuts_an_endless_line_at_its_bound(void**) {
  LineSplitter s(8);
  auto lines = split(&s, "12345678");  // exactly the bound: still one line
  assert_true(lines.empty());
  lines = split(&s, "\n");
  assert_int_equal(lines.size(), 1);
  assert_string_equal(lines[0].c_str(), "12345678\n");
  lines = split(&s, "abcdefghijklmnopqrs\nz\n");
  assert_int_equal(lines.size(), 4);
  assert_string_equal(lines[0].c_str(), "abcdefgh\n");
  assert_string_equal(lines[1].c_str(), "ijklmnop\n");
  assert_string_equal(lines[2].c_str(), "qrs\n");
  assert_string_equal(lines[3].c_str(), "z\n");
}

void sd_messages_follow_the_protocol(void**) {
  assert_string_equal(sd_ready_message("Running").c_str(), "READY=1\nSTATUS=Running");
  assert_string_equal(sd_reloading_message(12345678, "Reloading").c_str(),
                      "RELOADING=1\nMONOTONIC_USEC=12345678\nSTATUS=Reloading");
  assert_string_equal(sd_stopping_message("Stopping").c_str(), "STOPPING=1\nSTATUS=Stopping");
  assert_string_equal(sd_watchdog_message().c_str(), "WATCHDOG=1");
  // A status can never inject another assignment.
  assert_string_equal(sd_ready_message("bad\nREADY=0").c_str(), "READY=1\nSTATUS=bad READY=0");
  assert_true(monotonic_usec_now() > 0);
}

void notify_socket_path_and_abstract_names(void**) {
  sockaddr_un addr{};
  socklen_t len = 0;
  std::string err;
  assert_true(parse_notify_socket("/run/systemd/notify", &addr, &len, &err));
  assert_string_equal(addr.sun_path, "/run/systemd/notify");
  assert_int_equal(len, offsetof(sockaddr_un, sun_path) + std::strlen("/run/systemd/notify") + 1);
  assert_true(parse_notify_socket("@sd-notify-1", &addr, &len, &err));
  assert_int_equal(addr.sun_path[0], '\0');
  assert_memory_equal(addr.sun_path + 1, "sd-notify-1", 11);
  assert_int_equal(len, offsetof(sockaddr_un, sun_path) + 12);
  assert_false(parse_notify_socket("relative/path", &addr, &len, &err));
  assert_contains(err, "relative/path");
  assert_false(parse_notify_socket("/" + std::string(200, 'x'), &addr, &len, &err));
}

void watchdog_interval_is_half_and_respects_the_pid(void**) {
  std::chrono::microseconds iv{};
  assert_true(watchdog_ping_interval("3000000", nullptr, 42, &iv));
  assert_int_equal(iv.count(), 1500000);
  assert_true(watchdog_ping_interval("3000000", "42", 42, &iv));
  assert_false(watchdog_ping_interval("3000000", "43", 42, &iv));
  assert_false(watchdog_ping_interval(nullptr, nullptr, 42, &iv));
  assert_false(watchdog_ping_interval("0", nullptr, 42, &iv));
  assert_false(watchdog_ping_interval("abc", nullptr, 42, &iv));
  assert_false(watchdog_ping_interval("-5", nullptr, 42, &iv));
}

void worker_is_looked_for_beside_then_in_libexec(void**) {
  auto c = worker_candidates("/opt/obs/bin/observer");
  assert_int_equal(c.size(), 2);
  assert_string_equal(c[0].c_str(), "/opt/obs/bin/observer-worker");
  assert_contains(c[1], "/opt/obs/bin/");
  assert_contains(c[1], "libexec/observer/observer-worker");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(backoff_doubles_from_100ms_to_a_30s_cap),
      cmocka_unit_test(backoff_resets_after_a_healthy_minute),
      cmocka_unit_test(splitter_yields_whole_lines_only),
      cmocka_unit_test(splitter_keeps_bytes_exact),
      cmocka_unit_test(splitter_flushes_a_partial_last_line_at_eof),
      cmocka_unit_test(splitter_cuts_an_endless_line_at_its_bound),
      cmocka_unit_test(sd_messages_follow_the_protocol),
      cmocka_unit_test(notify_socket_path_and_abstract_names),
      cmocka_unit_test(watchdog_interval_is_half_and_respects_the_pid),
      cmocka_unit_test(worker_is_looked_for_beside_then_in_libexec),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
