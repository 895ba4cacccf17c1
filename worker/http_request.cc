#include "http_request.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <strings.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <tuple>

namespace observer {
namespace {

// The variables libcurl 7.88 reads to pick (or skip) a proxy. Upper-case
// HTTP_PROXY is one it ignores for http://, but a user who set it means a
// proxy, and libcurl is the client that knows what to do with one.
constexpr const char* kProxyVariables[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                           "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;

struct CurlString {
  char* s = nullptr;
  ~CurlString() { curl_free(s); }
};

// One part of a parsed URL; "" when the URL has none.
std::string url_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  CurlString v;
  if (curl_url_get(u, part, &v.s, flags) != CURLUE_OK || v.s == nullptr) return "";
  return v.s;
}

bool has_url_part(CURLU* u, CURLUPart part) {
  CurlString v;
  return curl_url_get(u, part, &v.s, 0) == CURLUE_OK && v.s != nullptr;
}

UrlHandle parse_url(const std::string& url, unsigned flags = 0) {
  UrlHandle u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), flags) != CURLUE_OK) return nullptr;
  return u;
}

std::string base64(const std::string& in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint32_t(uint8_t(in[i])) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

const std::pair<std::string, std::string>* custom_header(const TargetConfig& t, const char* name) {
  for (const auto& h : t.settings->request_headers)
    if (strcasecmp(h.first.c_str(), name) == 0) return &h;
  return nullptr;
}

// "Name: value", or "Name:" for an empty value (libcurl's "Name;").
std::string header_line(const std::string& name, const std::string& value) {
  return value.empty() ? name + ":\r\n" : name + ": " + value + "\r\n";
}

bool numeric_address(const std::string& host, uint16_t port, SocketAddress* out) {
  std::memset(out, 0, sizeof *out);
  if (inet_pton(AF_INET, host.c_str(), &out->v4.sin_addr) == 1) {
    out->v4.sin_family = AF_INET;
    out->v4.sin_port = htons(port);
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &out->v6.sin6_addr) == 1) {
    out->v6.sin6_family = AF_INET6;
    out->v6.sin6_port = htons(port);
    return true;
  }
  return false;
}

// A plain http:// URL taken apart without libcurl, so that a worker whose
// targets are all plain http never loads it (curl_library.h). Only the
// forms whose request libcurl would send byte for byte the same are
// accepted (dot segments removed as libcurl does); anything else libcurl
// would rewrite (an escaped dot, a non-canonical
// IPv4 or IPv6 address, upper case or a trailing dot in the host, a zone id,
// non-ASCII or control bytes, a bad %-escape, an odd port) is refused, and
// the target stays with libcurl.
struct PlainHttpUrl {
  std::string host;  // as it goes in Host:, brackets kept for IPv6
  long port = 80;
  std::string target;  // path (at least "/") and ?query: the request line's
  bool has_user = false;
  std::string user, password;  // %-decoded
};

bool percent_decode(const std::string& in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      *out += in[i];
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2])))
      return false;
    *out += static_cast<char>(std::strtol(in.substr(i + 1, 2).c_str(), nullptr, 16));
    i += 2;
  }
  return true;
}

bool plain_url_bytes(const std::string& s) {
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f || c == '\\') return false;
  return true;
}

bool canonical_address(int family, const std::string& text) {
  unsigned char buf[sizeof(in6_addr)];
  char back[INET6_ADDRSTRLEN];
  return inet_pton(family, text.c_str(), buf) == 1 && inet_ntop(family, buf, back, sizeof back) != nullptr &&
         text == back;
}

bool split_host(const std::string& hostport, PlainHttpUrl* u) {
  std::string port_text;
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos || !canonical_address(AF_INET6, hostport.substr(1, close - 1))) return false;
    u->host = hostport.substr(0, close + 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return false;
      port_text = hostport.substr(close + 2);
      if (port_text.empty()) return false;
    }
  } else {
    size_t colon = hostport.find(':');
    u->host = hostport.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = hostport.substr(colon + 1);
      if (port_text.empty()) return false;
    }
    if (u->host.empty() || u->host.back() == '.' || u->host.front() == '.') return false;
    bool dotted_digits = true;
    for (char c : u->host) {
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '.' ||
            c == '-' || c == '_'))
        return false;
      dotted_digits = dotted_digits && (std::isdigit(static_cast<unsigned char>(c)) || c == '.');
    }
    // libcurl rewrites 127.1, 0x7f.1, 2130706433 and friends to dotted quads.
    if (dotted_digits && !canonical_address(AF_INET, u->host)) return false;
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text[0] == '0' ||
        port_text.find_first_not_of("0123456789") != std::string::npos)
      return false;
    u->port = std::strtol(port_text.c_str(), nullptr, 10);
    if (u->port < 1 || u->port > 65535) return false;
  }
  return true;
}

// RFC 3986 5.2.4, as libcurl applies it to a URL's path.
std::string remove_dot_segments(std::string in) {
  std::string out;
  while (!in.empty()) {
    if (in.compare(0, 3, "../") == 0) {
      in.erase(0, 3);
    } else if (in.compare(0, 2, "./") == 0) {
      in.erase(0, 2);
    } else if (in.compare(0, 3, "/./") == 0) {
      in.erase(0, 2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.compare(0, 4, "/../") == 0 || in == "/..") {
      in = in.size() == 3 ? "/" : in.substr(3);
      size_t last = out.rfind('/');
      out.erase(last == std::string::npos ? 0 : last);
    } else if (in == "." || in == "..") {
      in.clear();
    } else {
      size_t next = in.find('/', 1);
      out += in.substr(0, next);
      in.erase(0, next == std::string::npos ? in.size() : next);
    }
  }
  return out;
}

bool split_plain_http_url(const std::string& url, PlainHttpUrl* u) {
  if (url.size() < 7 || strncasecmp(url.c_str(), "http://", 7) != 0 || !plain_url_bytes(url)) return false;
  std::string rest = url.substr(7);
  size_t auth_end = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, auth_end);
  std::string tail = auth_end == std::string::npos ? "" : rest.substr(auth_end);
  size_t at = authority.rfind('@');
  if (at != std::string::npos) {
    std::string info = authority.substr(0, at);
    size_t colon = info.find(':');
    u->has_user = true;
    if (!percent_decode(info.substr(0, colon), &u->user)) return false;
    if (colon != std::string::npos && !percent_decode(info.substr(colon + 1), &u->password)) return false;
    authority = authority.substr(at + 1);
  }
  if (!split_host(authority, u)) return false;
  tail = tail.substr(0, tail.find('#'));  // a fragment is never sent
  size_t q = tail.find('?');
  std::string path = tail.substr(0, q);
  std::string query = q == std::string::npos ? "" : tail.substr(q);
  // An escaped dot ("%2e") is one more rule to agree with libcurl on: leave it to libcurl.
  if (strcasestr(path.c_str(), "%2e") != nullptr) return false;
  path = remove_dot_segments(path);
  if (path.empty()) path = "/";
  std::string unused;
  if (!percent_decode(path, &unused) || !percent_decode(query, &unused)) return false;
  u->target = path + (query.size() > 1 ? query : "");
  return true;
}

// The request after its request-target (see HttpTarget).
std::string request_tail(const TargetConfig& t, const PlainHttpUrl& u) {
  std::string host_port = u.port == 80 ? u.host : u.host + ":" + std::to_string(u.port);
  std::string req = " HTTP/1.1\r\n";
  // The defaults first, each unless a request_header.NAME replaces it;
  // libcurl keeps Host in its place with the custom value.
  if (const auto* h = custom_header(t, "Host")) req += header_line("Host", h->second);
  else req += "Host: " + host_port + "\r\n";
  if (u.has_user && custom_header(t, "Authorization") == nullptr)
    req += "Authorization: Basic " + base64(u.user + ":" + u.password) + "\r\n";
  if (custom_header(t, "User-Agent") == nullptr) req += "User-Agent: " + t.settings->user_agent + "\r\n";
  if (custom_header(t, "Accept") == nullptr) req += "Accept: */*\r\n";
  for (const auto& [name, value] : t.settings->request_headers)
    if (strcasecmp(name.c_str(), "Host") != 0) req += header_line(name, value);
  if (custom_header(t, "Connection") == nullptr) req += "Connection: close\r\n";
  req += "\r\n";
  return req;
}

}  // namespace

std::string proxy_variable_set() {
  for (const char* name : kProxyVariables) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return name;
  }
  return "";
}

std::string native_unsuitable(const TargetConfig& t, const std::string& proxy_variable) {
  if (t.settings->http_client == HttpClientKind::Curl) return "http_client=curl";
  if (t.url.size() < 7 || strncasecmp(t.url.c_str(), "http://", 7) != 0) return "not a plain http:// URL";
  if (t.settings->reuse_connections) return "reuse_connections=true";
  if (!proxy_variable.empty()) return proxy_variable + " is set";
  return "";
}

socklen_t socket_address_length(const sockaddr& sa) {
  return sa.sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

size_t HttpTarget::request_pieces(size_t offset, iovec out[3]) const {
  const std::string* pieces[3] = {&common->method_sp, &target, &common->tail};
  size_t n = 0;
  for (const std::string* p : pieces) {
    if (offset >= p->size()) {
      offset -= p->size();
      continue;
    }
    out[n].iov_base = const_cast<char*>(p->data()) + offset;
    out[n].iov_len = p->size() - offset;
    offset = 0;
    ++n;
  }
  return n;
}

// numeric, address and head follow from host, port and method_sp.
bool HttpTargetBuilder::CommonOrder::operator()(const std::shared_ptr<const HttpTargetCommon>& a,
                                                const std::shared_ptr<const HttpTargetCommon>& b) const {
  auto key = [](const HttpTargetCommon& c) {
    return std::tie(c.tail, c.host, c.port, c.method_sp, c.ip_version, c.max_body, c.timeout);
  };
  return key(*a) < key(*b);
}

bool HttpTargetBuilder::build(const TargetConfig& t, HttpTarget* out, std::string* why_not) {
  PlainHttpUrl u;
  if (!split_plain_http_url(t.url, &u)) {
    *why_not = "a URL form libcurl would rewrite (a non-canonical address, upper case, an escaped dot, …)";
    return false;
  }
  auto common = std::make_shared<HttpTargetCommon>();
  bool bracketed = u.host.front() == '[';
  common->host = bracketed ? u.host.substr(1, u.host.size() - 2) : u.host;
  common->port = static_cast<uint16_t>(u.port);
  common->numeric = numeric_address(common->host, common->port, &common->address);
  if (common->numeric && t.settings->ip_version != IpVersion::Any &&
      (common->address.sa.sa_family == AF_INET) != (t.settings->ip_version == IpVersion::V4)) {
    *why_not = "ip_version excludes the URL's address";
    return false;
  }
  common->ip_version = t.settings->ip_version;
  common->head = t.settings->method == "HEAD";
  common->max_body = t.settings->max_body;
  common->timeout = t.settings->timeout;
  common->method_sp = t.settings->method + " ";
  common->tail = request_tail(t, u);
  out->common = *interned_.insert(std::move(common)).first;
  out->target = std::move(u.target);
  out->target.shrink_to_fit();
  return true;
}

bool resolve_location(const std::string& base, const std::string& location, std::string* out) {
  UrlHandle u = parse_url(base);
  if (!u) return false;
  // Any scheme parses here; libcurl refuses the ones a probe may not use.
  if (curl_url_set(u.get(), CURLUPART_URL, location.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) return false;
  *out = url_part(u.get(), CURLUPART_URL);
  return !out->empty();
}

bool same_origin(const std::string& a, const std::string& b) {
  UrlHandle ua = parse_url(a, CURLU_NON_SUPPORT_SCHEME);
  UrlHandle ub = parse_url(b, CURLU_NON_SUPPORT_SCHEME);
  if (!ua || !ub) return false;
  return strcasecmp(url_part(ua.get(), CURLUPART_SCHEME).c_str(), url_part(ub.get(), CURLUPART_SCHEME).c_str()) == 0 &&
         strcasecmp(url_part(ua.get(), CURLUPART_HOST).c_str(), url_part(ub.get(), CURLUPART_HOST).c_str()) == 0 &&
         url_part(ua.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT) == url_part(ub.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
}

std::string with_credentials_of(const std::string& from, const std::string& to) {
  UrlHandle f = parse_url(from);
  UrlHandle t = parse_url(to, CURLU_NON_SUPPORT_SCHEME);
  if (!f || !t || !has_url_part(f.get(), CURLUPART_USER) || has_url_part(t.get(), CURLUPART_USER)) return to;
  std::string user = url_part(f.get(), CURLUPART_USER);
  std::string password = url_part(f.get(), CURLUPART_PASSWORD);
  if (curl_url_set(t.get(), CURLUPART_USER, user.c_str(), 0) != CURLUE_OK) return to;
  if (has_url_part(f.get(), CURLUPART_PASSWORD) && curl_url_set(t.get(), CURLUPART_PASSWORD, password.c_str(), 0) != CURLUE_OK)
    return to;
  std::string out = url_part(t.get(), CURLUPART_URL);
  return out.empty() ? to : out;
}

}  // namespace observer
