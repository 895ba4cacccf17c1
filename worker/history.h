// ProbeHistory: what the status page shows of a target's recent past, kept
// per target in a fixed ~270 bytes (no allocation, ever), so that 10 000
// targets cost under 3 MB:
//   * the last kProbes probes: duration in ms (u16, saturated at 65535) and
//     a pass/fail bit each, for the sparkline;
//   * the share of passing probes per wall-clock minute of the last hour
//     (u8, 0..250; 255: no probe that minute) and per hour of the last day
//     (u16, 0..10000; 0xFFFF: none), plus the counts of the current minute
//     and hour, for the uptime figures.
// Uptime over the last hour is the mean of the minutes that had a probe
// (each minute weighs the same, whatever the tick), over the last day the
// mean of the hours that had one; time with no probe at all is left out,
// not counted as down.
//
// It travels with the target's state over a reload as kEncodedWords u64s
// appended to TargetStateRecord::counters (metrics.h). Pure: the caller
// passes wall-clock times in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace observer {

class ProbeHistory {
 public:
  static constexpr size_t kProbes = 60;
  static constexpr size_t kMinutes = 60;
  static constexpr size_t kHours = 24;
  static constexpr size_t kEncodedWords = 35;

  // One probe that ended at `unix_ms`. The per-probe hot path: a few stores.
  void record(int64_t unix_ms, bool ok, double duration_s) noexcept;

  // The probes kept, oldest first (i < size()).
  size_t size() const { return count_; }
  uint16_t duration_ms(size_t i) const { return durations_ms_[slot(i)]; }
  bool ok(size_t i) const { return ((failed_bits_ >> slot(i)) & 1u) == 0; }
  // When the newest probe ended (0: none yet).
  int64_t last_unix_ms() const { return last_unix_ms_; }

  // Share of passing probes (0..1) over the last 60 minutes / 24 hours
  // before `now_ms`, or nothing when no probe ended in that time.
  std::optional<double> uptime_last_hour(int64_t now_ms) const;
  std::optional<double> uptime_last_day(int64_t now_ms) const;

  // Appends kEncodedWords words. decode() reads them back from `words`
  // (`n` of them; fewer, as from a worker that predates the history, or
  // malformed ones give an empty history).
  void encode(std::vector<uint64_t>* out) const;
  void decode(const uint64_t* words, size_t n);

  // Adds what `newer` recorded after this history's probes (a reload's new
  // worker probed during the hand-over, before the old one's history came).
  void append(const ProbeHistory& newer);

 private:
  static constexpr uint8_t kNoMinute = 255;
  static constexpr uint8_t kMinuteScale = 250;
  static constexpr uint16_t kNoHour = 0xFFFF;
  static constexpr uint16_t kHourScale = 10000;

  size_t slot(size_t i) const { return (next_ + kProbes - count_ + i) % kProbes; }
  void push_probe(uint16_t ms, bool ok) noexcept;
  // Closes the current minute (and hour) when `minute` is a later one.
  void roll_to(int64_t minute) noexcept;
  std::optional<double> mean_of_minutes(int64_t now_minute) const;
  std::optional<double> mean_of_hours(int64_t now_hour) const;

  std::array<uint16_t, kProbes> durations_ms_{};
  uint64_t failed_bits_ = 0;  // bit s: the probe in slot s failed
  uint8_t next_ = 0;          // the slot the next probe goes to
  uint8_t count_ = 0;
  std::array<uint8_t, kMinutes> minute_share_ = filled<uint8_t, kMinutes>(kNoMinute);  // by unix minute % 60
  std::array<uint16_t, kHours> hour_share_ = filled<uint16_t, kHours>(kNoHour);        // by unix hour % 24
  int64_t minute_ = 0;  // unix minute being counted (0: nothing yet)
  uint32_t minute_pass_ = 0, minute_total_ = 0;
  uint32_t hour_pass_ = 0, hour_total_ = 0;  // of minute_'s hour
  int64_t last_unix_ms_ = 0;

  template <typename T, size_t N>
  static constexpr std::array<T, N> filled(T v) {
    std::array<T, N> a{};
    for (T& x : a) x = v;
    return a;
  }
};

}  // namespace observer
