// ProbeResult: what one probe brought back, as the checks (checks.h) read
// it. Filled by a Probe (probe.h) from libcurl; the unit tests of the checks
// build their own.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/duration.h"

namespace observer {

struct ProbeResult {
  bool transport_ok = true;     // also true when only the body cap cut the transfer
  std::string transport_error;  // "" when transport_ok: curl's reason and its detail
  int curl_code = 0;            // curl's CURLcode for the failure; 0 when ok
  bool tls_verify_failed = false;
  long status = 0;
  // The response headers the checks ask for (not every header), of the last
  // response after redirects, values trimmed.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // at most max_body bytes, and only when a check reads it
  bool body_truncated = false;
  Nanos total_time{};
  std::optional<int64_t> cert_expiry_unix;  // leaf certificate's notAfter, when asked and known
  bool is_https = false;
  // Seconds spent resolving, connecting, in the TLS handshake, waiting for
  // the first byte and reading the rest (metrics.h: kPhaseNames).
  std::array<float, 5> phases_s{};

  // Case-insensitive lookup of the first header named `name`.
  const std::string* header(const std::string& name) const;
  // Back to a fresh result, keeping what was allocated (a pooled probe).
  void clear();
};

// The detail of a probe that failed on a response header line over
// libcurl's limit (curl 7.88 reports it as a bare "Out of memory").
extern const char kHeaderTooLarge[];

// `s` without leading and trailing blanks and line ends (" \t\r\n").
std::string trim_blanks(const std::string& s);

}  // namespace observer
