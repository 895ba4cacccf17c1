// What a message or -check-config may show of a value: its control
// characters escaped, and the secrets of a URL masked.
#pragma once

#include <string>
#include <string_view>

namespace observer {

// `text` as a message may show it: control characters and line breaks
// escaped (\n, \x1b), so no value can forge a line of output or drive a
// terminal. Backslashes stay as they are: regular expressions read as typed.
std::string printable(std::string_view text);

// Whether `url` begins with `scheme` ("https://"), in any case, as URL
// schemes are compared (RFC 3986 3.1).
bool url_has_scheme(std::string_view url, std::string_view scheme);

// `url` with the password of its user-info, and the value of every query
// (or fragment) parameter whose name looks like a credential (is_secret_name:
// ?api_key=, &token=, &sig=), replaced by "****".
std::string redact_url(const std::string& url);
// A webhook URL as it may be shown: scheme, host and port, the rest (a
// Slack or Discord URL's path is its secret) as "****".
std::string mask_webhook_url(const std::string& url);
// Whether `url` has a password in its user-info.
bool url_has_password(const std::string& url);

}  // namespace observer
