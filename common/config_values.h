// The checks and conversions that turn one configuration value's text into
// its type, each error naming where the value came from (cite_origin):
// shared by the converters of the key table (probe_keys.cc, alert_keys.cc,
// process_keys.cc) and the loader. Internal to the configuration.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/duration.h"

namespace observer {

// Below the control channel's 4096-byte string frame: a URL is half of a
// target's identity across reloads.
constexpr size_t kMaxUrlLength = 4000;

// A control character (C0 or DEL) in `text`, as its position; npos when none.
// `allow_tab`: a header value may hold a horizontal tab.
size_t find_control(std::string_view text, bool allow_tab);
// Request headers that frame the message or choose where it goes (Host,
// Content-Length, Transfer-Encoding, Upgrade): observer sets them.
bool is_forbidden_request_header(std::string_view name);
// RFC 9110's token: what a header name may be made of.
bool is_token(std::string_view name);
// A family's key without its prefix: "X-Foo" of "header.X-Foo".
std::string family_name(const std::string& key);

// "observer.conf:3: tick", "flag -tick": how an error names the value.
std::string cite(const std::string& key, const RawValue& v);
bool parse_bool(const std::string& key, const RawValue& v, bool* out, std::string* error);
bool parse_int(const std::string& key, const RawValue& v, long lo, long hi, int* out, std::string* error);
bool parse_positive_duration(const std::string& key, const RawValue& v, Nanos* out, std::string* error);
bool parse_duration_at_least(const std::string& key, const RawValue& v, Nanos min, Nanos* out, std::string* error);
// An HTTP method: 1 to 32 upper-case letters, not CONNECT.
bool parse_method(const std::string& key, const RawValue& v, std::string* out, std::string* error);
// A header observer sends (request_header.NAME, webhook_header.NAME) named
// `name`: a token, a value without line breaks, not one observer sets itself.
bool parse_request_header(const std::string& key, const RawValue& v, const std::string& name,
                          std::vector<std::pair<std::string, std::string>>* out, std::string* error);
// Why `url` cannot be probed or sent to (the caller names where it was set),
// or "": http:// or https://, a host, no white space or control character,
// at most kMaxUrlLength.
std::string url_problem(const std::string& url);

}  // namespace observer
