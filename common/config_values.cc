#include "common/config_values.h"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace observer {

namespace {
constexpr size_t kMaxMethodLength = 32;
}  // namespace

// A control character (C0 or DEL) in `text`, as its position; npos when none.
// `allow_tab`: a header value may hold a horizontal tab.
size_t find_control(std::string_view text, bool allow_tab) {
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f) return i;
  }
  return std::string_view::npos;
}

// Request headers that frame the message or choose where it goes: set by
// hand, they could make a reused connection read a body as the next
// response (Content-Length, Transfer-Encoding, Upgrade) or split what
// observer thinks it probes from what the server sees (Host: probe the
// host in the URL).
bool is_forbidden_request_header(std::string_view name) {
  for (std::string_view forbidden : {"host", "content-length", "transfer-encoding", "upgrade"}) {
    if (name.size() != forbidden.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(name[i])) == forbidden[i];
    if (same) return true;
  }
  return false;
}

// RFC 9110's token: what a header name may be made of.
bool is_token(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::strchr("!#$%&'*+-.^_`|~", c) == nullptr) return false;
  return true;
}

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

bool parse_duration_at_least(const std::string& key, const RawValue& v, Nanos min, Nanos* out, std::string* error) {
  if (!parse_positive_duration(key, v, out, error)) return false;
  if (*out < min) {
    *error = cite(key, v) + ": " + v.text + " is below the minimum of " + format_duration(min);
    return false;
  }
  return true;
}

// Why `url` cannot be probed (the caller names where it was set), or "".
std::string url_problem(const std::string& url) {
  size_t host_at = 0;
  if (url_has_scheme(url, "http://")) host_at = 7;
  else if (url_has_scheme(url, "https://")) host_at = 8;
  if (host_at == 0) return "\"" + printable(url) + "\" is not an http:// or https:// URL";
  // The URL is half of a target's identity across reloads, sent whole on
  // the control channel; far past any real URL, and a clear error here.
  if (url.size() > kMaxUrlLength)
    return "URL is " + std::to_string(url.size()) + " characters long; the limit is " + std::to_string(kMaxUrlLength);
  if (host_at >= url.size() || url[host_at] == '/' || url.find_first_of(" \t\r\n") != std::string::npos)
    return "\"" + printable(url) + "\" has no host or contains white space";
  // curl refuses a URL with a control character in every probe ("bad/illegal
  // format"): say so once, at load.
  size_t ctl = find_control(url, false);
  if (ctl != std::string::npos)
    return "\"" + printable(url) + "\" contains a control character at position " + std::to_string(ctl + 1) +
           " (percent-encode it)";
  return "";
}

std::string family_name(const std::string& key) { return key.substr(key.find('.') + 1); }

bool parse_method(const std::string& key, const RawValue& v, std::string* out, std::string* error) {
  if (v.text.empty() || v.text.size() > kMaxMethodLength ||
      v.text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos) {
    std::string shown = v.text.size() > kMaxMethodLength ? printable(v.text.substr(0, kMaxMethodLength)) + "..."
                                                         : printable(v.text);
    *error = cite(key, v) + ": invalid method \"" + shown + "\" (1 to " + std::to_string(kMaxMethodLength) +
             " upper-case letters, e.g. GET or HEAD)";
    return false;
  }
  // CONNECT asks for a tunnel, not a resource: no answer to it can be
  // checked like a probe's, nor is it a way to deliver an alert.
  if (v.text == "CONNECT") {
    *error = cite(key, v) + ": CONNECT opens a tunnel and cannot probe a URL; use GET, HEAD or another method";
    return false;
  }
  *out = v.text;
  return true;
}

bool parse_request_header(const std::string& key, const RawValue& v, const std::string& name,
                          std::vector<std::pair<std::string, std::string>>* out, std::string* error) {
  if (!is_token(name) || find_control(v.text, true) != std::string::npos) {
    *error = cite(key, v) +
             ": header names are letters, digits and !#$%&'*+-.^_`|~ only, and values may not contain line "
             "breaks or control characters";
    return false;
  }
  if (is_forbidden_request_header(name)) {
    *error = cite(key, v) + ": " + name +
             " is set by observer (it frames the request or names the host in the URL) and may not be given";
    return false;
  }
  out->emplace_back(name, v.text);
  return true;
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

}  // namespace observer
