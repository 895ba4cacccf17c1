#include "worker/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/control.h"

namespace observer {

const char* const kPhaseNames[5] = {"resolve", "connect", "tls", "processing", "transfer"};

const char* failure_reason_name(FailureReason reason) {
  switch (reason) {
    case FailureReason::Status: return "status";
    case FailureReason::Header: return "header";
    case FailureReason::Body: return "body";
    case FailureReason::ResponseTime: return "response_time";
    case FailureReason::Certificate: return "certificate";
    case FailureReason::Timeout: return "timeout";
    case FailureReason::Connect: return "connect";
    case FailureReason::Dns: return "dns";
    case FailureReason::Tls: return "tls";
    case FailureReason::Redirect: return "redirect";
    case FailureReason::Transport: return "transport";
  }
  return "transport";
}

FailureReason classify_failure(const std::string& check, int curl_code) {
  if (check == "status") return FailureReason::Status;
  if (check == "server" || check == "content_type" || check == "header" || check == "header_regex")
    return FailureReason::Header;
  if (check == "body_contains" || check == "body_regex") return FailureReason::Body;
  if (check == "max_response_time") return FailureReason::ResponseTime;
  if (check == "cert_min_days" || check == "tls_verify") return FailureReason::Certificate;
  // A transport failure, by curl's code (curl.h's CURLcode numbers).
  switch (curl_code) {
    case 28: return FailureReason::Timeout;
    case 5: case 6: return FailureReason::Dns;  // proxy or host name not resolved
    case 7: return FailureReason::Connect;
    case 35: case 53: case 54: case 58: case 59: case 60: case 64: case 66: case 77: case 80: case 82: case 83:
    case 90: case 91: return FailureReason::Tls;
    case 47: return FailureReason::Redirect;
    default: return FailureReason::Transport;
  }
}

namespace {
uint64_t float_bits(float f) {
  uint32_t u = 0;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float bits_float(uint64_t v) {
  uint32_t u = static_cast<uint32_t>(v);
  float f = 0;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace

namespace {
// Where the history starts in the list: after the counters and the last probe.
constexpr size_t kHistoryAt = 4 + kFailureReasons + 8;
static_assert(kHistoryAt + ProbeHistory::kEncodedWords <= kMaxTargetCounters,
              "a target's figures must fit one state record");
}  // namespace

std::vector<uint64_t> encode_target_metrics(const TargetCounters& c, const LastProbe& last,
                                            const ProbeHistory* history) {
  std::vector<uint64_t> list = {c.success, c.failure, c.skipped, c.state_changes};
  list.insert(list.end(), c.failures.begin(), c.failures.end());
  list.push_back((last.known ? 1u : 0u) | (last.success ? 2u : 0u) | (static_cast<uint64_t>(last.status) << 16));
  uint64_t duration_bits = 0;
  std::memcpy(&duration_bits, &last.duration_s, sizeof duration_bits);
  list.push_back(duration_bits);
  for (float p : last.phases_s) list.push_back(float_bits(p));
  list.push_back(static_cast<uint64_t>(last.cert_expiry_unix));
  if (history != nullptr) history->encode(&list);
  return list;
}

void decode_target_metrics(const std::vector<uint64_t>& list, TargetCounters* c, LastProbe* last,
                           ProbeHistory* history) {
  auto at = [&list](size_t i) { return i < list.size() ? list[i] : 0; };
  *c = TargetCounters();
  c->success = at(0);
  c->failure = at(1);
  c->skipped = at(2);
  c->state_changes = at(3);
  for (size_t i = 0; i < kFailureReasons; ++i) c->failures[i] = at(4 + i);
  size_t base = 4 + kFailureReasons;
  *last = LastProbe();
  uint64_t flags = at(base);
  last->known = (flags & 1) != 0;
  last->success = (flags & 2) != 0;
  last->status = static_cast<uint16_t>(flags >> 16);
  uint64_t duration_bits = at(base + 1);
  std::memcpy(&last->duration_s, &duration_bits, sizeof duration_bits);
  for (size_t i = 0; i < last->phases_s.size(); ++i) last->phases_s[i] = bits_float(at(base + 2 + i));
  last->cert_expiry_unix = static_cast<int64_t>(at(base + 7));
  if (history != nullptr)
    history->decode(list.size() > kHistoryAt ? list.data() + kHistoryAt : nullptr,
                    list.size() > kHistoryAt ? list.size() - kHistoryAt : 0);
}

void add_counters(TargetCounters* to, const TargetCounters& from) {
  to->success += from.success;
  to->failure += from.failure;
  to->skipped += from.skipped;
  to->state_changes += from.state_changes;
  for (size_t i = 0; i < kFailureReasons; ++i) to->failures[i] += from.failures[i];
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
}

void Histogram::write(const char* name, const char* help, std::string* out) const {
  append_family(out, name, "histogram", help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    *out += name;
    *out += "_bucket{le=\"";
    if (i < bounds_.size()) append_number(out, bounds_[i]);
    else *out += "+Inf";
    *out += "\"} ";
    append_number(out, cumulative);
    *out += '\n';
  }
  *out += name;
  *out += "_sum ";
  append_number(out, sum_);
  *out += '\n';
  *out += name;
  *out += "_count ";
  append_number(out, cumulative);
  *out += '\n';
}

void append_shard_metrics(std::string* out, const Shard& shard, size_t own_targets, size_t configured_targets) {
  append_family(out, "observer_shard_info", "gauge", "Which shard of how many this instance is (shard=I/N)");
  *out += "observer_shard_info{shard=\"" + std::to_string(shard.index) + "\",shards=\"" +
          std::to_string(shard.count) + "\"} 1\n";
  append_family(out, "observer_targets", "gauge",
                "Targets: scope=\"shard\" those this instance probes, scope=\"config\" every one in the "
                "configuration, on any shard");
  *out += "observer_targets{scope=\"shard\"} ";
  append_number(out, static_cast<uint64_t>(own_targets));
  *out += "\nobserver_targets{scope=\"config\"} ";
  append_number(out, static_cast<uint64_t>(configured_targets));
  *out += '\n';
}

void append_family(std::string* out, const char* name, const char* type, const char* help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

void append_label_value(std::string* out, const std::string& v) {
  for (char c : v) {
    if (c == '\\') *out += "\\\\";
    else if (c == '"') *out += "\\\"";
    else if (c == '\n') *out += "\\n";
    else *out += c;
  }
}

// std::to_chars: the shortest text that reads back as the same number, and
// no locale; a scrape of 10 000 targets formats some 150 000 of them.
void append_number(std::string* out, double v) {
  if (std::isnan(v)) {
    *out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    *out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

void append_number(std::string* out, float v) {
  if (std::isnan(v) || std::isinf(v)) {
    append_number(out, static_cast<double>(v));
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

void append_number(std::string* out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

}  // namespace observer
