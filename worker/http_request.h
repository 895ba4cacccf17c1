// HttpTarget: what the native HTTP/1.1 client (http_client.h) needs to probe
// one plain http:// target, worked out once at load: the request's bytes,
// where to connect, the body cap and the timeout; all of it but the path is
// shared by the targets that have it in common. Also the rule for which
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

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "config.h"

namespace observer {

// A socket address of either family, in the room it needs (28 bytes, where
// sockaddr_storage takes 128).
union SocketAddress {
  sockaddr sa;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

socklen_t socket_address_length(const sockaddr& sa);

// What every target with the same connection parameters, method and header
// lines shares: many targets on one host differ only in their path, so one
// copy serves them all (HttpTargetBuilder interns it). Immutable once built.
struct HttpTargetCommon {
  std::string method_sp;  // "GET ": the request up to the request-target
  // The request after the request-target: " HTTP/1.1\r\n", the header
  // lines and the blank line that ends them.
  std::string tail;
  std::string host;  // as in the URL; an IPv6 literal without brackets
  uint16_t port = 80;
  bool numeric = false;    // host is an IP literal, `address` holds it
  SocketAddress address{};  // with `port`, when numeric
  IpVersion ip_version = IpVersion::Any;
  bool head = false;  // HEAD: no body is read
  uint64_t max_body = 0;
  Nanos timeout{};
};

// One target's request and where it goes: the request-target (path and
// query) is its own, the rest is shared. The request is method_sp, target,
// tail, in that order (request_pieces()). Cheap to hold and to move.
struct HttpTarget {
  std::shared_ptr<const HttpTargetCommon> common;
  std::string target;  // "/path?query", as on the request line

  size_t request_size() const { return common->method_sp.size() + target.size() + common->tail.size(); }
  // The request's bytes from `offset` on as at most three pieces in
  // order, written to `out`; returns how many (0 once all is sent).
  size_t request_pieces(size_t offset, iovec out[3]) const;
  // The whole request in one string (tests, never per probe).
  std::string request() const { return common->method_sp + target + common->tail; }
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

// Builds the HttpTarget of each target native_unsuitable() accepted,
// interning their common parts: targets whose common parts are equal get
// the same HttpTargetCommon. One builder per load; it may go once the
// targets are built (they keep what they share).
class HttpTargetBuilder {
 public:
  // False (and `why_not`) when the URL turns out to be one the native
  // client leaves to libcurl after all.
  bool build(const TargetConfig& target, HttpTarget* out, std::string* why_not);

 private:
  // Orders by every field that is not derived from another.
  struct CommonOrder {
    bool operator()(const std::shared_ptr<const HttpTargetCommon>& a,
                    const std::shared_ptr<const HttpTargetCommon>& b) const;
  };
  std::set<std::shared_ptr<const HttpTargetCommon>, CommonOrder> interned_;
};

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
