#include "cmocka_prelude.h"
#include "common/line_writer.h"

#include <fcntl.h>
#include <csignal>
#include <unistd.h>

using namespace observer;
using std::chrono::milliseconds;

namespace {

std::string drain(int fd) {
  std::string out;
  char buf[65536];
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  fcntl(fd, F_SETFL, flags);
  return out;
}

void lines_arrive_whole_and_in_order(void**) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  {
    LineWriter w(p[1], 1 << 20, nullptr);
    for (int i = 0; i < 100; ++i) assert_true(w.write_line("line " + std::to_string(i) + "\n"));
    assert_true(w.flush(milliseconds(2000)));
  }
  std::string out = drain(p[0]);
  std::string expected;
  for (int i = 0; i < 100; ++i) expected += "line " + std::to_string(i) + "\n";
  assert_string_equal(out.c_str(), expected.c_str());
  close(p[0]);
  close(p[1]);
}

// A reader that does not read: the pipe fills, the queue reaches its bound,
// further lines are dropped (never blocking the caller), and once the reader
// drains, one notice reports the count.
void stalled_reader_drops_and_reports_once_drained(void**) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  fcntl(p[1], F_SETPIPE_SZ, 4096);
  std::string line(1000, 'x');
  line += "\n";
  LineWriter w(p[1], 8 * 1024, [](uint64_t n) { return "dropped " + std::to_string(n) + "\n"; });
  int accepted = 0, dropped = 0;
  for (int i = 0; i < 100; ++i) (w.write_line(line) ? accepted : dropped)++;
  assert_true(dropped > 0);
  assert_int_equal(w.dropped_total(), static_cast<uint64_t>(dropped));
  // Read until the writer has flushed everything, including the notice.
  std::string out;
  for (int i = 0; i < 200 && out.find("dropped ") == std::string::npos; ++i) {
    out += drain(p[0]);
    usleep(10000);
  }
  assert_true(w.flush(milliseconds(2000)));
  out += drain(p[0]);
  assert_contains(out, "dropped " + std::to_string(dropped) + "\n");
  size_t whole_lines = 0;
  for (size_t pos = 0; (pos = out.find(line, pos)) != std::string::npos; pos += line.size()) ++whole_lines;
  assert_int_equal(whole_lines, static_cast<size_t>(accepted));
  close(p[0]);
  close(p[1]);
}

void closed_reader_never_blocks(void**) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  close(p[0]);
  LineWriter w(p[1], 1 << 16, nullptr);
  for (int i = 0; i < 10; ++i) w.write_line("gone\n");
  assert_true(w.flush(milliseconds(2000)));
  close(p[1]);
}

}  // namespace

int main() {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lines_arrive_whole_and_in_order),
      cmocka_unit_test(stalled_reader_drops_and_reports_once_drained),
      cmocka_unit_test(closed_reader_never_blocks),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
