#include "cmocka_prelude.h"
#include "common/log_format.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

using namespace observer;

namespace {

// 2020-04-23 19:43:34.250 UTC, the seed README's example instant.
LogRecord sample() {
  LogRecord r;
  r.time = std::chrono::system_clock::from_time_t(1587671014) + std::chrono::milliseconds(250);
  r.level = Level::Warning;
  r.target = "api";
  r.msg = "Status code mismatch, got: 200";
  r.fields = {{"got", "200", true}, {"expected", "500", false}};
  return r;
}

int set_utc(void**) {
  setenv("TZ", "UTC", 1);
  tzset();
  return 0;
}

void text_is_the_seeds_format(void**) {
  LogRecord r = sample();
  assert_string_equal(format_line(r, {LineStyle::Text, false}).c_str(),
                      "2020/04/23 19:43:34 Status code mismatch, got: 200\n");
  assert_string_equal(format_line(r, {LineStyle::Text, true}).c_str(),
                      "2020/04/23 19:43:34 [api] Status code mismatch, got: 200\n");
}

void text_uses_local_time(void**) {
  setenv("TZ", "Europe/Berlin", 1);
  tzset();
  std::string line = format_line(sample(), {LineStyle::Text, false});
  setenv("TZ", "UTC", 1);
  tzset();
  assert_string_equal(line.c_str(), "2020/04/23 21:43:34 Status code mismatch, got: 200\n");
}

void journal_has_priority_and_no_time(void**) {
  assert_string_equal(format_line(sample(), {LineStyle::Journal, true}).c_str(),
                      "<4>[api] Status code mismatch, got: 200\n");
  LogRecord r = sample();
  r.level = Level::Error;
  r.target.clear();
  assert_string_equal(format_line(r, {LineStyle::Journal, true}).c_str(), "<3>Status code mismatch, got: 200\n");
}

void logfmt_has_stable_keys_and_quotes_when_needed(void**) {
  assert_string_equal(format_line(sample(), {LineStyle::Logfmt, false}).c_str(),
                      "time=2020-04-23T19:43:34.250Z level=warning target=api "
                      "msg=\"Status code mismatch, got: 200\" got=200 expected=500\n");
}

void json_is_one_object_per_line(void**) {
  assert_string_equal(format_line(sample(), {LineStyle::Json, false}).c_str(),
                      "{\"time\":\"2020-04-23T19:43:34.250Z\",\"level\":\"warning\",\"target\":\"api\","
                      "\"msg\":\"Status code mismatch, got: 200\",\"got\":200,\"expected\":\"500\"}\n");
}

void a_record_is_always_one_line(void**) {
  LogRecord r = sample();
  r.msg = "Server header mismatch, got: evil\nforged line\r";
  r.fields = {{"got", "a\"b\\c\n", false}};
  for (LineStyle style : {LineStyle::Text, LineStyle::Journal, LineStyle::Logfmt, LineStyle::Json}) {
    std::string line = format_line(r, {style, true});
    assert_int_equal(line.find('\n'), line.size() - 1);
    assert_int_equal(line.find('\r'), std::string::npos);
  }
  assert_contains(format_line(r, {LineStyle::Json, false}), "\"got\":\"a\\\"b\\\\c\\n\"");
  assert_contains(format_line(r, {LineStyle::Text, false}), "got: evil\\nforged line\\r");
}

// Issue 13, item 6: a hostile server's bytes that are not UTF-8 (Server:
// \xff\xfe\xc0\xaf) make no invalid JSON or logfmt; valid UTF-8 passes as it
// is; the text format keeps the bytes.
void invalid_utf8_is_replaced_in_json_and_logfmt(void**) {
  LogRecord r = sample();
  r.msg = "Server header mismatch, got: \xff\xfe\xc0\xaf";
  r.fields = {{"got", "\xff\xfe\xc0\xaf", false},
              {"reason", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\xa0\x80 \xe0\x80\xaf \xf4\x90\x80\x80 \xc3", false}};
  std::string json = format_line(r, {LineStyle::Json, false});
  assert_contains(json, "\"got\":\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
  assert_contains(json, "\"msg\":\"Server header mismatch, got: \\ufffd\\ufffd\\ufffd\\ufffd\"");
  // Kept: é, €, an emoji. Replaced byte by byte: a surrogate (ED A0 80), an
  // overlong '/' (E0 80 AF), past U+10FFFF (F4 90 80 80), a cut sequence.
  assert_contains(json, "\"reason\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \\ufffd\\ufffd\\ufffd "
                        "\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd\\ufffd \\ufffd\"");
  std::string logfmt = format_line(r, {LineStyle::Logfmt, false});
  assert_contains(logfmt, " got=\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
  for (const std::string& line : {json, logfmt})
    for (unsigned char c : line)
      if (c == 0xff || c == 0xfe || c == 0xc0 || c == 0xaf) fail_msg("raw invalid byte in %s", line.c_str());
  LogRecord ok = sample();
  ok.fields = {{"got", "caf\xc3\xa9", false}};
  assert_contains(format_line(ok, {LineStyle::Logfmt, false}), " got=caf\xc3\xa9\n");
  assert_contains(format_line(r, {LineStyle::Text, false}), "got: \xff\xfe\xc0\xaf\n");
}

void journal_style_only_when_stream_is_stdout(void**) {
  char tmpl[] = "/tmp/observer-journal-XXXXXX";
  int fd = mkstemp(tmpl);
  assert_true(fd >= 0);
  struct stat st {};
  assert_int_equal(fstat(fd, &st), 0);
  std::string match = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
  assert_int_equal(static_cast<int>(choose_line_style(LogFormat::Text, fd, match.c_str())),
                   static_cast<int>(LineStyle::Journal));
  assert_int_equal(static_cast<int>(choose_line_style(LogFormat::Text, fd, other.c_str())),
                   static_cast<int>(LineStyle::Text));
  assert_int_equal(static_cast<int>(choose_line_style(LogFormat::Text, fd, nullptr)),
                   static_cast<int>(LineStyle::Text));
  assert_int_equal(static_cast<int>(choose_line_style(LogFormat::Json, fd, match.c_str())),
                   static_cast<int>(LineStyle::Json));
  close(fd);
  unlink(tmpl);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(text_is_the_seeds_format),
      cmocka_unit_test(text_uses_local_time),
      cmocka_unit_test(journal_has_priority_and_no_time),
      cmocka_unit_test(logfmt_has_stable_keys_and_quotes_when_needed),
      cmocka_unit_test(json_is_one_object_per_line),
      cmocka_unit_test(a_record_is_always_one_line),
      cmocka_unit_test(invalid_utf8_is_replaced_in_json_and_logfmt),
      cmocka_unit_test(journal_style_only_when_stream_is_stdout),
  };
  return cmocka_run_group_tests(tests, set_utc, nullptr);
}
