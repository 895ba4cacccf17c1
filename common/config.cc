#include "config.h"

#include <unordered_map>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <set>

#include "ini_file.h"
#include "keys.h"
#include "version.h"

extern char** environ;

namespace observer {

std::string Origin::describe() const {
  switch (kind) {
    case Kind::Default: return where.empty() ? "default" : "default, " + where;
    case Kind::File: return where;
    case Kind::Env: return "env " + where;
    case Kind::Flag: return "flag " + where;
  }
  return "?";
}

std::string cite_origin(const std::string& key, const Origin& origin) {
  switch (origin.kind) {
    case Origin::Kind::File: return origin.where + ": " + key;
    case Origin::Kind::Env: return origin.where;
    case Origin::Kind::Flag: return "flag " + origin.where;
    case Origin::Kind::Default: return "default " + key;
  }
  return key;
}

Environment current_environment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

namespace {

constexpr const char* kTopLevelTargetName = "default";
constexpr size_t kMaxUrlLength = 4000;  // below the control channel's 4096-byte string frame

struct CommandLine {
  Action action = Action::Run;
  std::string config_path;
  std::string config_flag;  // spelling used, for messages
  RawValues flags;
};

bool parse_flags(const std::vector<std::string>& args, CommandLine* cl, std::string* error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
      *error = "unexpected argument \"" + arg + "\" (flags look like -url=https://example.com)";
      return false;
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    size_t eq = body.find('=');
    if (eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    std::string spelling = "-" + name;
    if (name == "help" || name == "h") {
      cl->action = Action::Help;
      continue;
    }
    if (name == "version") {
      if (cl->action != Action::Help) cl->action = Action::Version;
      continue;
    }
    if (name == "check-config" || name == "check_config") {
      if (cl->action == Action::Run) cl->action = Action::CheckConfig;
      continue;
    }
    const KeyInfo* key = name == "config" ? nullptr : find_key(name);
    if (name != "config" && key == nullptr) {
      std::string near = closest_key(name);
      *error = "unknown flag " + spelling + (near.empty() ? "" : " (did you mean -" + near + "?)") +
               "; see -help";
      return false;
    }
    if (!has_value) {
      if (key != nullptr && key->is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        *error = "flag " + spelling + " needs a value (" + spelling + "=VALUE)";
        return false;
      }
    }
    if (name == "config") {
      cl->config_path = value;
      cl->config_flag = spelling;
      continue;
    }
    if (cl->flags.count(name) != 0) {
      *error = "flag " + spelling + " is given twice";
      return false;
    }
    cl->flags[name] = {value, {Origin::Kind::Flag, spelling}};
  }
  return true;
}

std::string env_name(const std::string& key) {
  std::string out = "OBSERVER_";
  for (char c : key) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool read_env(const Environment& env, RawValues* values, std::string* config_path,
              std::string* error) {
  constexpr std::string_view kPrefix = "OBSERVER_";
  for (const auto& [name, value] : env) {
    if (name.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    if (name == "OBSERVER_CONFIG") {
      *config_path = value;
      continue;
    }
    std::string key;
    for (char c : name.substr(kPrefix.size()))
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const KeyInfo* info = find_key(key);
    if (info == nullptr || std::string_view(info->name).back() == '.') {
      std::string near = closest_key(key);
      *error = "unknown environment variable " + name +
               (near.empty() || near.find('.') != std::string::npos ? "" : " (did you mean " + env_name(near) + "?)");
      return false;
    }
    (*values)[key] = {value, {Origin::Kind::Env, name}};
  }
  return true;
}

struct FileLayers {
  RawValues top;
  std::vector<std::pair<std::string, RawValues>> sections;  // in file order
  std::map<std::string, int> section_lines;
};

bool read_file(const std::string& path, FileLayers* layers, std::string* error) {
  IniDocument doc;
  if (!parse_ini_file(path, &doc, error)) return false;
  for (const IniSection& s : doc.sections) {
    std::string where = path + ":" + std::to_string(s.line);
    if (s.name.empty()) {
      *error = where + ": empty section name";
      return false;
    }
    if (s.name == kTopLevelTargetName) {
      *error = where + ": section name \"" + s.name + "\" is reserved for the top-level target";
      return false;
    }
    if (layers->section_lines.count(s.name) != 0) {
      *error = where + ": duplicate section [" + s.name + "], first at " + path + ":" +
               std::to_string(layers->section_lines[s.name]);
      return false;
    }
    layers->section_lines[s.name] = s.line;
    layers->sections.emplace_back(s.name, RawValues());
  }
  std::unordered_map<std::string, size_t> section_index;
  for (size_t i = 0; i < layers->sections.size(); ++i) section_index.emplace(layers->sections[i].first, i);
  for (const IniEntry& e : doc.entries) {
    std::string where = path + ":" + std::to_string(e.line);
    const KeyInfo* info = find_key(e.key);
    if (info == nullptr) {
      std::string near = closest_key(e.key);
      *error = where + ": unknown key \"" + e.key + "\"" +
               (near.empty() ? "" : " (did you mean \"" + near + "\"?)");
      return false;
    }
    if (!e.section.empty() && info->scope == KeyScope::Global) {
      *error = where + ": \"" + e.key + "\" applies to the whole process; set it before any [section]";
      return false;
    }
    RawValues* target = &layers->top;
    if (!e.section.empty()) {
      // O(1) per key: a linear scan here made 10 000 sections cost 50M compares.
      auto idx = section_index.find(e.section);
      if (idx == section_index.end()) {  // the INI reader saw a section the scan did not
        *error = where + ": cannot place key \"" + e.key + "\" in section [" + e.section + "]";
        return false;
      }
      target = &layers->sections[idx->second].second;
    }
    auto dup = target->find(e.key);
    if (dup != target->end()) {
      *error = where + ": duplicate key \"" + e.key + "\", first set at " + dup->second.origin.where;
      return false;
    }
    (*target)[e.key] = {e.value, {Origin::Kind::File, where}};
  }
  return true;
}

// ---- typed conversion ------------------------------------------------------

std::string cite(const std::string& key, const RawValue& v) { return cite_origin(key, v.origin); }

bool parse_bool(const std::string& key, const RawValue& v, bool* out, std::string* error) {
  std::string t;
  for (char c : v.text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "true" || t == "yes" || t == "on" || t == "1") {
    *out = true;
  } else if (t == "false" || t == "no" || t == "off" || t == "0") {
    *out = false;
  } else {
    *error = cite(key, v) + ": invalid boolean \"" + v.text + "\" (use true or false)";
    return false;
  }
  return true;
}

bool parse_int(const std::string& key, const RawValue& v, long lo, long hi, int* out,
               std::string* error) {
  errno = 0;
  char* end = nullptr;
  long n = std::strtol(v.text.c_str(), &end, 10);
  if (v.text.empty() || *end != '\0' || errno == ERANGE || n < lo || n > hi) {
    *error = cite(key, v) + ": invalid number \"" + v.text + "\" (a whole number from " +
             std::to_string(lo) + " to " + std::to_string(hi) + ")";
    return false;
  }
  *out = static_cast<int>(n);
  return true;
}

bool parse_positive_duration(const std::string& key, const RawValue& v, Nanos* out,
                             std::string* error) {
  std::string why;
  if (!parse_duration(v.text, out, &why)) {
    *error = cite(key, v) + ": " + why;
    return false;
  }
  if (out->count() <= 0) {
    *error = cite(key, v) + ": must be greater than zero";
    return false;
  }
  return true;
}

bool check_url(const std::string& key, const RawValue& v, std::string* error) {
  std::string lower;
  for (char c : v.text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t host_at = 0;
  if (lower.compare(0, 7, "http://") == 0) host_at = 7;
  else if (lower.compare(0, 8, "https://") == 0) host_at = 8;
  if (host_at == 0) {
    *error = cite(key, v) + ": \"" + v.text + "\" is not an http:// or https:// URL";
    return false;
  }
  // The URL is half of a target's identity across reloads, sent whole on
  // the control channel; far past any real URL, and a clear error here.
  if (v.text.size() > kMaxUrlLength) {
    *error = cite(key, v) + ": URL is " + std::to_string(v.text.size()) + " characters long; the limit is " +
             std::to_string(kMaxUrlLength);
    return false;
  }
  if (host_at >= v.text.size() || v.text[host_at] == '/' ||
      v.text.find_first_of(" \t\r\n") != std::string::npos) {
    *error = cite(key, v) + ": \"" + v.text + "\" has no host or contains white space";
    return false;
  }
  return true;
}

const RawValue* get(const RawValues& raw, const std::string& key) {
  auto it = raw.find(key);
  return it == raw.end() ? nullptr : &it->second;
}

// What a probe is compared with: status, headers, body, timing, certificate.
bool convert_expectations(const RawValues& raw, TargetConfig* t, std::string* error) {
  const RawValue* v = nullptr;
  if ((v = get(raw, "status")) != nullptr) {
    std::string why;
    if (!StatusSpec::parse(v->text, &t->status, &why)) {
      *error = cite("status", *v) + ": " + why;
      return false;
    }
  }
  if ((v = get(raw, "server")) != nullptr) t->server = v->text;
  if ((v = get(raw, "content_type")) != nullptr) t->content_type = v->text;
  if ((v = get(raw, "body_contains")) != nullptr) t->body_contains = v->text;
  if ((v = get(raw, "body_regex")) != nullptr) t->body_regex = v->text;
  if ((v = get(raw, "max_response_time")) != nullptr) {
    Nanos d{};
    if (!parse_positive_duration("max_response_time", *v, &d, error)) return false;
    t->max_response_time = d;
  }
  if ((v = get(raw, "cert_min_days")) != nullptr) {
    int days = 0;
    if (!parse_int("cert_min_days", *v, 0, 36500, &days, error)) return false;
    t->cert_min_days = days;
  }
  return true;
}

// How the probe is sent: method, User-Agent, timeout, redirects, connection,
// TLS and the body cap.
bool convert_request(const RawValues& raw, TargetConfig* t, std::string* error) {
  t->user_agent = get(raw, "user_agent")->text;
  if (t->user_agent.empty()) t->user_agent = std::string("observer/") + OBSERVER_VERSION;
  const RawValue* v = get(raw, "method");
  t->method = v->text;
  if (t->method.empty() || t->method.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos) {
    *error = cite("method", *v) + ": invalid method \"" + v->text + "\" (upper-case letters, e.g. GET or HEAD)";
    return false;
  }
  v = get(raw, "timeout");
  if (!parse_positive_duration("timeout", *v, &t->timeout, error)) return false;
  if (t->timeout > t->tick) {
    if (v->origin.kind != Origin::Kind::Default) {
      *error = cite("timeout", *v) + ": " + v->text + " is longer than tick (" +
               format_duration(t->tick) + "); a probe must end before the next one starts";
      return false;
    }
    t->timeout = t->tick;
    t->raw["timeout"] = {format_duration(t->tick), {Origin::Kind::Default, "capped at tick"}};
  }
  if (!parse_bool("follow_redirects", *get(raw, "follow_redirects"), &t->follow_redirects, error)) return false;
  if (!parse_int("max_redirects", *get(raw, "max_redirects"), 0, 50, &t->max_redirects, error)) return false;
  if (!parse_bool("reuse_connections", *get(raw, "reuse_connections"), &t->reuse_connections, error)) return false;
  v = get(raw, "ip_version");
  if (v->text == "any") t->ip_version = IpVersion::Any;
  else if (v->text == "4") t->ip_version = IpVersion::V4;
  else if (v->text == "6") t->ip_version = IpVersion::V6;
  else {
    *error = cite("ip_version", *v) + ": invalid value \"" + v->text + "\" (any, 4 or 6)";
    return false;
  }
  v = get(raw, "http_client");
  if (v->text == "auto") t->http_client = HttpClientKind::Auto;
  else if (v->text == "curl") t->http_client = HttpClientKind::Curl;
  else {
    *error = cite("http_client", *v) + ": invalid value \"" + v->text + "\" (auto or curl)";
    return false;
  }
  if (!parse_bool("insecure", *get(raw, "insecure"), &t->insecure, error)) return false;
  if ((v = get(raw, "ca_file")) != nullptr) t->ca_file = v->text;
  v = get(raw, "max_body");
  std::string why;
  if (!parse_size(v->text, &t->max_body, &why)) {
    *error = cite("max_body", *v) + ": " + why;
    return false;
  }
  return true;
}

// The header.NAME, header_regex.NAME and request_header.NAME families.
bool convert_header_families(const RawValues& raw, TargetConfig* t, std::string* error) {
  for (const auto& entry : raw) {
    const std::string& key = entry.first;
    const RawValue& value = entry.second;
    auto suffix = [&key](const char* prefix) { return key.substr(std::char_traits<char>::length(prefix)); };
    if (key.rfind("header.", 0) == 0) {
      t->header_checks.push_back({suffix("header."), value.text, false});
    } else if (key.rfind("header_regex.", 0) == 0) {
      t->header_checks.push_back({suffix("header_regex."), value.text, true});
    } else if (key.rfind("request_header.", 0) == 0) {
      std::string h = suffix("request_header.");
      if (h.find_first_of(": \t\r\n") != std::string::npos || value.text.find_first_of("\r\n") != std::string::npos) {
        *error = cite(key, value) + ": header names may not contain ':' or white space, nor values line breaks";
        return false;
      }
      t->request_headers.emplace_back(h, value.text);
    }
  }
  return true;
}

// Takes `values` by value: the target keeps them (for -check-config and
// error messages) without another copy; 10 000 targets made that copy count.
bool convert_target(const std::string& name, RawValues values, TargetConfig* t, std::string* error) {
  t->name = name;
  t->raw = std::move(values);
  const RawValues& raw = t->raw;
  const RawValue* url = get(raw, "url");
  if (!check_url("url", *url, error)) return false;
  t->url = url->text;
  t->display_url = redact_url(t->url);
  if (!parse_positive_duration("tick", *get(raw, "tick"), &t->tick, error)) return false;
  return convert_expectations(raw, t, error) && convert_request(raw, t, error) &&
         parse_int("failure_threshold", *get(raw, "failure_threshold"), 1, 1000, &t->failure_threshold, error) &&
         parse_int("success_threshold", *get(raw, "success_threshold"), 1, 1000, &t->success_threshold, error) &&
         convert_header_families(raw, t, error);
}

bool convert_global(const RawValues& raw, GlobalConfig* g, std::string* error) {
  g->raw = raw;
  const RawValue* v = get(raw, "log_format");
  if (v->text == "text") g->log_format = LogFormat::Text;
  else if (v->text == "logfmt") g->log_format = LogFormat::Logfmt;
  else if (v->text == "json") g->log_format = LogFormat::Json;
  else {
    *error = cite("log_format", *v) + ": invalid value \"" + v->text + "\" (text, logfmt or json)";
    return false;
  }
  if (!parse_positive_duration("shutdown_timeout", *get(raw, "shutdown_timeout"), &g->shutdown_timeout, error)) return false;
  if (!parse_positive_duration("reload_timeout", *get(raw, "reload_timeout"), &g->reload_timeout, error)) return false;
  return true;
}

void apply_defaults(RawValues* raw, KeyScope scope) {
  for (const KeyInfo& k : known_keys()) {
    if (k.scope != scope || k.default_value == nullptr) continue;
    raw->emplace(k.name, RawValue{k.default_value, {}});
  }
}

// Layers `over` on top of `base` (over wins).
void overlay(RawValues* base, const RawValues& over, bool include_url) {
  for (const auto& [k, v] : over)
    if (include_url || k != "url") (*base)[k] = v;
}

RawValues only_scope(const RawValues& raw, KeyScope scope) {
  RawValues out;
  for (const auto& [k, v] : raw)
    if (find_key(k)->scope == scope) out[k] = v;
  return out;
}

std::string missing_url_message(const std::string& config_path) {
  return "no URL to probe: set it with the flag -url=URL, the environment variable OBSERVER_URL=URL, "
         "or url=URL in the config file" +
         (config_path.empty() ? std::string(" (-config PATH or OBSERVER_CONFIG=PATH)")
                              : " " + config_path);
}

}  // namespace

bool load_invocation(const std::vector<std::string>& args, const Environment& env,
                     Invocation* out, std::string* error) {
  CommandLine cl;
  if (!parse_flags(args, &cl, error)) return false;
  out->action = cl.action;
  if (cl.action == Action::Help || cl.action == Action::Version) return true;

  RawValues env_values;
  std::string env_config;
  if (!read_env(env, &env_values, &env_config, error)) return false;
  Config config;
  config.config_path = !cl.config_path.empty() ? cl.config_path : env_config;

  FileLayers file;
  if (!config.config_path.empty() && !read_file(config.config_path, &file, error)) return false;

  // Command line over environment: the layer that overrides every target.
  RawValues overrides = env_values;
  overlay(&overrides, cl.flags, true);

  RawValues global;
  apply_defaults(&global, KeyScope::Global);
  overlay(&global, only_scope(file.top, KeyScope::Global), true);
  overlay(&global, only_scope(overrides, KeyScope::Global), true);
  if (!convert_global(global, &config.global, error)) return false;

  RawValues target_defaults;
  apply_defaults(&target_defaults, KeyScope::Target);
  overlay(&target_defaults, only_scope(file.top, KeyScope::Target), true);
  RawValues target_overrides = only_scope(overrides, KeyScope::Target);

  // The top-level target: the seed's single target. It exists when a URL is
  // set outside any section, or when there are no sections at all (and then
  // a missing URL is the error to report).
  config.targets.reserve(file.sections.size() + 1);
  RawValues top = target_defaults;
  overlay(&top, target_overrides, true);
  if (top.count("url") != 0 || file.sections.empty()) {
    if (top.count("url") == 0) {
      *error = missing_url_message(config.config_path);
      return false;
    }
    TargetConfig t;
    if (!convert_target(kTopLevelTargetName, std::move(top), &t, error)) return false;
    config.targets.push_back(std::move(t));
  }
  for (const auto& [name, values] : file.sections) {
    RawValues raw = target_defaults;
    raw.erase("url");  // a section's identity is its own
    overlay(&raw, values, true);
    overlay(&raw, target_overrides, false);
    if (raw.count("url") == 0) {
      *error = config.config_path + ":" + std::to_string(file.section_lines[name]) + ": section [" +
               name + "] has no url= (each section is a target and needs its own URL)";
      return false;
    }
    TargetConfig t;
    if (!convert_target(name, std::move(raw), &t, error)) return false;
    config.targets.push_back(std::move(t));
  }
  out->config = std::move(config);
  return true;
}

std::string redact_url(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t host_end = url.find_first_of("/?#", scheme + 3);
  size_t at = url.rfind('@', host_end == std::string::npos ? std::string::npos : host_end);
  if (at == std::string::npos || at < scheme) return url;
  size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "****" + url.substr(at);
}

bool parse_size(const std::string& text, uint64_t* out, std::string* error) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (n > (UINT64_MAX - 9) / 10) {
      *error = "size \"" + text + "\" is too large";
      return false;
    }
    n = n * 10 + (text[i++] - '0');
  }
  if (i == 0) {
    *error = "invalid size \"" + text + "\" (e.g. 1048576, 512KiB, 1MiB)";
    return false;
  }
  std::string unit = text.substr(i);
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"", 1},           {"B", 1},
      {"KB", 1000},      {"KiB", 1024},
      {"MB", 1000000},   {"MiB", 1024 * 1024},
      {"GB", 1000000000}, {"GiB", 1024ULL * 1024 * 1024},
  };
  for (const auto& [name, mult] : kUnits) {
    if (unit != name) continue;
    if (n > UINT64_MAX / mult) {
      *error = "size \"" + text + "\" is too large";
      return false;
    }
    *out = n * mult;
    return true;
  }
  *error = "invalid size unit in \"" + text + "\" (B, KB, KiB, MB, MiB, GB or GiB)";
  return false;
}

namespace {

std::string display_value(const std::string& key, const std::string& text) {
  if (is_secret_key(key)) return "****";
  if (key == "url") return redact_url(text);
  return text;
}

void render_values(const RawValues& raw, KeyScope scope, std::string* out) {
  std::vector<std::string> keys;
  for (const KeyInfo& k : known_keys()) {
    if (k.scope != scope) continue;
    std::string name = k.name;
    if (name.back() == '.') {
      for (const auto& [key, v] : raw)
        if (key.rfind(name, 0) == 0) keys.push_back(key);
    } else {
      keys.push_back(name);
    }
  }
  size_t width = 0;
  for (const auto& k : keys) width = std::max(width, k.size());
  for (const auto& k : keys) {
    const RawValue* v = get(raw, k);
    std::string line = "  " + k + std::string(width - k.size() + 2, ' ');
    if (v == nullptr) {
      line += "(unset, not checked)";
    } else {
      std::string shown = display_value(k, v->text);
      line += (shown.empty() ? "\"\"" : shown) + "  (" + v->origin.describe() + ")";
    }
    *out += line + "\n";
  }
}

}  // namespace

std::string render_effective_config(const Config& config) {
  std::string out = "config file: " + (config.config_path.empty() ? "(none)" : config.config_path) + "\n";
  out += "global:\n";
  render_values(config.global.raw, KeyScope::Global, &out);
  for (const TargetConfig& t : config.targets) {
    out += "target [" + t.name + "]:\n";
    render_values(t.raw, KeyScope::Target, &out);
  }
  out += std::to_string(config.targets.size()) + (config.targets.size() == 1 ? " target" : " targets") +
         ", configuration OK\n";
  return out;
}

std::string usage_text(const std::string& program) {
  std::string out = "Usage: " + program + " [-config PATH] [-check-config] [-KEY=VALUE ...]\n\n"
                    "observer " OBSERVER_VERSION " probes HTTP targets every tick and logs every mismatch.\n\n"
                    "Sources, highest first: flag (-key=value, -key value, --key=value), environment\n"
                    "(OBSERVER_KEY), INI file (-config PATH or OBSERVER_CONFIG), default.\n\n"
                    "  -config PATH     INI file: top-level keys are a target and the defaults of\n"
                    "                   every [section]; each [section] is one more target\n"
                    "  -check-config    print the effective configuration and its sources, then exit\n"
                    "  -help, -version\n\nKeys:\n";
  for (const KeyInfo& k : known_keys()) {
    std::string name = k.name;
    if (name.back() == '.') name += "NAME";
    std::string def = k.default_value == nullptr ? "" : std::string(" [default: ") +
                      (*k.default_value ? k.default_value : "\"\"") + "]";
    std::string line = "  -" + name;
    line += std::string(line.size() < 22 ? 22 - line.size() : 1, ' ');
    out += line + k.help + def + (k.scope == KeyScope::Global ? " (process-wide)" : "") + "\n";
  }
  out += "\nExit codes: 0 stopped cleanly, 78 configuration error, 70 internal error.\n";
  return out;
}

}  // namespace observer
