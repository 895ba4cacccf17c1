#include "http_request.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <strings.h>

#include <cstdlib>
#include <cstring>
#include <memory>

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
  for (const auto& h : t.request_headers)
    if (strcasecmp(h.first.c_str(), name) == 0) return &h;
  return nullptr;
}

// "Name: value", or "Name:" for an empty value (libcurl's "Name;").
std::string header_line(const std::string& name, const std::string& value) {
  return value.empty() ? name + ":\r\n" : name + ": " + value + "\r\n";
}

bool numeric_address(const std::string& host, uint16_t port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return true;
  }
  return false;
}

std::string build_request(const TargetConfig& t, CURLU* u, const std::string& host_port) {
  std::string path = url_part(u, CURLUPART_PATH);
  if (path.empty()) path = "/";
  std::string query = url_part(u, CURLUPART_QUERY);
  std::string method = t.method;
  std::string req = method + " " + path + (query.empty() ? "" : "?" + query) + " HTTP/1.1\r\n";
  // The defaults first, each unless a request_header.NAME replaces it;
  // libcurl keeps Host in its place with the custom value.
  if (const auto* h = custom_header(t, "Host")) req += header_line("Host", h->second);
  else req += "Host: " + host_port + "\r\n";
  if (has_url_part(u, CURLUPART_USER) && custom_header(t, "Authorization") == nullptr) {
    std::string user = url_part(u, CURLUPART_USER, CURLU_URLDECODE);
    std::string password = url_part(u, CURLUPART_PASSWORD, CURLU_URLDECODE);
    req += "Authorization: Basic " + base64(user + ":" + password) + "\r\n";
  }
  if (custom_header(t, "User-Agent") == nullptr) req += "User-Agent: " + t.user_agent + "\r\n";
  if (custom_header(t, "Accept") == nullptr) req += "Accept: */*\r\n";
  for (const auto& [name, value] : t.request_headers)
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
  if (t.http_client == HttpClientKind::Curl) return "http_client=curl";
  if (t.url.size() < 7 || strncasecmp(t.url.c_str(), "http://", 7) != 0) return "not a plain http:// URL";
  if (t.reuse_connections) return "reuse_connections=true";
  if (!proxy_variable.empty()) return proxy_variable + " is set";
  return "";
}

bool build_http_target(const TargetConfig& t, HttpTarget* out, std::string* why_not) {
  UrlHandle u = parse_url(t.url);
  if (!u) {
    *why_not = "libcurl's URL parser refused the URL";
    return false;
  }
  std::string host = url_part(u.get(), CURLUPART_HOST);
  if (host.empty() || has_url_part(u.get(), CURLUPART_ZONEID)) {
    *why_not = "the host is empty or has an IPv6 zone";
    return false;
  }
  for (unsigned char c : host) {
    if (c >= 0x80) {
      *why_not = "an international host name (libcurl converts it)";
      return false;
    }
  }
  std::string port_text = url_part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  long port = std::strtol(port_text.c_str(), nullptr, 10);
  if (port <= 0 || port > 65535) {
    *why_not = "no usable port";
    return false;
  }
  bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  out->host = bracketed ? host.substr(1, host.size() - 2) : host;
  out->port = static_cast<uint16_t>(port);
  out->numeric = numeric_address(out->host, out->port, &out->address);
  if (out->numeric && t.ip_version != IpVersion::Any &&
      (out->address.ss_family == AF_INET) != (t.ip_version == IpVersion::V4)) {
    *why_not = "ip_version excludes the URL's address";
    return false;
  }
  out->ip_version = t.ip_version;
  out->head = t.method == "HEAD";
  out->max_body = t.max_body;
  out->timeout = t.timeout;
  out->request = build_request(t, u.get(), port == 80 ? host : host + ":" + std::to_string(port));
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
