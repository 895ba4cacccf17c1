// The control channel between supervisor and worker: a stream socketpair on
// the worker's fd 3. Messages are framed as a fixed 8-byte header
// (type, payload length) and a payload whose size is checked exactly for its
// type. A malformed message ends the channel; nothing is guessed.
//
// worker -> supervisor: Ready or CutOverReady; Heartbeat every
//                       kHeartbeatInterval while its loop runs; on retirement
//                       [CutOverLate], TargetState*, StateEnd; or ConfigError
// supervisor -> worker: TargetState*, StateEnd  (the hand-over on reload);
//                       Retire (the end of the worker a reload replaces);
//                       Resume (that end called off: the successor died
//                       before the cut-over)
//
// The cut-over of a reload: the new worker fires no slot before an instant T
// it announces with CutOverReady; the old one, told T with Retire, fires
// every slot before T and none after. T is CLOCK_MONOTONIC (uv_hrtime()),
// one clock for every process of the machine. So each slot is probed once.
// The Retire does not replace the retirement's SIGTERM (DESIGN.md): the
// supervisor sends it too, once T has passed, and to the worker it is the
// retirement the Retire started, not a second stop.
//
// Which slot is whose: the successor announces T kCutOverMargin after the
// instant F it takes the slots from (F = T - kCutOverMargin). A slot whose
// boundary (worker/schedule.h) is at or after T AND whose start is at or
// after F is the successor's; every other slot is the old worker's. The old
// worker, which fires by start until the Retire reaches it (at R, after F),
// has then fired only its own slots plus those that start in [F, R] with a
// boundary at or after T: exactly what CutOverLate counts, and what both
// workers probe.
//
// A retirement is called off (Resume) when the successor dies before the
// cut-over: the supervisor sends SIGTERM only once T has passed and the
// successor is still alive, so up to then the old worker still holds every
// target's state; on Resume it fires every slot again, from the first one
// that is not its own (overdue ones at once), and stays the current worker.
// A Resume that comes after the hand-over began is ignored (the supervisor
// never sends one after the SIGTERM).
//
// Liveness: a supervised worker sends Heartbeat from a timer of its loop, so
// a worker whose loop stops (SIGSTOP, a busy loop, a deadlock) falls silent.
// The supervisor replaces a current worker it has not heard from for
// kWorkerStallLimit (SIGKILL, then the crash path with its back-off) and
// pings systemd's watchdog only while the current worker is heard from.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace observer {

// The worker's end of the channel, as seen by the worker.
constexpr int kControlFd = 3;
// The metrics/status socket the supervisor hands on, when `listen` is set
// (the worker is told with --listen-fd).
constexpr int kListenFd = 4;
constexpr uint32_t kMaxControlPayload = 64 * 1024;
// The most words of TargetStateRecord::counters a record carries (a record
// with more is malformed): raising it breaks reloads onto older workers.
constexpr size_t kMaxTargetCounters = 64;

// How far ahead of its CutOverReady a reload's successor puts the cut-over T:
// the time the supervisor has to pass T on to the worker it replaces. A
// later arrival costs duplicate probes (never a missed one). Both workers
// derive F = T - margin from it (see above); tests may change it for every
// worker at once (cut_over_margin() in the worker).
constexpr std::chrono::milliseconds kCutOverMargin{100};
// A supervised worker's loop sends a Heartbeat this often.
constexpr std::chrono::milliseconds kHeartbeatInterval{1000};
// A current worker not heard from (any message) for this long is stuck: ten
// heartbeats, so that a loaded 2-core machine, an ASan build or a long
// hand-over write never trips it, while a hung worker is replaced within
// seconds and well inside a typical WatchdogSec.
constexpr std::chrono::milliseconds kWorkerStallLimit{10000};

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
  // worker: its loop runs (sent every kHeartbeatInterval). Payload: none.
  Heartbeat = 8,
  // supervisor: the Retire is called off (its successor died before the
  // cut-over): keep every target and fire every slot. Payload: none.
  Resume = 9,
  // supervisor: a reload failed; this worker goes on with its configuration
  // (for observer_config_last_reload_successful). Payload: u64 unix seconds.
  ReloadFailed = 10,
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
  // The target's metric counters (worker/metrics.h, TargetCounters), in
  // their order there. Carried as a counted list after the fields above so
  // that a worker of another version, with more or fewer counters, still
  // reads the record (missing ones start at 0, unknown ones are dropped).
  std::vector<uint64_t> counters;
  // What the target's alerts have said (worker/alert_plan.h: AlertTrack),
  // carried after the counters in the same way, and the reason of its
  // latest DOWN (kept after it is UP again, for an alert still owed).
  std::vector<uint64_t> alert;
  std::string down_reason;
};

struct ControlMessage {
  MessageType type = MessageType::Ready;
  TargetStateRecord state;   // TargetState only
  std::string text;          // ConfigError only
  uint64_t cut_over_ns = 0;  // CutOverReady, Retire only
  uint64_t late_probes = 0;  // CutOverLate only
  uint64_t unix_seconds = 0; // ReloadFailed only
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
  // Bytes of a message not yet complete are waiting.
  bool has_partial() const { return !buffer_.empty(); }

 private:
  std::string buffer_;
  std::vector<ControlMessage> ready_;
  size_t read_index_ = 0;
};

}  // namespace observer
