// The control channel between supervisor and worker: a stream socketpair on
// the worker's fd 3. Messages are framed as a fixed 8-byte header
// (type, payload length) and a payload whose size is checked exactly for its
// type. A malformed message ends the channel; nothing is guessed.
//
// worker -> supervisor: Ready or CutOverReady; on retirement [CutOverLate],
//                       TargetState*, StateEnd; or ConfigError
// supervisor -> worker: TargetState*, StateEnd  (the hand-over on reload);
//                       Retire (the end of the worker a reload replaces)
//
// The cut-over of a reload: the new worker fires no slot before an instant T
// it announces with CutOverReady; the old one, told T with Retire, fires
// every slot before T and none after. T is CLOCK_MONOTONIC (uv_hrtime()),
// one clock for every process of the machine. So each slot is probed once.
// The Retire does not replace the retirement's SIGTERM (DESIGN.md): the
// supervisor sends it too, once T has passed, and to the worker it is the
// retirement the Retire started, not a second stop.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace observer {

// The worker's end of the channel, as seen by the worker.
constexpr int kControlFd = 3;
constexpr uint32_t kMaxControlPayload = 64 * 1024;

enum class MessageType : uint16_t {
  Ready = 1,        // worker: loop runs, config loaded. Payload: none.
  TargetState = 2,  // per-target state for the hand-over
  StateEnd = 3,     // end of a hand-over (possibly empty). Payload: none.
  ConfigError = 4,  // worker: the configuration is invalid (then exit 78). Payload: the message.
  // worker (started with --cut-over): Ready, and no slot before cut_over_ns
  // is fired. Payload: u64 cut_over_ns.
  CutOverReady = 5,
  // supervisor: fire the slots that start before cut_over_ns, then retire
  // as on SIGTERM (0 or a past instant: at once); SIGTERM follows once
  // cut_over_ns has passed. Payload: u64 cut_over_ns.
  Retire = 6,
  // worker: the Retire came after its cut-over; this many targets had
  // already been probed for a slot at or after it (the new worker probes
  // them too). Sent only when not 0, before the state. Payload: u64 late_probes.
  CutOverLate = 7,
};

enum class TargetHealth : uint8_t { Unknown = 0, Up = 1, Down = 2 };

// What a target's state machine needs to carry over a reload. Identity is
// name + url: a target whose either changed starts afresh.
struct TargetStateRecord {
  std::string name;
  std::string url;
  TargetHealth health = TargetHealth::Unknown;
  int64_t since_unix_ms = 0;  // wall clock time of the last change of health
  uint32_t consecutive_failures = 0;
  uint32_t consecutive_successes = 0;
  uint64_t probes = 0;
  uint64_t failures = 0;
  std::string last_reason;  // why it is DOWN (empty when UP)
};

struct ControlMessage {
  MessageType type = MessageType::Ready;
  TargetStateRecord state;   // TargetState only
  std::string text;          // ConfigError only
  uint64_t cut_over_ns = 0;  // CutOverReady, Retire only
  uint64_t late_probes = 0;  // CutOverLate only
};

// A message of `type` with no payload fields set.
inline ControlMessage control_message(MessageType type) {
  ControlMessage m;
  m.type = type;
  return m;
}

// Encodes one message (header + payload). Strings longer than the frame
// allows are cut at a limit (names and URLs come from a config line and are
// far below it).
std::string encode_message(const ControlMessage& msg);

// Accumulates bytes from the stream and yields whole messages.
class ControlDecoder {
 public:
  // Appends bytes; returns false (and sets error) if the stream is malformed,
  // after which the channel must be closed.
  bool feed(const char* data, size_t len, std::string* error);
  // Pops the next complete message, if any.
  bool next(ControlMessage* out);

 private:
  std::string buffer_;
  std::vector<ControlMessage> ready_;
  size_t read_index_ = 0;
};

}  // namespace observer
