// The loader: the layers every target shares (defaults < the file's top
// level < its section < environment < flags), merged per target and
// converted through the key table, in the table's order, so that the first
// error is always the same.
#include "common/config.h"

#include <algorithm>
#include <unordered_map>

#include "common/command_line.h"
#include "common/config_file.h"
#include "common/config_values.h"
#include "common/keys.h"

namespace observer {

namespace {

// The values of `raw` that row `k` converts, in key order: the one named
// so, or each of a family's.
template <class Fn>
bool for_each_value(const RawValues& raw, const KeyInfo& k, Fn fn) {
  std::string_view name = k.name;
  for (auto it = raw.lower_bound(k.name); it != raw.end(); ++it) {
    std::string_view key = it->first;
    if (k.is_family() ? key.substr(0, name.size()) != name : key != name) break;
    if (!fn(it->first, it->second)) return false;
  }
  return true;
}

// Converts one target value (not url=) as row `k` says, without checks
// against other keys.
bool convert_alone(const KeyInfo& k, const std::string& key, const RawValue& v, TargetSettings* s,
                   std::string* error) {
  if (k.convert.probe != nullptr) return k.convert.probe(key, v, s, error);
  if (k.convert.alert != nullptr) return k.convert.alert(key, v, &s->alert, error);
  return true;  // url= is the target's own; process-wide keys are not a target's
}

// Converts a target's effective values (every key but url=, defaults
// included) in the table's order.
bool convert_settings(const RawValues& raw, TargetSettings* s, std::string* error) {
  for (const KeyInfo& k : known_keys()) {
    if (k.scope != KeyScope::Target) continue;
    bool ok = for_each_value(raw, k, [&](const std::string& key, const RawValue& v) {
      return convert_alone(k, key, v, s, error) && (k.convert.then == nullptr || k.convert.then(key, v, s, error));
    });
    if (!ok) return false;
  }
  return true;
}

bool convert_global(const RawValues& raw, GlobalConfig* g, std::string* error) {
  g->raw = raw;
  for (const KeyInfo& k : known_keys()) {
    if (k.convert.process == nullptr) continue;
    bool ok = for_each_value(raw, k, [&](const std::string& key, const RawValue& v) {
      return k.convert.process(key, v, g, error);
    });
    if (!ok) return false;
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

// Checks a target's URL with its row's converter (naming `url_origin()`
// when it is bad) and gives the target its settings.
template <class UrlOrigin>
bool finish_target(const UrlOrigin& url_origin, SettingsCache* cache, TargetConfig* t, std::string* error) {
  static const KeyInfo& url_key = *find_key("url");
  std::string why = url_key.convert.url(t->url);
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

// Moves the other shards' targets (every target checked already) out of
// `targets`, keeping the file order of both lists.
void keep_own_shard(Config* config) {
  const Shard& shard = config->global.shard;
  if (shard.count == 1) return;
  std::vector<TargetConfig> own;
  for (TargetConfig& t : config->targets) (owns(shard, t.name) ? own : config->elsewhere).push_back(std::move(t));
  config->targets = std::move(own);
  config->elsewhere_count = config->elsewhere.size();
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
  keep_own_shard(&config);
  out->config = std::move(config);
  return true;
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
    for (const auto& [key, v] : loaded.shared->overrides) {
      const KeyInfo* k = find_key(key);
      if (k->scope == KeyScope::Target && !convert_alone(*k, key, v, &scratch, error)) return false;
    }
  }
  *out = std::move(loaded.global);
  resolve_state_file(env, out);
  return true;
}

}  // namespace observer
