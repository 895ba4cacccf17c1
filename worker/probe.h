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
#include "probe_result.h"

namespace observer {

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

  // This transfer continues a probe whose first request (`first_hop` long)
  // was made by the native client and answered with a redirect: its time is
  // added to total_time and to a timeout's milliseconds, and a redirect
  // limit is reported as the target's own (`configured_max_redirects`).
  void continue_after(Nanos first_hop, int configured_max_redirects) {
    first_hop_ = first_hop;
    configured_max_redirects_ = configured_max_redirects;
  }

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
  Nanos first_hop_{};
  int configured_max_redirects_ = -1;  // -1: not a continuation
  ProbeResult result_;
};

// Parses OpenSSL's certinfo date "Jan  2 15:04:05 2030 GMT" to unix seconds.
bool parse_cert_date(const std::string& text, int64_t* out);

}  // namespace observer
