#include "common/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include <sys/resource.h>
#include <sys/stat.h>

#include "common/alert_config.h"
#include "common/config_values.h"
#include "common/ini_file.h"
#include "common/keys.h"
#include "common/listen_address.h"
#include "common/version.h"

extern char** environ;

namespace observer {

const FileValue* find_file_value(const std::vector<FileValue>& values, std::string_view key) {
  for (const FileValue& v : values)
    if (v.key == key) return &v;
  return nullptr;
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
// Far past any real User-Agent or method; a value this long is a mistake or
// an attack, and curl would send it whole.
constexpr size_t kMaxUserAgentLength = 1000;
// Below these a probe cannot even be scheduled: libuv's timers count whole
// milliseconds, and a tick of 1ns kept the worker's loop inside its timers
// (no signal seen, a line per skipped tick). curl's timeout is in ms too, and
// 0 ms would mean "no timeout".
constexpr Nanos kMinTick = std::chrono::milliseconds(10);
constexpr Nanos kMinTimeout = std::chrono::milliseconds(10);




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
      *error = "unexpected argument \"" + printable(arg) + "\" (flags look like -url=https://example.com)";
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
      *error = "unknown flag " + printable(spelling) + (near.empty() ? "" : " (did you mean -" + near + "?)") +
               "; see -help";
      return false;
    }
    if (!has_value) {
      if (key != nullptr && key->is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        *error = "flag " + printable(spelling) + " needs a value (" + printable(spelling) + "=VALUE)";
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
      *error = "unknown environment variable " + printable(name) +
               (near.empty() || near.find('.') != std::string::npos ? "" : " (did you mean " + env_name(near) + "?)");
      return false;
    }
    (*values)[key] = {value, {Origin::Kind::Env, name}};
  }
  return true;
}

std::string where_in_file(const std::string& path, int line) { return path + ":" + std::to_string(line); }

// ---- the file ----------------------------------------------------------------

// What the file sets: its top level, and one target per [section] with only
// the section's own values (name, url=, the rest in file order).
struct FileContents {
  std::vector<FileValue> top;
  std::vector<TargetConfig> sections;
  bool has_sections = false;
};

// The file's [section]s: the first error among their names (empty, reserved,
// duplicate), and where each name's keys go (its first occurrence).
struct SectionIndex {
  std::unordered_map<std::string_view, size_t> by_name;
  std::string error;
};

void index_sections(const std::string& path, const std::vector<IniSection>& sections, SectionIndex* index) {
  index->by_name.reserve(sections.size());
  for (size_t i = 0; i < sections.size(); ++i) {
    const IniSection& s = sections[i];
    auto [it, inserted] = index->by_name.emplace(s.name, i);
    if (!index->error.empty()) continue;
    if (s.name.empty()) {
      index->error = where_in_file(path, s.line) + ": empty section name";
    } else if (s.name == kTopLevelTargetName) {
      index->error = where_in_file(path, s.line) + ": section name \"" + s.name + "\" is reserved for the top-level target";
    } else if (!inserted) {
      index->error = where_in_file(path, s.line) + ": duplicate section [" + s.name + "], first at " +
                     where_in_file(path, sections[it->second].line);
    }
  }
}

// Places the file's key=value pairs, one at a time, as inih reads them. Only
// the first error counts (it is reported when the syntax and the section
// names are fine, as a whole-file check would).
class PairPlacer {
 public:
  PairPlacer(const std::string& path, const SectionIndex& index, FileContents* file)
      : path_(path), index_(index), file_(file) {}

  void place(const char* section, const char* key, const char* value, int line) {
    if (!error_.empty()) return;
    const KeyInfo* info = find_key(key);
    if (info == nullptr) {
      std::string near = closest_key(key);
      fail(line, std::string("unknown key \"") + key + "\"" + (near.empty() ? "" : " (did you mean \"" + near + "\"?)"));
      return;
    }
    if (*section != '\0' && info->scope == KeyScope::Global) {
      fail(line, std::string("\"") + key + "\" applies to the whole process; set it before any [section]");
      return;
    }
    if (*section == '\0') {
      add(&file_->top, key, value, line);
      return;
    }
    TargetConfig* target = section_of(section);
    if (target == nullptr) {  // the INI reader saw a section the scan did not
      fail(line, std::string("cannot place key \"") + key + "\" in section [" + section + "]");
      return;
    }
    if (std::strcmp(key, "url") != 0) {
      add(&target->origins.own, key, value, line);
    } else if (target->origins.url_line != 0) {
      duplicate(line, key, target->origins.url_line);
    } else {
      target->url = value;
      target->origins.url_line = line;
    }
  }

  const std::string& error() const { return error_; }

 private:
  TargetConfig* section_of(const char* name) {
    // Consecutive pairs are mostly in one section: look it up once.
    if (last_ != nullptr && last_name_ == name) return last_;
    auto it = index_.by_name.find(name);
    if (it == index_.by_name.end()) return nullptr;
    last_name_ = name;
    last_ = &file_->sections[it->second];
    return last_;
  }

  void add(std::vector<FileValue>* values, const char* key, const char* value, int line) {
    if (const FileValue* dup = find_file_value(*values, key)) {
      duplicate(line, key, dup->line);
      return;
    }
    values->push_back({key, value, line});
  }

  void duplicate(int line, const char* key, int first_line) {
    fail(line, std::string("duplicate key \"") + key + "\", first set at " + where_in_file(path_, first_line));
  }

  void fail(int line, const std::string& what) { error_ = where_in_file(path_, line) + ": " + what; }

  const std::string& path_;
  const SectionIndex& index_;
  FileContents* file_;
  std::string error_;
  std::string last_name_;
  TargetConfig* last_ = nullptr;
};

// Reads the file into its layers. With `top_level_only` it stops at the
// first [section] (and sets has_sections).
bool read_file(const std::string& path, bool top_level_only, FileContents* file, std::string* error) {
  std::string text;
  if (top_level_only ? !read_config_top_level(path, &text, &file->has_sections, error)
                     : !read_config_text(path, &text, error))
    return false;
  IniScan scan;
  if (!scan_ini_text(path, text, &scan, error)) return false;
  SectionIndex index;
  index_sections(path, scan.sections, &index);
  file->sections.reserve(scan.sections.size() + 1);  // + 1: room for the top-level target in front
  for (const IniSection& s : scan.sections) {
    file->sections.emplace_back();
    file->sections.back().origins.section_line = s.line;
  }
  PairPlacer placer(path, index, file);
  if (!read_ini_pairs(path, text, scan, [&placer](const char* section, const char* key, const char* value, int line) {
        placer.place(section, key, value, line);
      }, error))
    return false;
  if (!index.error.empty() || !placer.error().empty()) {
    *error = !index.error.empty() ? index.error : placer.error();
    return false;
  }
  index.by_name.clear();  // it points into scan.sections' names
  for (size_t i = 0; i < scan.sections.size(); ++i) file->sections[i].name = std::move(scan.sections[i].name);
  if (!top_level_only) file->has_sections = !file->sections.empty();
  return true;
}

// ---- typed conversion ------------------------------------------------------


}  // namespace

size_t max_in_flight_for_open_files(uint64_t soft_limit) {
  constexpr uint64_t kOwn = 64, kPerProbe = 4, kLeast = 16, kMost = 1024;
  uint64_t n = soft_limit > kOwn ? (soft_limit - kOwn) / kPerProbe : 0;
  return static_cast<size_t>(std::min(kMost, std::max(kLeast, n)));
}

uint64_t open_files_for_max_in_flight(size_t max_in_flight) { return 64 + 4 * static_cast<uint64_t>(max_in_flight); }

namespace {




const RawValue* get(const RawValues& raw, const std::string& key) {
  auto it = raw.find(key);
  return it == raw.end() ? nullptr : &it->second;
}


// Converts one target value (not url=) into `s`. Checks that involve two
// keys (timeout against tick) are convert_settings' business.
bool convert_value(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error) {
  std::string why;
  auto suffix = [&key](const char* prefix) { return key.substr(std::char_traits<char>::length(prefix)); };
  if (key == "tick") return parse_duration_at_least(key, v, kMinTick, &s->tick, error);
  if (key == "status") {
    if (StatusSpec::parse(v.text, &s->status, &why)) return true;
    *error = cite(key, v) + ": " + why;
    return false;
  }
  if (key == "server") s->server = v.text;
  else if (key == "content_type") s->content_type = v.text;
  else if (key == "body_contains") s->body_contains = v.text;
  else if (key == "body_regex") s->body_regex = v.text;
  else if (key == "max_response_time") {
    Nanos d{};
    if (!parse_positive_duration(key, v, &d, error)) return false;
    s->max_response_time = d;
  } else if (key == "cert_min_days") {
    int days = 0;
    if (!parse_int(key, v, 0, 36500, &days, error)) return false;
    s->cert_min_days = days;
  } else if (key == "user_agent") {
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
  } else if (key == "method") {
    return parse_method(key, v, &s->method, error);
  } else if (key == "timeout") {
    return parse_duration_at_least(key, v, kMinTimeout, &s->timeout, error);
  } else if (key == "follow_redirects") {
    return parse_bool(key, v, &s->follow_redirects, error);
  } else if (key == "max_redirects") {
    return parse_int(key, v, 0, 50, &s->max_redirects, error);
  } else if (key == "reuse_connections") {
    return parse_bool(key, v, &s->reuse_connections, error);
  } else if (key == "ip_version") {
    if (v.text == "any") s->ip_version = IpVersion::Any;
    else if (v.text == "4") s->ip_version = IpVersion::V4;
    else if (v.text == "6") s->ip_version = IpVersion::V6;
    else {
      *error = cite(key, v) + ": invalid value \"" + v.text + "\" (any, 4 or 6)";
      return false;
    }
  } else if (key == "insecure") {
    return parse_bool(key, v, &s->insecure, error);
  } else if (key == "ca_file") {
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
  } else if (key == "max_body") {
    if (parse_size(v.text, &s->max_body, &why)) return true;
    *error = cite(key, v) + ": " + why;
    return false;
  } else if (key == "failure_threshold") {
    return parse_int(key, v, 1, 1000, &s->failure_threshold, error);
  } else if (key == "success_threshold") {
    return parse_int(key, v, 1, 1000, &s->success_threshold, error);
  } else if (is_family(key, "header.")) {
    s->header_checks.push_back({suffix("header."), v.text, false});
  } else if (is_family(key, "header_regex.")) {
    s->header_checks.push_back({suffix("header_regex."), v.text, true});
  } else if (is_family(key, "request_header.")) {
    return parse_request_header(key, v, suffix("request_header."), &s->request_headers, error);
  } else if (is_alert_key(key)) {
    return convert_alert_value(key, v, &s->alert, error);
  }
  return true;
}

// Converts a target's effective values (every key but url=, defaults
// included) in a fixed order, so that the first error is always the same.
bool convert_settings(const RawValues& raw, TargetSettings* s, std::string* error) {
  static const char* const kOrder[] = {
      "tick",    "status",  "server",           "content_type",  "body_contains",     "body_regex",
      "max_response_time", "cert_min_days",    "user_agent",    "method",            "timeout",
      "follow_redirects",  "max_redirects",    "reuse_connections", "ip_version",    "insecure",
      "ca_file", "max_body", "failure_threshold", "success_threshold"};
  for (const char* name : kOrder) {
    std::string key = name;
    const RawValue* v = get(raw, key);
    if (v == nullptr) continue;
    if (!convert_value(key, *v, s, error)) return false;
    if (key != "timeout" || s->timeout <= s->tick) continue;
    if (v->origin.kind != Origin::Kind::Default) {
      *error = cite(key, *v) + ": " + v->text + " is longer than tick (" + format_duration(s->tick) +
               "); a probe must end before the next one starts";
      return false;
    }
    s->timeout = s->tick;
    s->timeout_capped = true;
  }
  for (size_t i = 0; i < kAlertKeyCount; ++i) {
    const RawValue* v = get(raw, kAlertKeys[i]);
    if (v != nullptr && !convert_alert_value(kAlertKeys[i], *v, &s->alert, error)) return false;
  }
  // The families, in key order.
  for (const auto& [key, v] : raw) {
    if (!is_family(key, "header.") && !is_family(key, "header_regex.") && !is_family(key, "request_header.") &&
        !is_family(key, "webhook_header.") && !is_family(key, "alert_label."))
      continue;
    if (!convert_value(key, v, s, error)) return false;
  }
  return true;
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
  const RawValue* listen = get(raw, "listen");
  g->listen = listen->text;
  if (!g->listen.empty()) {
    ListenAddress la;
    std::string why;
    if (!parse_listen_address(g->listen, &la, &why)) {
      *error = cite("listen", *listen) + ": " + why;
      return false;
    }
  }
  g->state_file = get(raw, "state_file")->text;
  const RawValue* mif = get(raw, "max_in_flight");
  g->open_file_limit = 0;
  if (mif->text == "auto") {
    struct rlimit rl {};
    g->open_file_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? static_cast<uint64_t>(rl.rlim_cur) : 1024;
    g->max_in_flight = max_in_flight_for_open_files(g->open_file_limit);
  } else {
    int n = 0;
    if (!parse_int("max_in_flight", *mif, 1, 1000000, &n, error)) {
      *error += " or auto";
      return false;
    }
    g->max_in_flight = static_cast<size_t>(n);
  }
  return true;
}

void apply_defaults(RawValues* raw, KeyScope scope) {
  for (const KeyInfo& k : known_keys()) {
    if (k.scope != scope || k.default_value == nullptr) continue;
    raw->emplace(k.name, RawValue{k.default_value, {}});
  }
}

KeyScope scope_of(const std::string& key) { return find_key(key)->scope; }

void overlay_file_values(RawValues* raw, const std::string& path, const std::vector<FileValue>& values, KeyScope scope) {
  for (const FileValue& v : values)
    if (v.key != "url" && scope_of(v.key) == scope)
      (*raw)[v.key] = {v.text, {Origin::Kind::File, where_in_file(path, v.line)}};
}

void overlay_overrides(RawValues* raw, const RawValues& overrides, KeyScope scope) {
  for (const auto& [k, v] : overrides)
    if (k != "url" && scope_of(k) == scope) (*raw)[k] = v;
}

// The effective values of a target whose section sets `own` (none for the
// top-level target), url= aside: default < top level < own < env/flags.
RawValues target_values(const SharedLayers& shared, const std::vector<FileValue>& own) {
  RawValues raw;
  apply_defaults(&raw, KeyScope::Target);
  overlay_file_values(&raw, shared.path, shared.top, KeyScope::Target);
  overlay_file_values(&raw, shared.path, own, KeyScope::Target);
  overlay_overrides(&raw, shared.overrides, KeyScope::Target);
  return raw;
}

// Converts each distinct set of section values once: targets whose sections
// set the same keys to the same text share their settings.
class SettingsCache {
 public:
  explicit SettingsCache(std::shared_ptr<const SharedLayers> shared) : shared_(std::move(shared)) {}

  std::shared_ptr<const TargetSettings> get(const std::vector<FileValue>& own, std::string* error) {
    std::string key = cache_key(own);
    auto it = by_values_.find(key);
    if (it != by_values_.end()) return it->second;
    auto s = std::make_shared<TargetSettings>();
    if (!convert_settings(target_values(*shared_, own), s.get(), error)) return nullptr;
    by_values_.emplace(std::move(key), s);
    return s;
  }

 private:
  // The texts and kinds decide the conversion, never the lines.
  static std::string cache_key(const std::vector<FileValue>& own) {
    if (own.empty()) return std::string();
    std::vector<const FileValue*> sorted;
    sorted.reserve(own.size());
    for (const FileValue& v : own) sorted.push_back(&v);
    std::sort(sorted.begin(), sorted.end(), [](const FileValue* a, const FileValue* b) { return a->key < b->key; });
    std::string key;
    for (const FileValue* v : sorted) {
      key += v->key;
      key += '\0';
      key += v->text;
      key += '\0';
    }
    return key;
  }

  std::shared_ptr<const SharedLayers> shared_;
  std::unordered_map<std::string, std::shared_ptr<const TargetSettings>> by_values_;
};

// Checks a target's URL (naming `url_origin()` when it is bad) and gives the
// target its settings.
template <class UrlOrigin>
bool finish_target(const UrlOrigin& url_origin, SettingsCache* cache, TargetConfig* t, std::string* error) {
  std::string why = url_problem(t->url);
  if (!why.empty()) {
    *error = cite_origin("url", url_origin()) + ": " + why;
    return false;
  }
  std::string masked = redact_url(t->url);
  if (masked != t->url) t->masked_url = std::move(masked);
  t->settings = cache->get(t->origins.own, error);
  return t->settings != nullptr;
}

std::string missing_url_message(const std::string& config_path) {
  return "no URL to probe: set it with the flag -url=URL, the environment variable OBSERVER_URL=URL, "
         "or url=URL in the config file" +
         (config_path.empty() ? std::string(" (-config PATH or OBSERVER_CONFIG=PATH)")
                              : " " + config_path);
}

// The layers every target shares, and the global settings. `file` has been
// read (or is empty when there is no file); its top level moves into the
// shared layers.
struct Loaded {
  std::shared_ptr<SharedLayers> shared;
  GlobalConfig global;
};

// state_file=auto: systemd's StateDirectory= (the first, when it lists
// several), else none.
void resolve_state_file(const Environment& env, GlobalConfig* g) {
  if (g->state_file != "auto") return;
  auto it = env.find("STATE_DIRECTORY");
  std::string dir = it == env.end() ? std::string() : it->second.substr(0, it->second.find(':'));
  g->state_file = dir.empty() ? std::string() : dir + "/state";
}

bool load_layers(const CommandLine& cl, const RawValues& env_values, const std::string& config_path,
                 FileContents* file, Loaded* out, std::string* error) {
  out->shared = std::make_shared<SharedLayers>();
  SharedLayers& shared = *out->shared;
  shared.path = config_path;
  shared.top = std::move(file->top);
  // Command line over environment: the layer that overrides every target.
  shared.overrides = env_values;
  for (const auto& [k, v] : cl.flags) shared.overrides[k] = v;

  RawValues global;
  apply_defaults(&global, KeyScope::Global);
  overlay_file_values(&global, shared.path, shared.top, KeyScope::Global);
  overlay_overrides(&global, shared.overrides, KeyScope::Global);
  return convert_global(global, &out->global, error);
}

// The top-level target: the seed's single target. It exists when a URL is
// set outside any section, or when there are no sections at all (and then a
// missing URL is the error to report). Sets `*exists`.
bool make_top_level_target(const std::shared_ptr<SharedLayers>& shared, bool has_sections, SettingsCache* cache,
                           TargetConfig* t, bool* exists, std::string* error) {
  Origin url_origin;
  auto flag = shared->overrides.find("url");
  const FileValue* top_url = find_file_value(shared->top, "url");
  if (flag != shared->overrides.end()) {
    t->url = flag->second.text;
    url_origin = flag->second.origin;
  } else if (top_url != nullptr) {
    t->url = top_url->text;
    url_origin = {Origin::Kind::File, where_in_file(shared->path, top_url->line)};
  } else {
    *exists = false;
    if (!has_sections) *error = missing_url_message(shared->path);
    return has_sections;
  }
  *exists = true;
  t->name = kTopLevelTargetName;
  t->origins.shared = shared;
  return finish_target([&url_origin] { return url_origin; }, cache, t, error);
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

  FileContents file;
  if (!config.config_path.empty() && !read_file(config.config_path, false, &file, error)) return false;
  Loaded loaded;
  if (!load_layers(cl, env_values, config.config_path, &file, &loaded, error)) return false;
  config.global = std::move(loaded.global);
  resolve_state_file(env, &config.global);

  SettingsCache cache(loaded.shared);
  TargetConfig top;
  bool has_top = false;
  if (!make_top_level_target(loaded.shared, file.has_sections, &cache, &top, &has_top, error)) return false;
  for (TargetConfig& t : file.sections) {
    t.origins.shared = loaded.shared;
    if (t.origins.url_line == 0) {
      *error = where_in_file(config.config_path, t.origins.section_line) + ": section [" + t.name +
               "] has no url= (each section is a target and needs its own URL)";
      return false;
    }
    auto url_origin = [&] { return Origin{Origin::Kind::File, where_in_file(config.config_path, t.origins.url_line)}; };
    if (!finish_target(url_origin, &cache, &t, error)) return false;
  }
  config.targets = std::move(file.sections);  // reserved with room for one more in front
  if (has_top) config.targets.insert(config.targets.begin(), std::move(top));
  out->config = std::move(config);
  return true;
}

Action requested_action(const std::vector<std::string>& args) {
  CommandLine cl;
  std::string error;
  return parse_flags(args, &cl, &error) ? cl.action : Action::Run;
}

bool load_process_settings(const std::vector<std::string>& args, const Environment& env, Action* action,
                           GlobalConfig* out, std::string* error) {
  CommandLine cl;
  if (!parse_flags(args, &cl, error)) return false;
  *action = cl.action;
  if (cl.action != Action::Run) return true;

  RawValues env_values;
  std::string env_config;
  if (!read_env(env, &env_values, &env_config, error)) return false;
  std::string config_path = !cl.config_path.empty() ? cl.config_path : env_config;
  FileContents file;
  if (!config_path.empty() && !read_file(config_path, true, &file, error)) return false;
  Loaded loaded;
  if (!load_layers(cl, env_values, config_path, &file, &loaded, error)) return false;

  SettingsCache cache(loaded.shared);
  TargetConfig top;
  bool has_top = false;
  if (!make_top_level_target(loaded.shared, file.has_sections, &cache, &top, &has_top, error)) return false;
  if (!has_top) {
    // Every target takes these as they are: a value that does not convert
    // fails in the worker's first target.
    TargetSettings scratch;
    for (const auto& [key, v] : loaded.shared->overrides)
      if (key != "url" && scope_of(key) == KeyScope::Target && !convert_value(key, v, &scratch, error)) return false;
  }
  *out = std::move(loaded.global);
  resolve_state_file(env, out);
  return true;
}

}  // namespace observer
