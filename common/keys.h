// The table of configuration keys: every key observer knows, one row each
// with everything about it: where it may appear, its default, one line of
// help, how its value is converted, how -check-config shows it and how a
// flag gives it. The flags, the environment, the file, the conversion (in
// the table's order), -check-config, -help and the "did you mean"
// suggestions all read this one table; a row cannot be written without its
// converter, and keys.cc checks the table when it compiles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace observer {

struct RawValue;
struct TargetSettings;
struct AlertSettings;
struct GlobalConfig;

enum class KeyScope {
  Target,  // per target; top-level value is the default of every [section]
  Global,  // process-wide; top level, flag or environment only
};

// A key's converter: checks one value (`key` is the key as given, a
// family's with its NAME) and stores it, typed, in what it converts into;
// false with a message citing the value's origin (config_values.h's cite()).
using ConvertProbe = bool(const std::string& key, const RawValue& v, TargetSettings* s, std::string* error);
using ConvertAlert = bool(const std::string& key, const RawValue& v, AlertSettings* a, std::string* error);
using ConvertProcess = bool(const std::string& key, const RawValue& v, GlobalConfig* g, std::string* error);
// url= is the target's own, not a shared setting: why it cannot be probed,
// or "" (the caller names where it was set).
using CheckUrl = std::string(const std::string& url);

// Where a key's value goes: one converter, picked by the constructor that
// fits the row's function; a row without one does not compile (there is no
// default constructor, and a bare nullptr fits every constructor). `then`
// optionally checks a probe value against those converted before it (table
// order) once a target's every value is known; it is skipped when a value is
// checked alone.
struct Converter {
  enum class Into : uint8_t { Probe, Alert, Process, Url };
  constexpr Converter(ConvertProbe* f, ConvertProbe* then_check = nullptr)
      : into(Into::Probe), probe(f), then(then_check) {}
  constexpr Converter(ConvertAlert* f) : into(Into::Alert), alert(f) {}
  constexpr Converter(ConvertProcess* f) : into(Into::Process), process(f) {}
  constexpr Converter(CheckUrl* f) : into(Into::Url), url(f) {}

  Into into;
  ConvertProbe* probe = nullptr;      // into TargetSettings
  ConvertAlert* alert = nullptr;      // into TargetSettings::alert
  ConvertProcess* process = nullptr;  // into GlobalConfig
  CheckUrl* url = nullptr;            // the target's URL
  ConvertProbe* then = nullptr;
};

// How -check-config shows a key's value (an empty one is always "").
enum class Shown : uint8_t {
  AsIs,
  Url,            // redact_url(): its password and secret query values masked
  UrlList,        // URL[,URL...], each as Url
  WebhookUrl,     // mask_webhook_url(): scheme, host and port only
  SecretIfNamed,  // a header family: "****" when is_secret_name(NAME)
};

// How a flag gives the key's value.
enum class FlagForm : uint8_t {
  WithValue,  // -key=VALUE or -key VALUE
  Bare,       // also -key alone, meaning true: -insecure
};

struct KeyInfo {
  const char* name;           // "tick", or a prefix ending in '.' for families
  KeyScope scope;
  const char* default_value;  // nullptr: unset (an unset expectation is not checked)
  const char* help;
  Converter convert;
  Shown shown = Shown::AsIs;
  FlagForm flag = FlagForm::WithValue;

  // A family ("header.") names a key per NAME: header.X-Foo.
  constexpr bool is_family() const {
    size_t n = 0;
    while (name[n] != '\0') ++n;
    return n > 0 && name[n - 1] == '.';
  }
  bool is_bool() const { return flag == FlagForm::Bare; }
  // An unset alert key sends nothing; an unset expectation is not checked.
  bool is_alert() const { return convert.into == Converter::Into::Alert; }
};

// The rows, in the order -help and -check-config list them and the loader
// converts them.
struct KeyTable {
  const KeyInfo* first;
  const KeyInfo* last;
  const KeyInfo* begin() const { return first; }
  const KeyInfo* end() const { return last; }
  size_t size() const { return static_cast<size_t>(last - first); }
};
KeyTable known_keys();

// Finds a key, including families such as "header.X-Foo" (which needs a
// non-empty suffix). Returns nullptr for an unknown key.
const KeyInfo* find_key(std::string_view name);

// The known key nearest to `name` by edit distance, or "" when none is close.
std::string closest_key(std::string_view name);

// The key's other forms: the flag "-tick" and the environment variable
// "OBSERVER_TICK" (families have none: their NAMEs are case-sensitive).
std::string flag_form(std::string_view key);
std::string env_form(std::string_view key);
constexpr std::string_view kEnvPrefix = "OBSERVER_";

// Whether a request header or a URL query parameter of this name carries a
// credential, whose value is never shown. Case-insensitive; the name may be
// percent-encoded. Secret when the name contains auth, token, key, secret,
// cookie, passw, pwd, session, credential, signature or private, or when one
// of its words (split at anything but letters and digits) is pw, pass, tok,
// sig, cred, creds, sid, jwt, otp, csrf, xsrf or hmac.
bool is_secret_name(std::string_view name);

// Whether the value of this key is a secret that -check-config must mask:
// a key of a Shown::SecretIfNamed family (request_header.NAME,
// webhook_header.NAME) where is_secret_name(NAME).
bool is_secret_key(std::string_view name);

}  // namespace observer
