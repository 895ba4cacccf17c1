// The native client's response handling (worker/http_response.cc) fed
// arbitrary replies in arbitrary chunks: it never crashes, keeps its bounds
// (body <= max_body, kept headers <= 64 KiB), ends every reply it refuses
// with a failure that says why, and parses the same reply to the same
// outcome whether it arrives whole or in pieces.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http_response.h"

using namespace observer;

namespace {

struct Outcome {
  ResponseParser::State state;
  ProbeResult result;
};

Outcome run(const char* p, size_t n, size_t chunk, bool head, uint64_t max_body, bool close) {
  Outcome o;
  ResponseParser parser;
  parser.start(head, max_body, &o.result);
  o.state = ResponseParser::State::More;
  for (size_t at = 0; at < n && o.state == ResponseParser::State::More; at += chunk)
    o.state = parser.feed(p + at, chunk < n - at ? chunk : n - at);
  if (close && o.state == ResponseParser::State::More) o.state = parser.eof();
  if (parser.state() != o.state) abort();
  return o;
}

void check_bounds(const Outcome& o, uint64_t max_body) {
  if (o.result.body.size() > max_body) abort();
  size_t kept = 0;
  for (const auto& h : o.result.headers) kept += h.first.size() + h.second.size();
  if (kept > kMaxKeptHeaderBytes) abort();
  if (o.state == ResponseParser::State::Failed && (o.result.transport_ok || o.result.transport_error.empty())) abort();
  if (o.state != ResponseParser::State::Failed && !o.result.transport_ok) abort();
  if (o.result.body_truncated && o.state != ResponseParser::State::Done) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // Byte 0: chunk size; byte 1: HEAD, peer closes at the end, body cap.
  size_t chunk = 1 + data[0] % 64;
  bool head = data[1] & 1;
  bool close = data[1] & 2;
  uint64_t max_body = (data[1] >> 2) * 7;
  const char* p = reinterpret_cast<const char*>(data + 2);
  size_t n = size - 2;
  Outcome whole = run(p, n, n == 0 ? 1 : n, head, max_body, close);
  Outcome pieces = run(p, n, chunk, head, max_body, close);
  check_bounds(whole, max_body);
  check_bounds(pieces, max_body);
  if (whole.state != pieces.state) abort();
  if (whole.state == ResponseParser::State::Done &&
      (whole.result.status != pieces.result.status || whole.result.body != pieces.result.body ||
       whole.result.headers != pieces.result.headers || whole.result.body_truncated != pieces.result.body_truncated))
    abort();
  if (whole.state == ResponseParser::State::Failed && whole.result.transport_error != pieces.result.transport_error)
    abort();
  return 0;
}
