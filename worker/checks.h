// Checks: what a target expects (TargetSettings + its patterns compiled once
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
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "common/log_format.h"
#include "worker/probe_result.h"
#include "worker/regex.h"

namespace observer {

// What a target expects, with its patterns compiled. Targets that share
// their settings share one (see ChecksCache).
struct TargetChecks {
  std::shared_ptr<const TargetSettings> settings;
  std::optional<Regex> body_regex;
  std::vector<std::optional<Regex>> header_regex;  // parallel to settings->header_checks
};

// Compiles the target's patterns. A bad pattern is a configuration error
// naming the key and where it was set (file:line, flag, env), so the
// target's origins must still be there.
bool compile_checks(const TargetConfig& config, TargetChecks* out, std::string* error);

// Compiles each distinct TargetSettings once, in the order targets ask, so
// that a bad pattern is reported for the first target that has it.
class ChecksCache {
 public:
  std::shared_ptr<const TargetChecks> get(const TargetConfig& config, std::string* error);

 private:
  std::unordered_map<const TargetSettings*, std::shared_ptr<const TargetChecks>> compiled_;
};

// Compiles every target's patterns, other shards' included (for
// -check-config, and before a sharded worker drops the others' targets).
bool validate_patterns(const Config& config, std::string* error);

struct Finding {
  std::string check;  // "transport", "status", "server", "content_type", "header", ...
  std::string message;
  std::vector<LogField> fields;  // got=, expected=, ...
};

std::vector<Finding> evaluate(const TargetChecks& checks, const ProbeResult& result, int64_t now_unix);

}  // namespace observer
