// ResponseParser: reads one HTTP/1.x response, as bytes arrive, into a
// ProbeResult (status, headers in arrival order, the body up to max_body).
// The parsing itself is nodejs's http-parser (Debian's libhttp-parser, a
// fuzzed state machine); this class decides what a probe keeps and words
// every failure the way curl 7.88 does for the same reply, so a log reads the
// same whichever client probed:
//
//   - 1xx interim responses (not 101) are skipped; the final response counts;
//   - headers are trimmed like the curl path and kept up to 64 KiB; one line
//     over 100 KiB fails the probe ("Response header too large ...");
//   - Content-Length, chunked and read-until-close bodies; a HEAD answer has
//     no body; past max_body reading stops and the result is complete, with
//     body_truncated (the cap is not a failure);
//   - bytes that do not start with "HTTP/" are HTTP/0.9, refused as curl
//     refuses them; any reply http-parser rejects is a failure.
//
// Pure: no I/O and no clock, so it is unit-tested and fuzzed on its own
// (tests/fuzz/fuzz_http_response.cc).
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "probe_result.h"

namespace observer {

class ResponseParser {
 public:
  enum class State { More, Done, Failed };

  ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Starts a new response into `out` (which must outlive the parse). The
  // parser keeps no other per-response memory, so one can serve many probes.
  void start(bool head_request, uint64_t max_body, ProbeResult* out);

  // Takes the next bytes from the peer. Done: the final response is whole
  // (or its body reached max_body); bytes after it are ignored. Failed: the
  // result says why (transport_ok false). Once not More, it stays so.
  State feed(const char* data, size_t len);
  // The peer closed the connection.
  State eof();

  State state() const { return state_; }
  // Body bytes of the final response received so far (before the cap), and
  // its Content-Length when it gave one: what a timeout's message reports.
  uint64_t body_bytes() const { return body_bytes_; }
  std::optional<uint64_t> content_length() const { return content_length_; }

 private:
  static int cb_message_begin(http_parser* p);
  static int cb_status(http_parser* p, const char* at, size_t len);
  static int cb_header_field(http_parser* p, const char* at, size_t len);
  static int cb_header_value(http_parser* p, const char* at, size_t len);
  static int cb_headers_complete(http_parser* p);
  static int cb_body(http_parser* p, const char* at, size_t len);
  static int cb_message_complete(http_parser* p);
  static const http_parser_settings kSettings;

  bool check_http_prefix(const char* data, size_t len) const;
  State parse(const char* data, size_t len);
  bool count_line_bytes(size_t len);
  void keep_header();
  State parser_failed(const char* data, size_t len, size_t parsed);
  void note_line_colon(const char* data, size_t len);
  State bad_header_character(const char* data, size_t at, size_t len);
  State look_for_colon(const char* data, size_t len);
  State eof_failure();
  State fail_with(TransportCode code, const std::string& detail);

  http_parser parser_{};
  ProbeResult* r_ = nullptr;
  State state_ = State::More;
  bool head_ = false;
  uint64_t max_body_ = 0;
  static constexpr size_t kPrefixBytes = 5;  // "HTTP/"
  std::string prefix_;  // the first bytes, until kPrefixBytes are in
  // The header line being read: its name and value arrive in pieces.
  std::string field_, value_;
  bool in_value_ = false;
  size_t line_bytes_ = 0;
  size_t kept_bytes_ = 0;
  bool header_too_large_ = false;
  bool in_headers_ = false;  // a header line of the current response began
  bool headers_done_ = false;  // of the current response
  bool interim_ = false;       // the current response is a 1xx to skip
  bool body_capped_ = false;
  uint64_t body_bytes_ = 0;
  std::optional<uint64_t> content_length_;
  bool line_colon_ = false;  // the header line being read has a colon so far
  bool bad_name_ = false;    // an invalid character in a name: looking for a colon after it
  size_t bad_name_bytes_ = 0;
};

}  // namespace observer
