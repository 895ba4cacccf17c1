#include "cmocka_prelude.h"
#include "common/status_spec.h"

using observer::StatusSpec;

namespace {

StatusSpec parse_ok(const char* text) {
  StatusSpec s;
  std::string err;
  if (!StatusSpec::parse(text, &s, &err)) fail_msg("\"%s\" rejected: %s", text, err.c_str());
  return s;
}

void single_code_matches_only_itself(void**) {
  StatusSpec s = parse_ok("200");
  assert_true(s.matches(200));
  assert_false(s.matches(201));
  assert_false(s.matches(500));
}

void list_matches_each_member(void**) {
  StatusSpec s = parse_ok("200,204, 301");
  assert_true(s.matches(200));
  assert_true(s.matches(204));
  assert_true(s.matches(301));
  assert_false(s.matches(202));
  assert_string_equal(s.text().c_str(), "200,204,301");
}

void range_is_inclusive(void**) {
  StatusSpec s = parse_ok("200-299");
  assert_true(s.matches(200));
  assert_true(s.matches(299));
  assert_false(s.matches(199));
  assert_false(s.matches(300));
}

void class_covers_its_hundred(void**) {
  StatusSpec s = parse_ok("2xx");
  assert_true(s.matches(200));
  assert_true(s.matches(299));
  assert_false(s.matches(300));
  StatusSpec m = parse_ok("2xx,404,500-503");
  assert_true(m.matches(404));
  assert_true(m.matches(502));
  assert_false(m.matches(504));
}

void rejects_malformed_specs(void**) {
  for (const char* bad : {"", "20", "2000", "600", "099", "abc", "2xx,", ",200", "299-200", "6xx", "2x", "200-", "-200"}) {
    StatusSpec s;
    std::string err;
    if (StatusSpec::parse(bad, &s, &err)) fail_msg("\"%s\" accepted", bad);
    assert_contains(err, "invalid status");
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(single_code_matches_only_itself),
      cmocka_unit_test(list_matches_each_member),
      cmocka_unit_test(range_is_inclusive),
      cmocka_unit_test(class_covers_its_hundred),
      cmocka_unit_test(rejects_malformed_specs),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
