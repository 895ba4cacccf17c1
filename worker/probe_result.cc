#include "worker/probe_result.h"

#include <strings.h>

namespace observer {

const char kHeaderTooLarge[] = "Response header too large (a header line over the 100 KiB limit)";

const std::string* ProbeResult::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return &v;
  return nullptr;
}

void ProbeResult::clear() {
  transport_ok = true;
  transport_error.clear();
  curl_code = 0;
  tls_verify_failed = false;
  status = 0;
  headers.clear();
  body.clear();
  body_truncated = false;
  total_time = Nanos{};
  cert_expiry_unix.reset();
  is_https = false;
  phases_s = {};
}

std::string trim_blanks(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace observer
