#include "cmocka_prelude.h"
#include "common/duration.h"

using observer::Nanos;
using observer::format_duration;
using observer::parse_duration;

namespace {

int64_t parse_ok(const char* text) {
  Nanos d{};
  std::string err;
  if (!parse_duration(text, &d, &err)) fail_msg("\"%s\" rejected: %s", text, err.c_str());
  return d.count();
}

std::string parse_err(const char* text) {
  Nanos d{};
  std::string err;
  if (parse_duration(text, &d, &err)) fail_msg("\"%s\" accepted as %lld ns", text, (long long)d.count());
  return err;
}

void accepts_every_go_unit(void**) {
  assert_int_equal(parse_ok("300ms"), 300000000LL);
  assert_int_equal(parse_ok("30s"), 30000000000LL);
  assert_int_equal(parse_ok("1.5h"), 5400000000000LL);
  assert_int_equal(parse_ok("2h45m"), 9900000000000LL);
  assert_int_equal(parse_ok("1m30s"), 90000000000LL);
  assert_int_equal(parse_ok("10us"), 10000LL);
  assert_int_equal(parse_ok("10\xC2\xB5s"), 10000LL);
  assert_int_equal(parse_ok("10\xCE\xBCs"), 10000LL);
  assert_int_equal(parse_ok("7ns"), 7LL);
  assert_int_equal(parse_ok("+5s"), 5000000000LL);
  assert_int_equal(parse_ok("0"), 0LL);
  assert_int_equal(parse_ok(".5s"), 500000000LL);
  assert_int_equal(parse_ok("1.000000001s"), 1000000001LL);
}

void accepts_the_largest_duration(void**) {
  assert_int_equal(parse_ok("9223372036854775807ns"), INT64_MAX);
  assert_int_equal(parse_ok("2562047h"), 2562047LL * 3600 * 1000000000LL);
}

void rejects_empty_negative_unitless_and_unknown(void**) {
  assert_contains(parse_err(""), "empty");
  assert_contains(parse_err("-1s"), "negative");
  assert_contains(parse_err("5"), "missing unit");
  assert_contains(parse_err("5x"), "unknown unit");
  assert_contains(parse_err("5 s"), "unknown unit");
  assert_contains(parse_err("s"), "expected a number");
  assert_contains(parse_err("1.5.5s"), "unknown unit");
  assert_contains(parse_err("."), "expected a number");
}

void rejects_overflow(void**) {
  assert_contains(parse_err("9223372036854775808ns"), "overflows");
  assert_contains(parse_err("2562048h"), "overflows");
  assert_contains(parse_err("99999999999999999999s"), "overflows");
  assert_contains(parse_err("2562047h2562047h"), "overflows");
}

void formats_like_go(void**) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  assert_string_equal(format_duration(Nanos(0)).c_str(), "0s");
  assert_string_equal(format_duration(milliseconds(300)).c_str(), "300ms");
  assert_string_equal(format_duration(seconds(90)).c_str(), "1m30s");
  assert_string_equal(format_duration(seconds(3600)).c_str(), "1h0m0s");
  assert_string_equal(format_duration(seconds(192)).c_str(), "3m12s");
  assert_string_equal(format_duration(milliseconds(1500)).c_str(), "1.5s");
  assert_string_equal(format_duration(Nanos(1500)).c_str(), "1.5\xC2\xB5s");
  assert_string_equal(format_duration(Nanos(7)).c_str(), "7ns");
}

void format_then_parse_round_trips(void**) {
  for (int64_t n : {int64_t{1}, int64_t{999}, int64_t{1000}, int64_t{123456789}, int64_t{60000000000}, int64_t{9900000000000}, INT64_MAX}) {
    Nanos back{};
    std::string err;
    std::string text = format_duration(Nanos(n));
    assert_true(parse_duration(text, &back, &err));
    assert_int_equal(back.count(), n);
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepts_every_go_unit),
      cmocka_unit_test(accepts_the_largest_duration),
      cmocka_unit_test(rejects_empty_negative_unitless_and_unknown),
      cmocka_unit_test(rejects_overflow),
      cmocka_unit_test(formats_like_go),
      cmocka_unit_test(format_then_parse_round_trips),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
