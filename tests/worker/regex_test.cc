// The PCRE2 wrapper: compile errors, matching, and the match limit.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <cstring>
#include <string>

#include "worker/regex.h"

using namespace observer;

static void compiles_and_searches_anywhere(void**) {
  Regex re;
  std::string err;
  assert_true(Regex::compile("v[0-9]+\\.[0-9]+", &re, &err));
  assert_int_equal(static_cast<int>(re.search("version v1.22 ok", &err)), static_cast<int>(Regex::Match::Yes));
  assert_int_equal(static_cast<int>(re.search("nothing", &err)), static_cast<int>(Regex::Match::No));
}

static void bad_pattern_says_where(void**) {
  Regex re;
  std::string err;
  assert_false(Regex::compile("(unclosed", &re, &err));
  assert_non_null(strstr(err.c_str(), "bad regular expression /(unclosed/"));
  assert_non_null(strstr(err.c_str(), "offset"));
}

static void binary_subject_is_fine(void**) {
  Regex re;
  std::string err;
  assert_true(Regex::compile("end$", &re, &err));
  static const char kBytes[] = "\xff\xfe\0abc end";
  std::string s(kBytes, sizeof kBytes - 1);
  assert_int_equal(static_cast<int>(re.search(s, &err)), static_cast<int>(Regex::Match::Yes));
}

static void catastrophic_backtracking_gives_up(void**) {
  Regex re;
  std::string err;
  assert_true(Regex::compile("^(a+)+$", &re, &err));
  std::string s(40, 'a');
  s += "b";
  assert_int_equal(static_cast<int>(re.search(s, &err)), static_cast<int>(Regex::Match::Error));
  assert_false(err.empty());
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(compiles_and_searches_anywhere),
      cmocka_unit_test(bad_pattern_says_where),
      cmocka_unit_test(binary_subject_is_fine),
      cmocka_unit_test(catastrophic_backtracking_gives_up),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
