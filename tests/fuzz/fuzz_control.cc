// The control-channel decoder fed arbitrary bytes in arbitrary chunks: every
// message it yields re-encodes to bytes that decode to the same message, and
// the encoding is canonical (every frame has one exact size): each message
// re-encodes to exactly the frame it was decoded from. The one exception is
// a TargetState record of a worker from before the metric counters, which
// re-encodes with its (empty) count of counters appended.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/control.h"

using namespace observer;

namespace {

bool same(const ControlMessage& a, const ControlMessage& b) {
  if (a.type != b.type) return false;
  if (a.type == MessageType::ConfigError) return a.text == b.text;
  if (a.type == MessageType::CutOverReady || a.type == MessageType::Retire) return a.cut_over_ns == b.cut_over_ns;
  if (a.type == MessageType::CutOverLate) return a.late_probes == b.late_probes;
  if (a.type == MessageType::ReloadFailed) return a.unix_seconds == b.unix_seconds;
  if (a.type != MessageType::TargetState) return true;
  const TargetStateRecord &x = a.state, &y = b.state;
  return x.name == y.name && x.url == y.url && x.health == y.health && x.since_unix_ms == y.since_unix_ms &&
         x.consecutive_failures == y.consecutive_failures && x.consecutive_successes == y.consecutive_successes &&
         x.probes == y.probes && x.failures == y.failures && x.last_reason == y.last_reason &&
         x.counters == y.counters && x.alert == y.alert && x.down_reason == y.down_reason;
}

// Whether `wire` (a re-encoded message) is the frame `in` it came from.
bool canonical(const ControlMessage& msg, const std::string& wire, const std::string& in) {
  if (wire == in) return true;
  if (msg.type != MessageType::TargetState || !msg.state.counters.empty()) return false;
  // An older record: no count after last_reason. Its header's length is 2 less.
  if (wire.size() != in.size() + 2 || wire.compare(wire.size() - 2, 2, std::string(2, '\0')) != 0) return false;
  return wire.compare(8, in.size() - 8, in, 8, in.size() - 8) == 0 && wire.compare(0, 4, in, 0, 4) == 0;
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
  size_t in_off = 0;  // where the next decoded message's frame starts in the input
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
      // The frame it came from: its header's length says how long it was.
      if (n - in_off < 8) abort();
      uint32_t plen = 0;
      std::memcpy(&plen, p + in_off + 4, 4);
      if (n - in_off - 8 < plen) abort();
      std::string in(p + in_off, 8 + plen);
      if (!canonical(msg, wire, in)) abort();
      in_off += in.size();
    }
  }
  return 0;
}
