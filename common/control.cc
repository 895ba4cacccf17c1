#include "common/control.h"

#include <cstring>

namespace observer {
namespace {

constexpr size_t kHeaderSize = 8;  // u16 type, u16 reserved (0), u32 payload length
constexpr size_t kMaxString = 4096;
constexpr size_t kMaxCounters = kMaxTargetCounters;

void put_u8(std::string* b, uint8_t v) { b->push_back(static_cast<char>(v)); }
void put_u16(std::string* b, uint16_t v) { b->append(reinterpret_cast<const char*>(&v), 2); }
void put_u32(std::string* b, uint32_t v) { b->append(reinterpret_cast<const char*>(&v), 4); }
void put_u64(std::string* b, uint64_t v) { b->append(reinterpret_cast<const char*>(&v), 8); }
void put_str(std::string* b, const std::string& s) {
  size_t n = s.size() < kMaxString ? s.size() : kMaxString;
  put_u16(b, static_cast<uint16_t>(n));
  b->append(s, 0, n);
}

// Reads fields from a payload; any read past the end marks it bad.
class Reader {
 public:
  Reader(const char* p, size_t n) : p_(p), n_(n) {}
  template <class T>
  T get() {
    T v{};
    if (n_ - off_ < sizeof(T) || bad_) {
      bad_ = true;
      return v;
    }
    std::memcpy(&v, p_ + off_, sizeof(T));
    off_ += sizeof(T);
    return v;
  }
  std::string str() {
    uint16_t len = get<uint16_t>();
    if (bad_ || len > kMaxString || n_ - off_ < len) {
      bad_ = true;
      return {};
    }
    std::string s(p_ + off_, len);
    off_ += len;
    return s;
  }
  // True when every byte was consumed and nothing was read past the end.
  bool exact() const { return !bad_ && off_ == n_; }
  bool at_end() const { return bad_ || off_ == n_; }

 private:
  const char* p_;
  size_t n_;
  size_t off_ = 0;
  bool bad_ = false;
};

std::string encode_state(const TargetStateRecord& s) {
  std::string b;
  put_str(&b, s.name);
  put_str(&b, s.url);
  put_u8(&b, static_cast<uint8_t>(s.health));
  put_u64(&b, static_cast<uint64_t>(s.since_unix_ms));
  put_u32(&b, s.consecutive_failures);
  put_u32(&b, s.consecutive_successes);
  put_u64(&b, s.probes);
  put_u64(&b, s.failures);
  put_str(&b, s.last_reason);
  size_t n = s.counters.size() < kMaxCounters ? s.counters.size() : kMaxCounters;
  put_u16(&b, static_cast<uint16_t>(n));
  for (size_t i = 0; i < n; ++i) put_u64(&b, s.counters[i]);
  if (s.alert.empty() && s.down_reason.empty()) return b;  // nothing alerted: as a worker before alerts
  n = s.alert.size() < kMaxCounters ? s.alert.size() : kMaxCounters;
  put_u16(&b, static_cast<uint16_t>(n));
  for (size_t i = 0; i < n; ++i) put_u64(&b, s.alert[i]);
  put_str(&b, s.down_reason);
  return b;
}

bool decode_state(const char* p, size_t n, TargetStateRecord* s) {
  Reader r(p, n);
  s->name = r.str();
  s->url = r.str();
  uint8_t health = r.get<uint8_t>();
  s->since_unix_ms = static_cast<int64_t>(r.get<uint64_t>());
  s->consecutive_failures = r.get<uint32_t>();
  s->consecutive_successes = r.get<uint32_t>();
  s->probes = r.get<uint64_t>();
  s->failures = r.get<uint64_t>();
  s->last_reason = r.str();
  s->counters.clear();
  if (!r.at_end()) {  // a worker before the counters sends none
    uint16_t n = r.get<uint16_t>();
    if (n > kMaxCounters) return false;
    for (uint16_t i = 0; i < n; ++i) s->counters.push_back(r.get<uint64_t>());
  }
  s->alert.clear();
  s->down_reason.clear();
  if (!r.at_end()) {  // nor a worker before alerts
    uint16_t n = r.get<uint16_t>();
    if (n > kMaxCounters) return false;
    for (uint16_t i = 0; i < n; ++i) s->alert.push_back(r.get<uint64_t>());
    s->down_reason = r.str();
    // The encoder leaves an empty section out: one record, one encoding.
    if (s->alert.empty() && s->down_reason.empty()) return false;
  }
  if (health > static_cast<uint8_t>(TargetHealth::Down)) return false;
  s->health = static_cast<TargetHealth>(health);
  return r.exact();
}

}  // namespace

std::string encode_message(const ControlMessage& msg) {
  std::string payload;
  if (msg.type == MessageType::TargetState) payload = encode_state(msg.state);
  if (msg.type == MessageType::ConfigError) put_str(&payload, msg.text);
  if (msg.type == MessageType::CutOverReady || msg.type == MessageType::Retire) put_u64(&payload, msg.cut_over_ns);
  if (msg.type == MessageType::CutOverLate) put_u64(&payload, msg.late_probes);
  if (msg.type == MessageType::ReloadFailed) put_u64(&payload, msg.unix_seconds);
  std::string out;
  put_u16(&out, static_cast<uint16_t>(msg.type));
  put_u16(&out, 0);
  put_u32(&out, static_cast<uint32_t>(payload.size()));
  return out + payload;
}

bool ControlDecoder::feed(const char* data, size_t len, std::string* error) {
  buffer_.append(data, len);
  size_t off = 0;
  while (buffer_.size() - off >= kHeaderSize) {
    uint16_t type = 0, reserved = 0;
    uint32_t plen = 0;
    std::memcpy(&type, buffer_.data() + off, 2);
    std::memcpy(&reserved, buffer_.data() + off + 2, 2);
    std::memcpy(&plen, buffer_.data() + off + 4, 4);
    if (reserved != 0 || plen > kMaxControlPayload) {
      *error = "control message with a bad header (type " + std::to_string(type) + ", length " +
               std::to_string(plen) + ")";
      return false;
    }
    if (buffer_.size() - off - kHeaderSize < plen) break;
    const char* payload = buffer_.data() + off + kHeaderSize;
    ControlMessage msg;
    switch (static_cast<MessageType>(type)) {
      case MessageType::Ready:
      case MessageType::StateEnd:
      case MessageType::Heartbeat:
      case MessageType::Resume:
        if (plen != 0) {
          *error = "control message type " + std::to_string(type) + " must be empty, has " +
                   std::to_string(plen) + " bytes";
          return false;
        }
        msg.type = static_cast<MessageType>(type);
        break;
      case MessageType::TargetState:
        msg.type = MessageType::TargetState;
        if (!decode_state(payload, plen, &msg.state)) {
          *error = "malformed target-state control message (" + std::to_string(plen) + " bytes)";
          return false;
        }
        break;
      case MessageType::ConfigError: {
        msg.type = MessageType::ConfigError;
        Reader r(payload, plen);
        msg.text = r.str();
        if (!r.exact()) {
          *error = "malformed config-error control message (" + std::to_string(plen) + " bytes)";
          return false;
        }
        break;
      }
      case MessageType::CutOverReady:
      case MessageType::Retire:
      case MessageType::CutOverLate:
      case MessageType::ReloadFailed: {
        msg.type = static_cast<MessageType>(type);
        Reader r(payload, plen);
        uint64_t v = r.get<uint64_t>();
        if (!r.exact()) {
          *error = "control message type " + std::to_string(type) + " must be 8 bytes, has " + std::to_string(plen);
          return false;
        }
        if (msg.type == MessageType::CutOverLate)
          msg.late_probes = v;
        else if (msg.type == MessageType::ReloadFailed)
          msg.unix_seconds = v;
        else
          msg.cut_over_ns = v;
        break;
      }
      default:
        *error = "unknown control message type " + std::to_string(type);
        return false;
    }
    ready_.push_back(std::move(msg));
    off += kHeaderSize + plen;
  }
  buffer_.erase(0, off);
  return true;
}

bool ControlDecoder::next(ControlMessage* out) {
  if (read_index_ >= ready_.size()) {
    ready_.clear();
    read_index_ = 0;
    return false;
  }
  *out = std::move(ready_[read_index_++]);
  return true;
}

}  // namespace observer
