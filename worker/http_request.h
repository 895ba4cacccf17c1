// HttpTarget: what the native HTTP/1.1 client (http_client.h) needs to probe
// one plain http:// target, worked out once at load: the request's bytes,
// where to connect, the body cap and the timeout. Also the rule for which
// targets the native client may probe at all; every other target stays with
// libcurl (probe.h).
//
// The request is what libcurl sends for the same target (request line, Host,
// Authorization from the URL's user-info, User-Agent, Accept, then the
// target's request_header.NAME lines in order; one of those with a default
// header's name replaces that header, an empty value sends "Name:"), plus
// "Connection: close": the server then closes first, so TIME_WAIT stays on
// its side and not on the monitor's ports.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "config.h"

namespace observer {

struct HttpTarget {
  std::string request;  // the whole request, written at once
  std::string host;     // as in the URL; an IPv6 literal without brackets
  uint16_t port = 80;
  bool numeric = false;       // host is an IP literal, `address` holds it
  sockaddr_storage address{};  // with `port`, when numeric
  IpVersion ip_version = IpVersion::Any;
  bool head = false;  // HEAD: no body is read
  uint64_t max_body = 0;
  Nanos timeout{};
};

// The first variable of the environment that would make libcurl send a
// probe through a proxy (or decide whether to), or "" when none is set. The
// native client never talks to a proxy, so while one is set every target
// keeps libcurl.
std::string proxy_variable_set();

// Why the native client must not probe `target` (https, reuse_connections,
// http_client=curl, a proxy variable, a URL it does not handle); "" when it
// may. `proxy_variable` is proxy_variable_set()'s answer.
std::string native_unsuitable(const TargetConfig& target, const std::string& proxy_variable);

// Builds `out` for a target native_unsuitable() accepted. False (and
// `why_not`) when the URL turns out to be one the native client leaves to
// libcurl after all.
bool build_http_target(const TargetConfig& target, HttpTarget* out, std::string* why_not);

// `location` (a Location header's value, maybe relative) made absolute
// against `base`, as libcurl resolves a redirect. False when it is no URL.
bool resolve_location(const std::string& base, const std::string& location, std::string* out);

// `to` with the user-info of `from` when `to` has none of its own: a
// redirect to the same origin keeps the URL's credentials.
std::string with_credentials_of(const std::string& from, const std::string& to);

// True when `a` and `b` have the same scheme, host (any case) and port:
// where libcurl would send credentials again after a redirect.
bool same_origin(const std::string& a, const std::string& b);

}  // namespace observer
