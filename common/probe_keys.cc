#include "common/probe_keys.h"

#include <cerrno>
#include <cstring>

#include <sys/stat.h>

#include "common/config.h"
#include "common/config_values.h"
#include "common/version.h"

namespace observer {

namespace {

// Far past any real User-Agent; a value this long is a mistake or an
// attack, and curl would send it whole.
constexpr size_t kMaxUserAgentLength = 1000;
// Below these a probe cannot even be scheduled: libuv's timers count whole
// milliseconds, and a tick of 1ns kept the worker's loop inside its timers
// (no signal seen, a line per skipped tick). curl's timeout is in ms too, and
// 0 ms would mean "no timeout".
constexpr Nanos kMinTick = std::chrono::milliseconds(10);
constexpr Nanos kMinTimeout = std::chrono::milliseconds(10);

}  // namespace

bool convert_status(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  std::string why;
  if (StatusSpec::parse(v.text, &s->status, &why)) return true;
  *error = cite(key, v) + ": " + why;
  return false;
}

bool convert_tick(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  return parse_duration_at_least(key, v, kMinTick, &s->tick, error);
}

bool convert_server(const std::string&, const RawValue& v, TargetSettings* s, std::string*) {
  s->server = v.text;
  return true;
}

bool convert_content_type(const std::string&, const RawValue& v, TargetSettings* s, std::string*) {
  s->content_type = v.text;
  return true;
}

bool convert_user_agent(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  // Sent as a header line: a line break would add headers of its own.
  if (find_control(v.text, true) != std::string::npos) {
    *error = cite(key, v) + ": \"" + printable(v.text) + "\" contains a control character or line break";
    return false;
  }
  if (v.text.size() > kMaxUserAgentLength) {
    *error = cite(key, v) + ": is " + std::to_string(v.text.size()) + " characters long; the limit is " +
             std::to_string(kMaxUserAgentLength);
    return false;
  }
  s->user_agent = v.text.empty() ? std::string("observer/") + OBSERVER_VERSION : v.text;
  return true;
}

bool convert_method(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  return parse_method(key, v, &s->method, error);
}

bool convert_timeout(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  return parse_duration_at_least(key, v, kMinTimeout, &s->timeout, error);
}

bool check_timeout_against_tick(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  if (s->timeout <= s->tick) return true;
  if (v.origin.kind != Origin::Kind::Default) {
    *error = cite(key, v) + ": " + v.text + " is longer than tick (" + format_duration(s->tick) +
             "); a probe must end before the next one starts";
    return false;
  }
  s->timeout = s->tick;
  s->timeout_capped = true;
  return true;
}

bool convert_follow_redirects(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  return parse_bool(key, v, &s->follow_redirects, error);
}

bool convert_max_redirects(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  return parse_int(key, v, 0, 50, &s->max_redirects, error);
}

bool convert_reuse_connections(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  return parse_bool(key, v, &s->reuse_connections, error);
}

bool convert_ip_version(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  if (v.text == "any") s->ip_version = IpVersion::Any;
  else if (v.text == "4") s->ip_version = IpVersion::V4;
  else if (v.text == "6") s->ip_version = IpVersion::V6;
  else {
    *error = cite(key, v) + ": invalid value \"" + v.text + "\" (any, 4 or 6)";
    return false;
  }
  return true;
}

bool convert_insecure(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  return parse_bool(key, v, &s->insecure, error);
}

bool convert_ca_file(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  // A directory or a missing file fails every TLS probe; refuse it now.
  struct stat st {};
  if (!v.text.empty() && ::stat(v.text.c_str(), &st) != 0) {
    *error = cite(key, v) + ": \"" + printable(v.text) + "\": " + std::strerror(errno);
    return false;
  }
  if (!v.text.empty() && !S_ISREG(st.st_mode)) {
    *error = cite(key, v) + ": \"" + printable(v.text) + "\" is not a regular file (a PEM file of CA certificates)";
    return false;
  }
  s->ca_file = v.text;
  return true;
}

bool convert_max_body(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  std::string why;
  if (parse_size(v.text, &s->max_body, &why)) return true;
  *error = cite(key, v) + ": " + why;
  return false;
}

bool convert_body_contains(const std::string&, const RawValue& v, TargetSettings* s, std::string*) {
  s->body_contains = v.text;
  return true;
}

bool convert_body_regex(const std::string&, const RawValue& v, TargetSettings* s, std::string*) {
  s->body_regex = v.text;
  return true;
}

bool convert_max_response_time(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  Nanos d{};
  if (!parse_positive_duration(key, v, &d, error)) return false;
  s->max_response_time = d;
  return true;
}

bool convert_cert_min_days(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  int days = 0;
  if (!parse_int(key, v, 0, 36500, &days, error)) return false;
  s->cert_min_days = days;
  return true;
}

bool convert_failure_threshold(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  return parse_int(key, v, 1, 1000, &s->failure_threshold, error);
}

bool convert_success_threshold(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  return parse_int(key, v, 1, 1000, &s->success_threshold, error);
}

bool convert_header_checks(const std::string& key, const RawValue& v, TargetSettings* s, std::string*) {
  s->header_checks.push_back({family_name(key), v.text, false});
  return true;
}

bool convert_header_regex_checks(const std::string& key, const RawValue& v, TargetSettings* s, std::string*) {
  s->header_checks.push_back({family_name(key), v.text, true});
  return true;
}

bool convert_request_headers(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  return parse_request_header(key, v, family_name(key), &s->request_headers, error);
}

}  // namespace observer
