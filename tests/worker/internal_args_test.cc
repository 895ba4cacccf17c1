// The supervisor's internal arguments and the choice of line style.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <string>
#include <vector>

#include "worker/worker.h"

using namespace observer;

static void internal_args_are_stripped(void**) {
  std::vector<std::string> args = {"--supervised=1234", "--journal", "--cut-over", "-url=http://x/", "--journal"};
  WorkerOptions o;
  std::string err;
  assert_true(take_internal_args(&args, &o, &err));
  assert_true(o.supervised);
  assert_int_equal(o.supervisor_pid, 1234);
  assert_true(o.journal);
  assert_true(o.cut_over);
  // Only the leading ones: the user's own arguments are left alone.
  assert_int_equal(args.size(), 2);
  assert_string_equal(args[0].c_str(), "-url=http://x/");
}

static void standalone_has_none(void**) {
  std::vector<std::string> args = {"-url=http://x/"};
  WorkerOptions o;
  std::string err;
  assert_true(take_internal_args(&args, &o, &err));
  assert_false(o.supervised);
  assert_false(o.cut_over);
  assert_int_equal(args.size(), 1);
}

static void bad_pid_is_refused(void**) {
  for (const char* bad : {"--supervised=", "--supervised=abc", "--supervised=-5", "--supervised=12x"}) {
    std::vector<std::string> args = {bad};
    WorkerOptions o;
    std::string err;
    assert_false(take_internal_args(&args, &o, &err));
  }
}

static void journal_style_applies_to_text_only(void**) {
  Config c;
  c.targets.resize(2);
  WorkerOptions o;
  o.supervised = true;
  o.journal = true;
  c.global.log_format = LogFormat::Text;
  assert_true(line_options_for(c, o).style == LineStyle::Journal);
  assert_true(line_options_for(c, o).name_target);
  c.global.log_format = LogFormat::Json;
  assert_true(line_options_for(c, o).style == LineStyle::Json);
  o.journal = false;
  c.global.log_format = LogFormat::Text;
  c.targets.resize(1);
  assert_true(line_options_for(c, o).style == LineStyle::Text);
  assert_false(line_options_for(c, o).name_target);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(internal_args_are_stripped),
      cmocka_unit_test(standalone_has_none),
      cmocka_unit_test(bad_pid_is_refused),
      cmocka_unit_test(journal_style_applies_to_text_only),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
