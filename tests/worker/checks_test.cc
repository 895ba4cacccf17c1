// Checks against synthetic probe results, in the seed's words.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <cstring>
#include <string>
#include <vector>

#include "worker/checks.h"
#include "common/config.h"
#include "worker/probe.h"

using namespace observer;

static TargetChecks load(std::vector<std::string> args) {
  args.insert(args.begin(), "-url=http://127.0.0.1:1/");
  Invocation inv;
  std::string err;
  if (!load_invocation(args, {}, &inv, &err)) fail_msg("config: %s", err.c_str());
  TargetChecks c;
  if (!compile_checks(inv.config.targets.at(0), &c, &err)) fail_msg("checks: %s", err.c_str());
  return c;
}

static ProbeResult response(long status = 200) {
  ProbeResult r;
  r.status = status;
  r.headers = {{"Server", "cloudflare"}, {"Content-Type", "text/html; charset=utf-8"}, {"X-Ver", "v1.2"}};
  r.body = "<html>hello world</html>";
  r.total_time = std::chrono::milliseconds(120);
  return r;
}

static std::vector<std::string> messages(const TargetChecks& c, const ProbeResult& r) {
  std::vector<std::string> out;
  for (const Finding& f : evaluate(c, r, 1700000000)) out.push_back(f.message);
  return out;
}

static void unset_expectations_are_not_checked(void**) {
  assert_int_equal(messages(load({}), response(500)).size(), 0);
}

static void seed_checks_pass(void**) {
  auto c = load({"-status=200", "-server=cloudflare", "-content_type=text/html; charset=utf-8"});
  assert_int_equal(messages(c, response()).size(), 0);
}

static void seed_checks_fail_in_seed_words(void**) {
  auto c = load({"-status=500", "-server=nginx", "-content_type=text/plain"});
  auto m = messages(c, response(200));
  assert_int_equal(m.size(), 3);
  assert_string_equal(m[0].c_str(), "Status code mismatch, got: 200");
  assert_string_equal(m[1].c_str(), "Server header mismatch, got: cloudflare");
  assert_string_equal(m[2].c_str(), "Content-Type header mismatch, got: text/html; charset=utf-8");
}

static void status_forms(void**) {
  assert_int_equal(messages(load({"-status=2xx"}), response(204)).size(), 0);
  assert_int_equal(messages(load({"-status=200-299"}), response(301)).size(), 1);
  assert_int_equal(messages(load({"-status=200,301"}), response(301)).size(), 0);
}

static void missing_server_header_is_a_mismatch(void**) {
  auto c = load({"-server=cloudflare"});
  ProbeResult r = response();
  r.headers.clear();
  auto m = messages(c, r);
  assert_int_equal(m.size(), 1);
  assert_string_equal(m[0].c_str(), "Server header mismatch, got: ");
}

static void any_header_exact_and_regex(void**) {
  auto c = load({"-header.x-ver=v1.2", "-header_regex.X-Ver=^v1\\.[0-9]+$"});
  assert_int_equal(messages(c, response()).size(), 0);
  ProbeResult r = response();
  r.headers[2].second = "v2.0";
  auto m = messages(c, r);
  assert_int_equal(m.size(), 2);
  assert_string_equal(m[0].c_str(), "x-ver header mismatch, got: v2.0");
  assert_string_equal(m[1].c_str(), "X-Ver header does not match /^v1\\.[0-9]+$/, got: v2.0");
}

static void body_checks(void**) {
  auto c = load({"-body_contains=hello", "-body_regex=w[aeiou]rld"});
  assert_int_equal(messages(c, response()).size(), 0);
  ProbeResult r = response();
  r.body = "goodbye";
  auto m = messages(c, r);
  assert_int_equal(m.size(), 2);
  assert_string_equal(m[0].c_str(), "Body does not contain \"hello\"");
  assert_string_equal(m[1].c_str(), "Body does not match /w[aeiou]rld/");
  r.body_truncated = true;
  assert_string_equal(messages(c, r)[0].c_str(), "Body does not contain \"hello\" (in the first 7 bytes)");
}

static void response_time_limit(void**) {
  auto c = load({"-max_response_time=100ms"});
  auto m = messages(c, response());
  assert_int_equal(m.size(), 1);
  assert_string_equal(m[0].c_str(), "Response time 120ms over limit 100ms");
}

static void certificate_days(void**) {
  TargetChecks c = load({"-cert_min_days=30"});
  ProbeResult r = response();
  r.is_https = true;
  r.cert_expiry_unix = 1700000000 + 10 * 86400 + 5;
  auto m = messages(c, r);
  assert_int_equal(m.size(), 1);
  assert_string_equal(m[0].c_str(), "Certificate expires in 10 days, fewer than 30");
  r.cert_expiry_unix = 1700000000 + 40 * 86400;
  assert_int_equal(messages(c, r).size(), 0);
  r.cert_expiry_unix.reset();
  assert_int_equal(messages(c, r).size(), 1);
}

static void transport_failure_is_one_finding(void**) {
  auto c = load({"-status=200", "-server=x"});
  ProbeResult r;
  r.transport_ok = false;
  r.curl_code = 7;
  r.transport_error = "Couldn't connect to server: Failed to connect to 127.0.0.1 port 1";
  auto m = messages(c, r);
  assert_int_equal(m.size(), 1);
  assert_string_equal(m[0].c_str(), "Probe failed: Couldn't connect to server: Failed to connect to 127.0.0.1 port 1");
  r.transport_ok = false;
  r.tls_verify_failed = true;
  r.transport_error = "SSL peer certificate or SSH remote key was not OK";
  assert_string_equal(messages(c, r)[0].c_str(), "TLS verify failed: SSL peer certificate or SSH remote key was not OK");
}

static void bad_pattern_names_key_and_origin(void**) {
  Invocation inv;
  std::string err;
  assert_true(load_invocation({"-url=http://127.0.0.1:1/", "-header_regex.X-A=[z-a]"}, {}, &inv, &err));
  TargetChecks c;
  assert_false(compile_checks(inv.config.targets[0], &c, &err));
  assert_non_null(strstr(err.c_str(), "flag -header_regex.X-A: bad regular expression /[z-a]/"));
}

static void cert_date_parses(void**) {
  int64_t t = 0;
  assert_true(parse_cert_date("Jan  2 15:04:05 2030 GMT", &t));
  assert_int_equal(t, 1893596645);
  assert_false(parse_cert_date("tomorrow", &t));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(unset_expectations_are_not_checked),
      cmocka_unit_test(seed_checks_pass),
      cmocka_unit_test(seed_checks_fail_in_seed_words),
      cmocka_unit_test(status_forms),
      cmocka_unit_test(missing_server_header_is_a_mismatch),
      cmocka_unit_test(any_header_exact_and_regex),
      cmocka_unit_test(body_checks),
      cmocka_unit_test(response_time_limit),
      cmocka_unit_test(certificate_days),
      cmocka_unit_test(transport_failure_is_one_finding),
      cmocka_unit_test(bad_pattern_names_key_and_origin),
      cmocka_unit_test(cert_date_parses),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
