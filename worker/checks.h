// Checks: what a target expects (TargetConfig + its patterns compiled once
// at load) compared with one ProbeResult, giving the list of findings in the
// words users read in the log. The seed's three keep the seed's words:
//   Status code mismatch, got: 200
//   Server header mismatch, got: cloudflare
//   Content-Type header mismatch, got: text/html; charset=utf-8
// An unset expectation is not checked. A transport failure (DNS, refused,
// reset, timeout, TLS) is a single finding and no other check runs.
// Pure: no I/O, no clock (the caller passes `now` for certificate days).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "log_format.h"
#include "probe_result.h"
#include "regex.h"

namespace observer {

struct TargetChecks {
  TargetConfig config;
  std::optional<Regex> body_regex;
  std::vector<std::optional<Regex>> header_regex;  // parallel to config.header_checks
};

// Compiles the target's patterns. A bad pattern is a configuration error
// naming the key and where it was set (file:line, flag, env).
bool compile_checks(const TargetConfig& config, TargetChecks* out, std::string* error);

// Compiles every target's patterns (for -check-config and for the engine).
bool validate_patterns(const Config& config, std::string* error);

struct Finding {
  std::string check;  // "transport", "status", "server", "content_type", "header", ...
  std::string message;
  std::vector<LogField> fields;  // got=, expected=, ...
};

std::vector<Finding> evaluate(const TargetChecks& checks, const ProbeResult& result, int64_t now_unix);

}  // namespace observer
