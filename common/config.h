// observer's configuration: every source (flag > OBSERVER_* environment >
// INI file > default), merged per target, typed, with the origin of each value
// kept for -check-config and for error messages. What targets share (the
// defaults, the file's top level, environment and flags) is kept once; a
// target keeps only what its own section sets.
//
// The worker loads all of it (load_invocation) to probe and for
// -check-config; the supervisor only what it needs (load_process_settings):
// -help, -version, its own settings, and enough to fail fast on a bad one.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/duration.h"
#include "common/masking.h"
#include "common/shard.h"
#include "common/status_spec.h"

namespace observer {

struct Origin {
  enum class Kind : uint8_t { Default, File, Env, Flag };
  Kind kind = Kind::Default;
  std::string where;  // "observer.conf:3", "OBSERVER_TICK", "-tick"; "" for defaults
  std::string describe() const;  // "flag -tick", "env OBSERVER_TICK", "observer.conf:3", "default"
};

// A value with where it came from, as error messages and -check-config show
// it. Only the few values set outside the file's sections are kept this way.
struct RawValue {
  std::string text;
  Origin origin;
};

// How an error message names where `key`'s value came from:
// "observer.conf:3: tick", "OBSERVER_TICK", "flag -tick", "default tick".
std::string cite_origin(const std::string& key, const Origin& origin);

// Raw values by key (the global settings; the environment and flags).
using RawValues = std::map<std::string, RawValue>;

enum class IpVersion { Any, V4, V6 };
enum class LogFormat { Text, Logfmt, Json };

struct HeaderCheck {
  std::string name;
  std::string expected;  // exact value, or a PCRE2 pattern when is_regex
  bool is_regex = false;
};

// Where and how a target's alerts go (worker/alerter.h). Empty webhook_url
// and alertmanager_urls: the target does not alert.
struct AlertSettings {
  std::string webhook_url;
  std::string webhook_method = "POST";
  std::vector<std::pair<std::string, std::string>> webhook_headers;  // by key order
  std::optional<std::string> webhook_body;  // unset: the default JSON object
  bool on_recovery = true;
  Nanos repeat{0};  // 0: off
  // Each one's alerts endpoint (.../api/v2/alerts), in the order given.
  std::vector<std::string> alertmanager_urls;
  std::vector<std::pair<std::string, std::string>> labels;  // alert_label.NAME, by key order
  Nanos retry_for{};

  bool any() const { return !webhook_url.empty() || !alertmanager_urls.empty(); }
};

// Everything about a target but its name and URL: how it is probed and what
// is expected. Targets whose sections set the same values (most often nothing
// but url=) share one, converted once.
struct TargetSettings {
  StatusSpec status;  // empty: not checked
  Nanos tick{};
  std::optional<std::string> server;
  std::optional<std::string> content_type;
  std::string user_agent;  // resolved: never empty
  std::string method;
  std::vector<std::pair<std::string, std::string>> request_headers;
  std::vector<HeaderCheck> header_checks;  // by key, as header. and header_regex. sort
  std::optional<std::string> body_contains;
  std::optional<std::string> body_regex;
  std::optional<Nanos> max_response_time;
  std::optional<int> cert_min_days;
  Nanos timeout{};
  bool timeout_capped = false;  // timeout is the default, cut to tick
  bool follow_redirects = true;
  int max_redirects = 5;
  bool reuse_connections = false;
  IpVersion ip_version = IpVersion::Any;
  bool insecure = false;
  std::string ca_file;  // "": system store
  uint64_t max_body = 0;
  int failure_threshold = 1;
  int success_threshold = 1;
  AlertSettings alert;
};

// A value set in the file: key, text and line (the path is the config's).
struct FileValue {
  std::string key;
  std::string text;
  int line = 0;
};

// The first of `values` set for `key`, or null.
const FileValue* find_file_value(const std::vector<FileValue>& values, std::string_view key);

// The values every target shares: the file's top level and, above every
// file value, the environment and the flags. Defaults come from keys.h.
struct SharedLayers {
  std::string path;             // the config file; "" when none
  std::vector<FileValue> top;   // before any [section], every scope, in file order
  RawValues overrides;          // environment and flags (a flag wins over its variable)
};

// Where each of a target's values came from, without a copy of what it
// shares: only its own section's values are its own.
struct TargetOrigins {
  std::shared_ptr<const SharedLayers> shared;  // null once dropped
  std::vector<FileValue> own;  // its section's values but url=, in file order
  int section_line = 0;        // its [section] line; 0 for the top-level target
  int url_line = 0;            // its section's url= line; 0: none (or the top-level target)
};

struct TargetConfig {
  std::string name;  // section name; "default" for the top-level target
  std::string url;
  std::string masked_url;  // url with its secrets masked (redact_url); "" when it has none
  std::shared_ptr<const TargetSettings> settings;
  TargetOrigins origins;  // for -check-config and load-time messages; see drop_origins()

  bool in_section() const { return origins.section_line != 0; }
  // The url with its password and secret query values masked: the only
  // form ever logged.
  const std::string& display_url() const { return masked_url.empty() ? url : masked_url; }
  // The value `key` has for this target, and where it came from (flag >
  // environment > its section > top level > default); nullopt when unset.
  // Needs the origins.
  std::optional<RawValue> value(std::string_view key) const;
  // Frees what only -check-config and load-time messages need.
  void drop_origins() { origins = TargetOrigins(); }
};

struct GlobalConfig {
  LogFormat log_format = LogFormat::Text;
  Nanos shutdown_timeout{};
  Nanos reload_timeout{};
  size_t max_in_flight = 0;       // resolved: never 0
  std::string listen;             // "" serves nothing; else checked by parse_listen_address()
  uint64_t open_file_limit = 0;   // the soft RLIMIT_NOFILE that `auto` was derived from; 0 when set
  std::string state_file;         // resolved: "" keeps no state across restarts
  Shard shard;                    // which targets are this instance's (shard.h)
  RawValues raw;
};

// max_in_flight=auto: what an open-file limit of `soft_limit` affords. A
// probe may hold four descriptors at once (two sockets while both address
// families are tried, and the threaded resolver's socketpair); 64 are left
// for the worker's own. Never below 16 nor above 1024: past that, on most
// machines, TLS handshakes wait for the CPU longer than a probe's timeout.
size_t max_in_flight_for_open_files(uint64_t soft_limit);
// Descriptors that `max_in_flight` probes may need (the inverse of the above).
uint64_t open_files_for_max_in_flight(size_t max_in_flight);

struct Config {
  std::string config_path;  // "" when no file was given
  GlobalConfig global;
  // This shard's targets, in file order. At least one when there is one
  // shard; with several, a shard may own none.
  std::vector<TargetConfig> targets;
  // The other shards' targets, in file order: loaded and checked exactly
  // like this shard's (an error in any section is an error on every shard),
  // kept for -check-config and for the worker to compile their patterns,
  // then dropped (drop_elsewhere()); never probed, logged or exported here.
  std::vector<TargetConfig> elsewhere;
  size_t elsewhere_count = 0;  // survives drop_elsewhere()

  // Every target in the file, this shard's and the others'.
  size_t configured_targets() const { return targets.size() + elsewhere_count; }
  void drop_elsewhere() { std::vector<TargetConfig>().swap(elsewhere); }
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

// The action the flags ask for, from the flags alone (no file, no
// environment); Run when they do not parse (the load then reports why).
Action requested_action(const std::vector<std::string>& args);

// What the supervisor needs: the action and, to run, the process-wide
// settings. It reads the file only up to its first [section] (the sections
// are the worker's to check; it reports their errors on the control channel)
// and checks everything read: flags, environment, the top level of the file,
// the global settings, the top-level target when there is one, and each
// flag's and variable's value. A configuration it accepts can still fail in
// the worker; one it rejects always would. For Help, Version and
// CheckConfig only the flags are read.
bool load_process_settings(const std::vector<std::string>& args, const Environment& env, Action* action,
                           GlobalConfig* out, std::string* error);

// One more line in each target's block of -check-config, after its keys and
// aligned with them: `label` and what `text` says of the target (the
// worker's schedule: worker/check_config.h). common/ cannot compute it.
struct TargetNote {
  std::string label;
  std::function<std::string(const TargetConfig&)> text;
};

// What -check-config prints: every target's effective values and origins,
// secrets masked, and the `note` line when there is one. write_ hands it to
// `sink` in pieces of about 64 KiB.
std::string render_effective_config(const Config& config, const TargetNote* note = nullptr);
void write_effective_config(const Config& config, const std::function<void(const std::string&)>& sink,
                           const TargetNote* note = nullptr);

// What -help prints.
std::string usage_text(const std::string& program);

// Parses "1MiB", "512KiB", "64KB", "1000" (bytes).
bool parse_size(const std::string& text, uint64_t* out, std::string* error);

}  // namespace observer
