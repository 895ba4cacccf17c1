// The control-channel decoder fed arbitrary bytes in arbitrary chunks: every
// message it yields re-encodes to bytes that decode to the same message, and
// the encoding is canonical (every frame has one exact size): the messages
// re-encoded in order are exactly the bytes they were decoded from.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "control.h"

using namespace observer;

namespace {

bool same(const ControlMessage& a, const ControlMessage& b) {
  if (a.type != b.type) return false;
  if (a.type == MessageType::ConfigError) return a.text == b.text;
  if (a.type == MessageType::CutOverReady || a.type == MessageType::Retire) return a.cut_over_ns == b.cut_over_ns;
  if (a.type == MessageType::CutOverLate) return a.late_probes == b.late_probes;
  if (a.type != MessageType::TargetState) return true;
  const TargetStateRecord &x = a.state, &y = b.state;
  return x.name == y.name && x.url == y.url && x.health == y.health && x.since_unix_ms == y.since_unix_ms &&
         x.consecutive_failures == y.consecutive_failures && x.consecutive_successes == y.consecutive_successes &&
         x.probes == y.probes && x.failures == y.failures && x.last_reason == y.last_reason;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the chunk size, so partial frames are exercised.
  size_t chunk = 1 + data[0] % 64;
  const char* p = reinterpret_cast<const char*>(data + 1);
  size_t n = size - 1;
  ControlDecoder dec;
  std::string err;
  std::string reencoded;
  for (size_t off = 0; off < n; off += chunk) {
    size_t len = n - off < chunk ? n - off : chunk;
    if (!dec.feed(p + off, len, &err)) {
      if (err.empty()) abort();
      return 0;
    }
    ControlMessage msg;
    while (dec.next(&msg)) {
      std::string wire = encode_message(msg);
      ControlDecoder again;
      ControlMessage back;
      if (!again.feed(wire.data(), wire.size(), &err) || !again.next(&back) || !same(msg, back)) abort();
      reencoded += wire;
      if (reencoded.size() > n || reencoded.compare(0, std::string::npos, p, reencoded.size()) != 0) abort();
    }
  }
  return 0;
}
