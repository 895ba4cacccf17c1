// The table of configuration keys: every key observer knows, where it may
// appear, its default and one line of help. The loader, -check-config, -help
// and the "did you mean" suggestions all read this one table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace observer {

enum class KeyScope {
  Target,  // per target; top-level value is the default of every [section]
  Global,  // process-wide; top level, flag or environment only
};

struct KeyInfo {
  const char* name;           // "tick", or a prefix ending in '.' for families
  KeyScope scope;
  const char* default_value;  // nullptr: unset (an unset expectation is not checked)
  const char* help;
  bool is_bool;               // a flag may be given without a value: -insecure
};

const std::vector<KeyInfo>& known_keys();

// Finds a key, including families such as "header.X-Foo" (which needs a
// non-empty suffix). Returns nullptr for an unknown key.
const KeyInfo* find_key(std::string_view name);

// The known key nearest to `name` by edit distance, or "" when none is close.
std::string closest_key(std::string_view name);

// Whether a request header or a URL query parameter of this name carries a
// credential, whose value is never shown. Case-insensitive; the name may be
// percent-encoded. Secret when the name contains auth, token, key, secret,
// cookie, passw, pwd, session, credential, signature or private, or when one
// of its words (split at anything but letters and digits) is pw, pass, tok,
// sig, cred, creds, sid, jwt, otp, csrf, xsrf or hmac.
bool is_secret_name(std::string_view name);

// Whether the value of this key is a secret that -check-config must mask:
// request_header.NAME where is_secret_name(NAME).
bool is_secret_key(std::string_view name);

}  // namespace observer
