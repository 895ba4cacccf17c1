// Probe: one HTTP(S) request to a target as a curl easy transfer. It owns
// the easy handle, its header list, error buffer and the capped body buffer;
// the engine adds easy() to its multi handle and, when curl reports the
// transfer done, calls finish() to read the ProbeResult out.
//
// Safe by default: http/https only (request and redirects), TLS verified
// unless `insecure`, a timeout on the whole transfer, the body read stops at
// max_body (the transfer is cut there: memory is bounded whatever the server
// sends, and a body over the cap is not a failure by itself).
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config.h"

namespace observer {

struct ProbeResult {
  CURLcode code = CURLE_OK;     // CURLE_OK also when only the body cap cut the transfer
  std::string transport_error;  // "" when code == CURLE_OK: curl's reason and detail
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
};

class Probe {
 public:
  // Builds a configured transfer. Returns nullptr (and `error`) if curl
  // refuses an option, which means this libcurl lacks a required feature.
  static std::unique_ptr<Probe> create(const TargetConfig& target, std::string* error);
  ~Probe();
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  CURL* easy() const { return easy_; }
  // The Probe whose easy handle this is (CURLOPT_PRIVATE).
  static Probe* from_easy(CURL* easy);

  // What the socket said when its poll failed (strerror of SO_ERROR).
  void note_socket_error(std::string what) { socket_error_ = std::move(what); }

  // Collects the result once curl reported the transfer done with `code`.
  ProbeResult finish(CURLcode code);

  uint64_t id = 0;  // free for the owner (e.g. which target)

 private:
  Probe() = default;
  static size_t cb_curl_write(char* data, size_t size, size_t nmemb, void* userp);
  static size_t cb_curl_header(char* data, size_t size, size_t nmemb, void* userp);
  void read_cert_expiry();

  CURL* easy_ = nullptr;
  curl_slist* request_headers_ = nullptr;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  uint64_t max_body_ = 0;
  size_t header_bytes_ = 0;
  bool want_cert_ = false;
  std::string socket_error_;
  bool header_block_ended_ = false;  // the blank line after the last response's headers came
  ProbeResult result_;
};

// Parses OpenSSL's certinfo date "Jan  2 15:04:05 2030 GMT" to unix seconds.
bool parse_cert_date(const std::string& text, int64_t* out);

}  // namespace observer
