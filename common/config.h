// observer's configuration: every source (flag > OBSERVER_* environment >
// INI file > default), merged per target, typed, with the origin of each value
// kept for -check-config and for error messages.
//
// Both processes load it: the worker to probe, the supervisor for -help,
// -version, -check-config, its own settings and to fail fast on a bad config.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "duration.h"
#include "status_spec.h"

namespace observer {

struct Origin {
  enum class Kind { Default, File, Env, Flag };
  Kind kind = Kind::Default;
  std::string where;  // "observer.conf:3", "OBSERVER_TICK", "-tick"; "" for defaults
  std::string describe() const;  // "flag -tick", "env OBSERVER_TICK", "observer.conf:3", "default"
};

struct RawValue {
  std::string text;
  Origin origin;
};

// How an error message names where `key`'s value came from:
// "observer.conf:3: tick", "OBSERVER_TICK", "flag -tick", "default tick".
std::string cite_origin(const std::string& key, const Origin& origin);

// Effective raw values of one target (or of the global settings), by key.
using RawValues = std::map<std::string, RawValue>;

enum class IpVersion { Any, V4, V6 };
// Which HTTP client probes a target: auto (the native client for plain
// http:// where it can, libcurl otherwise) or always libcurl.
enum class HttpClientKind { Auto, Curl };
enum class LogFormat { Text, Logfmt, Json };

struct HeaderCheck {
  std::string name;
  std::string expected;  // exact value, or a PCRE2 pattern when is_regex
  bool is_regex = false;
};

struct TargetConfig {
  std::string name;  // section name; "default" for the top-level target
  std::string url;
  std::string display_url;  // url with any password masked: the only form ever logged
  StatusSpec status;  // empty: not checked
  Nanos tick{};
  std::optional<std::string> server;
  std::optional<std::string> content_type;
  std::string user_agent;  // resolved: never empty
  std::string method;
  std::vector<std::pair<std::string, std::string>> request_headers;
  std::vector<HeaderCheck> header_checks;
  std::optional<std::string> body_contains;
  std::optional<std::string> body_regex;
  std::optional<Nanos> max_response_time;
  std::optional<int> cert_min_days;
  Nanos timeout{};
  bool follow_redirects = true;
  int max_redirects = 5;
  bool reuse_connections = false;
  IpVersion ip_version = IpVersion::Any;
  HttpClientKind http_client = HttpClientKind::Auto;
  bool insecure = false;
  std::string ca_file;  // "": system store
  uint64_t max_body = 0;
  int failure_threshold = 1;
  int success_threshold = 1;

  RawValues raw;  // every key's effective text and origin, for -check-config
};

struct GlobalConfig {
  LogFormat log_format = LogFormat::Text;
  Nanos shutdown_timeout{};
  Nanos reload_timeout{};
  RawValues raw;
};

struct Config {
  std::string config_path;  // "" when no file was given
  GlobalConfig global;
  std::vector<TargetConfig> targets;  // at least one
};

enum class Action { Run, Help, Version, CheckConfig };

struct Invocation {
  Action action = Action::Run;
  Config config;  // loaded for Run and CheckConfig only
};

using Environment = std::map<std::string, std::string>;

// Reads the process environment into a map (main() only; tests pass their own).
Environment current_environment();

// Loads the configuration. `args` excludes argv[0]. On failure `error` holds
// one precise message naming the source (file:line, flag or variable); the
// caller exits with 78.
bool load_invocation(const std::vector<std::string>& args, const Environment& env,
                     Invocation* out, std::string* error);

// What -check-config prints: every target's effective values and origins,
// secrets masked.
std::string render_effective_config(const Config& config);

// What -help prints.
std::string usage_text(const std::string& program);

// `url` with the password of its user-info replaced by "****".
std::string redact_url(const std::string& url);

// Parses "1MiB", "512KiB", "64KB", "1000" (bytes).
bool parse_size(const std::string& text, uint64_t* out, std::string* error);

}  // namespace observer
