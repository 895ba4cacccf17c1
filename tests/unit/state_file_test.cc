#include "cmocka_prelude.h"
#include "common/state_file.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

using namespace observer;

namespace {

// Each test gets its own mkdtemp directory, removed with all it holds.
struct TestDir {
  std::string dir;
  std::string state() const { return dir + "/state"; }
};

int make_test_dir(void** state) {
  char tmpl[] = "/tmp/observer-state-file-test-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return -1;
  *state = new TestDir{tmpl};
  return 0;
}

int remove_test_dir(void** state) {
  auto* t = static_cast<TestDir*>(*state);
  chmod(t->dir.c_str(), 0700);
  std::error_code ec;
  std::filesystem::remove_all(t->dir, ec);
  delete t;
  return 0;
}

const TestDir& test_dir(void** state) { return *static_cast<TestDir*>(*state); }

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream all;
  all << in.rdbuf();
  return all.str();
}

void put_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail_msg("cannot write %s", path.c_str());
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// Every byte value, NULs included, in an order that is not a pattern.
std::string binary_bytes(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 12345;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// A valid file holding a small payload with a NUL, as its bytes.
std::string small_valid_file(const std::string& path) {
  std::string err;
  assert_true(write_state_file(path, std::string_view("up\0down", 7), &err));
  return file_bytes(path);
}

// Reads `path`, which must be Invalid for `reason`; no payload comes back.
void assert_invalid(const std::string& path, const std::string& reason) {
  std::string payload = "left over", why;
  assert_int_equal(static_cast<int>(read_state_file(path, &payload, &why)), static_cast<int>(StateFileRead::Invalid));
  assert_true(payload.empty());
  assert_contains(why, "state_file " + path + ": ");
  assert_contains(why, reason);
  assert_true(why.find('\n') == std::string::npos);
}

void payloads_round_trip_byte_for_byte(void** state) {
  const std::string path = test_dir(state).state();
  for (const std::string& payload : {std::string(), std::string("\0", 1), binary_bytes(5 * 1024 * 1024 + 3)}) {
    std::string err, back = "stale", why;
    assert_true(write_state_file(path, payload, &err));
    assert_int_equal(static_cast<int>(read_state_file(path, &back, &why)), static_cast<int>(StateFileRead::Loaded));
    assert_int_equal(back.size(), payload.size());
    assert_true(back == payload);
  }
  struct stat st {};
  assert_int_equal(stat(path.c_str(), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
}

void overwrite_keeps_only_the_new_content_and_no_temp_file(void** state) {
  const TestDir& t = test_dir(state);
  std::string err, back, why;
  assert_true(write_state_file(t.state(), binary_bytes(100000), &err));
  assert_true(write_state_file(t.state(), "new", &err));
  assert_int_equal(static_cast<int>(read_state_file(t.state(), &back, &why)), static_cast<int>(StateFileRead::Loaded));
  assert_string_equal(back.c_str(), "new");
  assert_true(names_in(t.dir) == std::vector<std::string>{"state"});
}

// A temp file of our pid left by a crash does not block the next write.
void leftover_temp_file_of_our_pid_is_replaced(void** state) {
  const TestDir& t = test_dir(state);
  put_file(t.state() + ".tmp." + std::to_string(getpid()), "half a write");
  std::string err, back, why;
  assert_true(write_state_file(t.state(), "whole", &err));
  assert_int_equal(static_cast<int>(read_state_file(t.state(), &back, &why)), static_cast<int>(StateFileRead::Loaded));
  assert_string_equal(back.c_str(), "whole");
  assert_true(names_in(t.dir) == std::vector<std::string>{"state"});
}

void missing_file_is_a_first_start(void** state) {
  std::string payload = "left over", why;
  assert_int_equal(static_cast<int>(read_state_file(test_dir(state).dir + "/none", &payload, &why)),
                   static_cast<int>(StateFileRead::Missing));
  assert_true(payload.empty());
  assert_true(why.empty());
}

void every_truncation_is_invalid(void** state) {
  const std::string path = test_dir(state).state();
  const std::string whole = small_valid_file(path);
  for (size_t n = 0; n < whole.size(); ++n) {
    put_file(path, whole.substr(0, n));
    assert_invalid(path, "truncated");
  }
}

void flipped_bit_anywhere_is_invalid(void** state) {
  const std::string path = test_dir(state).state();
  const std::string whole = small_valid_file(path);
  const size_t header = std::string("observer-state 1\n").size();
  // The name, the version, the length's low and high bytes, the payload, the checksum.
  for (size_t pos : {size_t{0}, size_t{8}, header - 2, header, header + 7, header + 8, header + 11, whole.size() - 1}) {
    for (int bit : {0, 3, 7}) {
      std::string bad = whole;
      bad[pos] = static_cast<char>(bad[pos] ^ (1 << bit));
      put_file(path, bad);
      std::string payload, why;
      assert_int_equal(static_cast<int>(read_state_file(path, &payload, &why)),
                       static_cast<int>(StateFileRead::Invalid));
      assert_true(payload.empty());
      if (pos >= header + 8) assert_contains(why, "checksum mismatch");
    }
  }
}

void garbage_is_invalid(void** state) {
  const std::string path = test_dir(state).state();
  put_file(path, binary_bytes(4096));
  assert_invalid(path, "not an observer state file");
}

void file_of_another_format_is_invalid(void** state) {
  const std::string path = test_dir(state).state();
  put_file(path, "status=500\ntick=30s\nurl=https://ieftimov.com\n");
  assert_invalid(path, "not an observer state file");
  put_file(path, "observer-state one\n");
  assert_invalid(path, "malformed header line");
}

void other_version_is_invalid(void** state) {
  const std::string path = test_dir(state).state();
  std::string other = small_valid_file(path);
  other[std::string("observer-state ").size()] = '2';
  put_file(path, other);
  assert_invalid(path, "format version 2, this observer reads version 1");
}

void trailing_bytes_are_invalid(void** state) {
  const std::string path = test_dir(state).state();
  put_file(path, small_valid_file(path) + "x");
  assert_invalid(path, "1 trailing bytes after the checksum");
}

void directory_at_the_path_is_invalid_and_not_written_over(void** state) {
  const TestDir& t = test_dir(state);
  assert_int_equal(mkdir(t.state().c_str(), 0700), 0);
  assert_invalid(t.state(), "is a directory");
  std::string err;
  assert_false(write_state_file(t.state(), "x", &err));
  assert_contains(err, "state_file " + t.state() + ": rename ");
  assert_true(names_in(t.dir) == std::vector<std::string>{"state"});
}

// A sparse file: refused from its size, before any byte is read.
void file_over_the_limit_is_refused_before_reading(void** state) {
  const std::string path = test_dir(state).state();
  put_file(path, "");
  assert_int_equal(truncate(path.c_str(), static_cast<off_t>(kStateFileMaxBytes + 1)), 0);
  assert_invalid(path, "larger than the 256 MiB limit");
}

void write_into_a_missing_directory_fails_and_creates_nothing(void** state) {
  const TestDir& t = test_dir(state);
  const std::string path = t.dir + "/absent/state";
  std::string err;
  assert_false(write_state_file(path, "x", &err));
  assert_contains(err, "state_file " + path + ": create " + path + ".tmp.");
  assert_contains(err, "No such file or directory");
  assert_true(names_in(t.dir).empty());
}

// A write that fails halfway (here: over RLIMIT_FSIZE, as a full disk would)
// leaves the old file as it was and no temp file.
void failed_write_keeps_the_old_file(void** state) {
  const TestDir& t = test_dir(state);
  std::string err;
  assert_true(write_state_file(t.state(), "old", &err));
  struct rlimit saved {};
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct sigaction ignore {}, was {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGXFSZ, &ignore, &was);
  struct rlimit small = saved;
  small.rlim_cur = 4096;
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
  bool written = write_state_file(t.state(), binary_bytes(64 * 1024), &err);
  setrlimit(RLIMIT_FSIZE, &saved);
  sigaction(SIGXFSZ, &was, nullptr);
  assert_false(written);
  assert_contains(err, "state_file " + t.state() + ": write " + t.state() + ".tmp.");
  assert_contains(err, "File too large");
  std::string back, why;
  assert_int_equal(static_cast<int>(read_state_file(t.state(), &back, &why)), static_cast<int>(StateFileRead::Loaded));
  assert_string_equal(back.c_str(), "old");
  assert_true(names_in(t.dir) == std::vector<std::string>{"state"});
}

// Permissions bind everyone but root (CAP_DAC_OVERRIDE), so the two tests
// below are skipped when the suite runs as root.
void write_into_a_read_only_directory_fails_and_keeps_the_old_file(void** state) {
  if (geteuid() == 0) skip();
  const TestDir& t = test_dir(state);
  std::string err;
  assert_true(write_state_file(t.state(), "old", &err));
  assert_int_equal(chmod(t.dir.c_str(), 0500), 0);
  assert_false(write_state_file(t.state(), "new", &err));
  chmod(t.dir.c_str(), 0700);
  assert_contains(err, "Permission denied");
  std::string back, why;
  assert_int_equal(static_cast<int>(read_state_file(t.state(), &back, &why)), static_cast<int>(StateFileRead::Loaded));
  assert_string_equal(back.c_str(), "old");
}

void unreadable_file_is_invalid(void** state) {
  if (geteuid() == 0) skip();
  const std::string path = test_dir(state).state();
  small_valid_file(path);
  assert_int_equal(chmod(path.c_str(), 0000), 0);
  assert_invalid(path, "open: Permission denied");
}

}  // namespace

int main() {
#define STATE_FILE_TEST(f) cmocka_unit_test_setup_teardown(f, make_test_dir, remove_test_dir)
  const struct CMUnitTest tests[] = {
      STATE_FILE_TEST(payloads_round_trip_byte_for_byte),
      STATE_FILE_TEST(overwrite_keeps_only_the_new_content_and_no_temp_file),
      STATE_FILE_TEST(leftover_temp_file_of_our_pid_is_replaced),
      STATE_FILE_TEST(missing_file_is_a_first_start),
      STATE_FILE_TEST(every_truncation_is_invalid),
      STATE_FILE_TEST(flipped_bit_anywhere_is_invalid),
      STATE_FILE_TEST(garbage_is_invalid),
      STATE_FILE_TEST(file_of_another_format_is_invalid),
      STATE_FILE_TEST(other_version_is_invalid),
      STATE_FILE_TEST(trailing_bytes_are_invalid),
      STATE_FILE_TEST(directory_at_the_path_is_invalid_and_not_written_over),
      STATE_FILE_TEST(file_over_the_limit_is_refused_before_reading),
      STATE_FILE_TEST(write_into_a_missing_directory_fails_and_creates_nothing),
      STATE_FILE_TEST(failed_write_keeps_the_old_file),
      STATE_FILE_TEST(write_into_a_read_only_directory_fails_and_keeps_the_old_file),
      STATE_FILE_TEST(unreadable_file_is_invalid),
  };
#undef STATE_FILE_TEST
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
