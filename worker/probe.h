// Probe: one HTTP(S) request to a target as a libcurl easy transfer.
//
// Easy handles are pooled (ProbePool): a worker holds one per probe in
// flight, not one per target, and a handle keeps what libcurl allocated for
// it (its buffers) from one probe to the next; curl_easy_reset() gives each
// probe a clean set of options. What a probe of a target needs that does not
// change from probe to probe (its request header list, which response
// headers and whether the body its checks read) is a ProbeSpec, built once
// per distinct TargetSettings at load.
//
// Safe by default: http/https only (request and redirects), TLS verified
// unless `insecure`, a timeout on the whole transfer, the body read stops at
// max_body (the transfer is cut there: memory is bounded whatever the server
// sends, and a body over the cap is not a failure by itself). Without
// reuse_connections every probe opens a fresh connection and makes a full
// TLS handshake (no session resumption), as a first visitor would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "worker/curl_handles.h"
#include "worker/probe_result.h"

namespace observer {

// What every probe of targets sharing one TargetSettings sends and keeps.
struct ProbeSpec {
  std::shared_ptr<const TargetSettings> settings;
  CurlSlist request_headers;                // null when none
  std::vector<std::string> wanted_headers;  // response headers the checks read
  bool wants_body = false;                  // a body check reads the body

  // Builds the spec of `settings`. False (with `error`) only when out of memory.
  static bool build(std::shared_ptr<const TargetSettings> settings, ProbeSpec* out, std::string* error);
};

class Probe {
 public:
  // A fresh easy handle, or nullptr (and `error`).
  static std::unique_ptr<Probe> create(std::string* error);
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  // Configures the handle for one transfer of `url` as `spec` says. The spec
  // must outlive the transfer. False (with `error`) if curl refuses an
  // option, which means this libcurl lacks a required feature.
  bool prepare(const std::string& url, const ProbeSpec& spec, std::string* error);

  CURL* easy() const { return easy_.get(); }
  // The Probe whose easy handle this is (CURLOPT_PRIVATE).
  static Probe* from_easy(CURL* easy);

  // What the socket said when its poll failed (its SO_ERROR, an errno).
  void note_socket_error(int error) { socket_errno_ = error; }

  // Collects the result once curl reported the transfer done with
  // `curl_code` (a CURLcode). Valid until the probe is prepared again.
  const ProbeResult& finish(int curl_code);

  uint32_t target = 0;  // free for the owner: which target probes

 private:
  friend class ProbePool;
  explicit Probe(CurlEasy easy) : easy_(std::move(easy)) {}
  static size_t cb_curl_write(char* data, size_t size, size_t nmemb, void* userp) noexcept;
  static size_t cb_curl_header(char* data, size_t size, size_t nmemb, void* userp) noexcept;
  void read_wanted_headers();
  void read_phases();
  void read_cert_expiry();

  CurlEasy easy_;
  const ProbeSpec* spec_ = nullptr;
  static constexpr size_t kErrorBufferSize = 256;  // CURL_ERROR_SIZE (checked in probe.cc)
  char error_buffer_[kErrorBufferSize] = {};
  uint64_t body_room_ = 0;           // bytes still read before the cap cuts the transfer
  int socket_errno_ = 0;
  bool header_block_ended_ = false;  // the blank line after the last response's headers came
  ProbeResult result_;
};

// Idle probes, so that easy handles live as long as the peak of probes in
// flight needs them and no longer than kKeepIdle of them sit unused.
class ProbePool {
 public:
  std::unique_ptr<Probe> take(std::string* error);
  void give_back(std::unique_ptr<Probe> probe);
  size_t idle() const { return idle_.size(); }

 private:
  static constexpr size_t kKeepIdle = 64;
  std::vector<std::unique_ptr<Probe>> idle_;
};

// Parses OpenSSL's certinfo date "Jan  2 15:04:05 2030 GMT" to unix seconds.
bool parse_cert_date(const std::string& text, int64_t* out);

}  // namespace observer
