#include "common/masking.h"

#include <algorithm>
#include <cctype>

#include "common/keys.h"

namespace observer {

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

bool url_has_scheme(std::string_view url, std::string_view scheme) {
  if (url.size() < scheme.size()) return false;
  for (size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(url[i])) != std::tolower(static_cast<unsigned char>(scheme[i])))
      return false;
  return true;
}

bool url_has_password(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return false;
  size_t host_end = url.find_first_of("/?#", scheme + 3);
  size_t at = url.rfind('@', host_end == std::string::npos ? std::string::npos : host_end);
  if (at == std::string::npos || at < scheme) return false;
  size_t colon = url.find(':', scheme + 3);
  return colon != std::string::npos && colon < at;
}

namespace {

// Masks the value of every key=value pair of `part` (a query or a fragment,
// without its '?' or '#') whose key looks like a credential.
std::string redact_pairs(std::string_view part) {
  std::string out;
  size_t pos = 0;
  while (pos <= part.size()) {
    size_t end = part.find_first_of("&;", pos);
    if (end == std::string_view::npos) end = part.size();
    std::string_view pair = part.substr(pos, end - pos);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && eq + 1 < pair.size() && is_secret_name(pair.substr(0, eq))) {
      out.append(pair.substr(0, eq + 1));
      out += "****";
    } else {
      out.append(pair);
    }
    if (end < part.size()) out += part[end];
    pos = end + 1;
  }
  return out;
}

}  // namespace

std::string redact_url(const std::string& url) {
  std::string out = url;
  if (url_has_password(url)) {
    size_t scheme = url.find("://");
    size_t host_end = url.find_first_of("/?#", scheme + 3);
    size_t at = url.rfind('@', host_end == std::string::npos ? std::string::npos : host_end);
    size_t colon = url.find(':', scheme + 3);
    out = url.substr(0, colon + 1) + "****" + url.substr(at);
  }
  // The query (and a fragment, where OAuth puts tokens): ?api_key=****.
  std::string_view all = out;
  size_t query = all.find('?');
  size_t fragment = all.find('#');
  std::string head(all.substr(0, std::min(query, fragment)));
  if (query != std::string_view::npos && query < fragment) {
    size_t query_end = fragment == std::string_view::npos ? all.size() : fragment;
    head += "?" + redact_pairs(all.substr(query + 1, query_end - query - 1));
  }
  if (fragment != std::string_view::npos) head += "#" + redact_pairs(all.substr(fragment + 1));
  return head;
}

std::string mask_webhook_url(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "****";
  size_t host_end = url.find_first_of("/?#", scheme + 3);
  std::string authority = url.substr(scheme + 3, host_end == std::string::npos ? std::string::npos : host_end - scheme - 3);
  size_t at = authority.rfind('@');
  if (at != std::string::npos) authority = "****@" + authority.substr(at + 1);
  std::string out = url.substr(0, scheme + 3) + authority;
  if (host_end != std::string::npos && host_end + 1 < url.size()) out += "/****";
  return out;
}

}  // namespace observer
