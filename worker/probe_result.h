// ProbeResult: what one probe brought back, whichever client made it
// (libcurl in probe.h, the native HTTP/1.1 client in http_client.h). The
// checks (checks.h) read only this, so every check works the same for both.
//
// One vocabulary for transport failures: the native client uses curl's
// words and curl's number (the log's `curl_code`) for the same failure, so a
// log reads alike whichever client probed. TransportCode names those numbers;
// probe.cc checks them against curl.h at compile time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "duration.h"

namespace observer {

// curl's CURLcode numbers for the failures both clients can report.
enum class TransportCode : int {
  Ok = 0,
  UnsupportedProtocol = 1,
  UrlMalformat = 3,
  CouldntResolveHost = 6,
  CouldntConnect = 7,
  WeirdServerReply = 8,
  PartialFile = 18,
  OutOfMemory = 27,  // curl 7.88's code for a header line over its limit
  OperationTimedOut = 28,
  TooManyRedirects = 47,
  GotNothing = 52,
  SendError = 55,
  RecvError = 56,
};

// The first words of each failure: curl_easy_strerror() of its code.
const char* transport_code_words(TransportCode code);

struct ProbeResult {
  bool transport_ok = true;     // also true when only the body cap cut the transfer
  std::string transport_error;  // "" when transport_ok: the reason and its detail
  int curl_code = 0;            // curl's number for the failure (see TransportCode); 0 when ok
  bool tls_verify_failed = false;
  long status = 0;
  // Headers of the last response (after redirects), in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // at most max_body bytes
  bool body_truncated = false;
  Nanos total_time{};
  std::optional<int64_t> cert_expiry_unix;  // leaf certificate's notAfter, when asked and known
  bool is_https = false;

  // Case-insensitive lookup of the first header named `name`.
  const std::string* header(const std::string& name) const;

  // Marks the probe failed with `code` and `detail` (curl's error-buffer
  // text): transport_error becomes "<words of code>: <detail>".
  void set_failure(TransportCode code, const std::string& detail);
};

// Response headers kept per probe; beyond it they are ignored.
constexpr size_t kMaxKeptHeaderBytes = 64 * 1024;
// One response header line longer than this fails the probe (curl 7.88's
// limit, CURL_MAX_HTTP_HEADER; the native client keeps the same).
constexpr size_t kMaxHeaderLineBytes = 100 * 1024;
// The detail of that failure, the same for both clients.
extern const char kHeaderTooLarge[];

// `s` without leading and trailing blanks and line ends (" \t\r\n").
std::string trim_blanks(const std::string& s);

}  // namespace observer
