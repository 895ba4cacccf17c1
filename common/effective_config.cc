// What a target's values are and where they came from, looked up through the
// layers (flag/env > section > top level > default) instead of stored per
// target; -check-config's rendering of them; -help.
#include <algorithm>

#include "common/config.h"
#include "common/keys.h"
#include "common/version.h"

namespace observer {

// Flags, variables and paths are spelled by whoever started observer: shown
// with their control characters escaped (printable()).
std::string Origin::describe() const {
  switch (kind) {
    case Kind::Default: return where.empty() ? "default" : "default, " + printable(where);
    case Kind::File: return printable(where);
    case Kind::Env: return "env " + printable(where);
    case Kind::Flag: return "flag " + printable(where);
  }
  return "?";
}

std::string cite_origin(const std::string& key, const Origin& origin) {
  switch (origin.kind) {
    case Origin::Kind::File: return printable(origin.where + ": " + key);
    case Origin::Kind::Env: return printable(origin.where);
    case Origin::Kind::Flag: return "flag " + printable(origin.where);
    case Origin::Kind::Default: return "default " + key;
  }
  return key;
}

namespace {

constexpr const char* kCappedAtTick = "capped at tick";

// One effective value without copying it: its text and where it was set.
struct ValueRef {
  bool set = false;
  const std::string* text = nullptr;  // the stored text; nullptr: `computed` is
  std::string computed;               // a default, or the timeout capped at tick
  Origin::Kind kind = Origin::Kind::Default;
  int line = 0;                        // File
  const std::string* where = nullptr;  // Env, Flag: the variable or flag
  bool capped = false;

  const std::string& value() const { return text != nullptr ? *text : computed; }
};

ValueRef stored(const std::string& text, Origin::Kind kind, int line, const std::string* where) {
  ValueRef r;
  r.set = true;
  r.text = &text;
  r.kind = kind;
  r.line = line;
  r.where = where;
  return r;
}

// flag/env > the target's section > top level > default; a section's url is
// its own. `info` is find_key(key).
ValueRef find_value(const TargetConfig& t, std::string_view key, const KeyInfo* info) {
  const SharedLayers* shared = t.origins.shared.get();
  if (info == nullptr || info->scope != KeyScope::Target || shared == nullptr) return ValueRef();
  if (key == "url" && t.in_section())
    return t.origins.url_line != 0 ? stored(t.url, Origin::Kind::File, t.origins.url_line, nullptr) : ValueRef();
  if (!shared->overrides.empty()) {
    auto over = shared->overrides.find(std::string(key));
    if (over != shared->overrides.end())
      return stored(over->second.text, over->second.origin.kind, 0, &over->second.origin.where);
  }
  const FileValue* v = t.in_section() ? find_file_value(t.origins.own, key) : nullptr;
  if (v == nullptr) v = find_file_value(shared->top, key);
  if (v != nullptr) return stored(v->text, Origin::Kind::File, v->line, nullptr);
  ValueRef r;
  if (key == "timeout" && t.settings != nullptr && t.settings->timeout_capped) {
    r.set = r.capped = true;
    r.computed = format_duration(t.settings->tick);
  } else if (info->default_value != nullptr) {
    r.set = true;
    r.computed = info->default_value;
  }
  return r;
}

void append_origin(const ValueRef& r, const std::string& path, std::string* out) {
  switch (r.kind) {
    case Origin::Kind::Default:
      *out += r.capped ? "default, " : "default";
      if (r.capped) *out += kCappedAtTick;
      return;
    case Origin::Kind::File:
      *out += path;
      *out += ':';
      *out += std::to_string(r.line);
      return;
    case Origin::Kind::Env: *out += "env "; break;
    case Origin::Kind::Flag: *out += "flag "; break;
  }
  *out += *r.where;
}

// The keys shown for a family ("header."): every one set, sorted.
std::vector<std::string> family_keys(const TargetConfig& t, std::string_view prefix) {
  std::vector<std::string> keys;
  auto take = [&](const std::string& k) {
    if (k.size() > prefix.size() && std::string_view(k).substr(0, prefix.size()) == prefix) keys.push_back(k);
  };
  for (const auto& kv : t.origins.shared->overrides) take(kv.first);
  for (const FileValue& v : t.origins.shared->top) take(v.key);
  if (t.in_section())
    for (const FileValue& v : t.origins.own) take(v.key);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

// `text`, the value of `key` (a key of row `info`), as its row says it is shown.
void append_display_value(std::string_view key, const KeyInfo& info, const std::string& text, std::string* out) {
  if (info.shown == Shown::SecretIfNamed && is_secret_name(key.substr(std::string_view(info.name).size()))) {
    *out += "****";
    return;
  }
  if (text.empty()) {
    *out += "\"\"";
    return;
  }
  switch (info.shown) {
    case Shown::Url: *out += printable(redact_url(text)); return;
    case Shown::UrlList:
      for (size_t start = 0; start <= text.size();) {
        size_t comma = std::min(text.find(',', start), text.size());
        if (start > 0) *out += ',';
        *out += printable(redact_url(text.substr(start, comma - start)));
        start = comma + 1;
      }
      return;
    case Shown::WebhookUrl: *out += printable(mask_webhook_url(text)); return;
    case Shown::AsIs:
    case Shown::SecretIfNamed: *out += printable(text); return;
  }
}

void append_line(std::string_view key, const KeyInfo& info, size_t width, const ValueRef& r, const std::string& path,
                 std::string* out) {
  *out += "  ";
  *out += printable(key);
  out->append(width - key.size() + 2, ' ');
  if (!r.set) {
    // An unset expectation is not checked; an unset alert key sends nothing.
    *out += info.is_alert() ? "(unset)\n" : "(unset, not checked)\n";
    return;
  }
  append_display_value(key, info, r.value(), out);
  *out += "  (";
  append_origin(r, path, out);
  *out += ")\n";
}

// The keys -check-config shows for a target, in order, with their entries
// in the key table. Without header families (most targets) the list is the
// same for every target: `plain` is built once and reused.
class TargetKeys {
 public:
  TargetKeys() {
    for (const KeyInfo& k : known_keys())
      if (k.scope == KeyScope::Target && !k.is_family()) plain_width_ = std::max(plain_width_, std::string_view(k.name).size());
  }

  void render(const TargetConfig& t, const TargetNote* note, std::string* out) {
    keys_.clear();
    size_t width = plain_width_;
    if (note != nullptr) width = std::max(width, note->label.size());
    for (const KeyInfo& k : known_keys()) {
      if (k.scope != KeyScope::Target) continue;
      if (!k.is_family()) {
        keys_.push_back({std::string(), &k});
        continue;
      }
      for (std::string& f : family_keys(t, k.name)) {
        width = std::max(width, f.size());
        keys_.push_back({std::move(f), &k});
      }
    }
    *out += "target [";
    *out += printable(t.name);
    *out += "]:\n";
    for (const auto& [family_key, info] : keys_) {
      std::string_view key = family_key.empty() ? std::string_view(info->name) : std::string_view(family_key);
      append_line(key, *info, width, find_value(t, key, info), t.origins.shared->path, out);
    }
    if (note != nullptr) {
      *out += "  ";
      *out += note->label;
      out->append(width - note->label.size() + 2, ' ');
      *out += note->text(t);
      *out += '\n';
    }
  }

 private:
  size_t plain_width_ = 0;
  std::vector<std::pair<std::string, const KeyInfo*>> keys_;  // "" for a plain key
};

void render_global(const GlobalConfig& g, std::string* out) {
  std::vector<const KeyInfo*> keys;
  for (const KeyInfo& k : known_keys())
    if (k.scope == KeyScope::Global) keys.push_back(&k);
  size_t width = 0;
  for (const KeyInfo* info : keys) width = std::max(width, std::string_view(info->name).size());
  for (const KeyInfo* info : keys) {
    std::string_view k = info->name;
    auto it = g.raw.find(std::string(k));
    *out += "  ";
    *out += k;
    out->append(width - k.size() + 2, ' ');
    if (it == g.raw.end()) {
      *out += "(unset, not checked)\n";
      continue;
    }
    if (k == "max_in_flight" && g.open_file_limit != 0) {
      // auto: the number it came to, and from what.
      *out += std::to_string(g.max_in_flight) + "  (" + it->second.origin.describe() + ": auto, from the open-file limit " +
              std::to_string(g.open_file_limit) + ")\n";
      continue;
    }
    append_display_value(k, *info, it->second.text, out);
    *out += "  (" + it->second.origin.describe() + ")\n";
  }
}

// Sharded: one line per target of another shard, saying which one (a
// script joins these with the "target [NAME]:" lines of every shard), then
// the counts.
void append_shard_summary(const Config& config, std::string* out) {
  const Shard& shard = config.global.shard;
  if (shard.count == 1) return;
  if (!config.elsewhere.empty()) *out += "on other shards:\n";
  for (const TargetConfig& t : config.elsewhere)
    *out += "  [" + printable(t.name) + "] shard " + std::to_string(owner_shard(t.name, shard.count)) + "\n";
  *out += "shard " + shard.text() + ": " + std::to_string(config.targets.size()) + " of " +
          std::to_string(config.configured_targets()) + " targets here, " + std::to_string(config.elsewhere_count) +
          " on other shards\n";
}

}  // namespace

std::optional<RawValue> TargetConfig::value(std::string_view key) const {
  ValueRef r = find_value(*this, key, find_key(key));
  if (!r.set) return std::nullopt;
  RawValue v;
  v.text = r.value();
  v.origin.kind = r.kind;
  if (r.kind == Origin::Kind::File) v.origin.where = origins.shared->path + ":" + std::to_string(r.line);
  else if (r.where != nullptr) v.origin.where = *r.where;
  else if (r.capped) v.origin.where = kCappedAtTick;
  return v;
}

void write_effective_config(const Config& config, const std::function<void(const std::string&)>& sink,
                           const TargetNote* note) {
  constexpr size_t kChunk = 64 * 1024;
  std::string out = "config file: " + (config.config_path.empty() ? "(none)" : config.config_path) + "\n";
  out += "global:\n";
  render_global(config.global, &out);
  TargetKeys keys;
  for (const TargetConfig& t : config.targets) {
    keys.render(t, note, &out);
    if (out.size() >= kChunk) {
      sink(out);
      out.clear();
    }
  }
  append_shard_summary(config, &out);
  size_t all = config.configured_targets();
  out += std::to_string(all) + (all == 1 ? " target" : " targets") + ", configuration OK\n";
  sink(out);
}

std::string render_effective_config(const Config& config, const TargetNote* note) {
  std::string all;
  write_effective_config(config, [&all](const std::string& chunk) { all += chunk; }, note);
  return all;
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
    if (k.is_family()) name += "NAME";
    std::string def = k.default_value == nullptr ? "" : std::string(" [default: ") +
                      (*k.default_value ? k.default_value : "\"\"") + "]";
    std::string line = "  " + flag_form(name);
    line += std::string(line.size() < 22 ? 22 - line.size() : 1, ' ');
    out += line + k.help + def + (k.scope == KeyScope::Global ? " (process-wide)" : "") + "\n";
  }
  out += "\nExit codes: 0 stopped cleanly, 78 configuration error, 70 internal error.\n";
  return out;
}

}  // namespace observer
