// Metrics: what /metrics exposes about the targets, and the Prometheus text
// format (0.0.4) it is written in. The names are blackbox_exporter's where
// the meaning is the same (probe_success, probe_duration_seconds,
// probe_http_status_code, probe_http_duration_seconds{phase},
// probe_ssl_earliest_cert_expiry), so its dashboards and alert rules work;
// the rest are observer_*. The engine keeps the per-target figures
// (TargetCounters carry over a reload with the target's state) and writes
// them (Engine::write_metrics); the worker adds the process's own.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/shard.h"
#include "worker/history.h"

namespace observer {

// Why a probe failed, for observer_probe_failures_total{reason}.
enum class FailureReason : uint8_t {
  Status, Header, Body, ResponseTime, Certificate, Timeout, Connect, Dns, Tls, Redirect, Transport,
};
constexpr size_t kFailureReasons = 11;
const char* failure_reason_name(FailureReason reason);
// The reason of a failed probe from its first finding's check ("status",
// "transport", ...) and, for transport failures, curl's code.
FailureReason classify_failure(const std::string& check, int curl_code);

// The counters of one target. The order is the wire order of
// TargetStateRecord::counters: append, never reorder.
struct TargetCounters {
  uint64_t success = 0;
  uint64_t failure = 0;
  uint64_t skipped = 0;
  uint64_t state_changes = 0;
  std::array<uint64_t, kFailureReasons> failures{};

};
void add_counters(TargetCounters* to, const TargetCounters& from);

// What the last probe of a target found (the probe_* gauges).
struct LastProbe {
  bool known = false;
  bool success = false;
  uint16_t status = 0;
  double duration_s = 0;
  std::array<float, 5> phases_s{};  // resolve, connect, tls, processing, transfer
  int64_t cert_expiry_unix = 0;      // 0: unknown or not https
};
extern const char* const kPhaseNames[5];

// A target's figures as TargetStateRecord::counters carries them over a
// reload: the counters, then the last probe (so that its gauges do not
// vanish while a reload hands over), then the probe history of the status
// page (history.h; 23 + 35 of control.cc's 64 words). Append, never reorder.
std::vector<uint64_t> encode_target_metrics(const TargetCounters& counters, const LastProbe& last,
                                            const ProbeHistory* history = nullptr);
void decode_target_metrics(const std::vector<uint64_t>& list, TargetCounters* counters, LastProbe* last,
                           ProbeHistory* history = nullptr);

// A fixed-bucket histogram (cumulative on output).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  void write(const char* name, const char* help, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
};

// observer_shard_info{shard="I",shards="N"} 1 and observer_targets{scope=
// "shard"} (the targets this instance probes) / {scope="config"} (every
// target in the file, whichever shard probes it): summed over the shards,
// the first must equal the second (examples/prometheus/rules.yml).
void append_shard_metrics(std::string* out, const Shard& shard, size_t own_targets, size_t configured_targets);

// Text-format helpers.
void append_family(std::string* out, const char* name, const char* type, const char* help);
// `v` escaped as a label value (backslash, quote, line feed).
void append_label_value(std::string* out, const std::string& v);
void append_number(std::string* out, double v);
void append_number(std::string* out, float v);  // shortest for a float: 0.005046, not 0.005045999772
void append_number(std::string* out, uint64_t v);

}  // namespace observer
