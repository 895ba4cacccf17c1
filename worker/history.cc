#include "worker/history.h"

#include <algorithm>
#include <cmath>

namespace observer {
namespace {

constexpr int64_t kMsPerMinute = 60 * 1000;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
size_t index_of(int64_t unit, size_t n) {
  int64_t m = unit % static_cast<int64_t>(n);
  return static_cast<size_t>(m < 0 ? m + static_cast<int64_t>(n) : m);
}

}  // namespace

void ProbeHistory::push_probe(uint16_t ms, bool ok) noexcept {
  durations_ms_[next_] = ms;
  uint64_t bit = uint64_t{1} << next_;
  failed_bits_ = ok ? failed_bits_ & ~bit : failed_bits_ | bit;
  next_ = static_cast<uint8_t>((next_ + 1) % kProbes);
  if (count_ < kProbes) ++count_;
}

void ProbeHistory::record(int64_t unix_ms, bool ok, double duration_s) noexcept {
  double ms = duration_s * 1000.0;
  uint16_t rounded = !(ms >= 0) ? 0 : ms >= 65535.0 ? uint16_t{65535} : static_cast<uint16_t>(std::lround(ms));
  push_probe(rounded, ok);
  roll_to(floor_div(unix_ms, kMsPerMinute));
  ++minute_total_;
  ++hour_total_;
  if (ok) {
    ++minute_pass_;
    ++hour_pass_;
  }
  last_unix_ms_ = std::max(last_unix_ms_, unix_ms);
}

// A clock that went back keeps counting into the current minute.
void ProbeHistory::roll_to(int64_t minute) noexcept {
  if (minute_ == 0) {
    minute_ = minute;
    return;
  }
  if (minute <= minute_) return;
  minute_share_[index_of(minute_, kMinutes)] =
      minute_total_ == 0 ? kNoMinute
                         : static_cast<uint8_t>((uint64_t{minute_pass_} * kMinuteScale + minute_total_ / 2) / minute_total_);
  int64_t gap_end = std::min(minute, minute_ + static_cast<int64_t>(kMinutes) + 1);
  for (int64_t m = minute_ + 1; m < gap_end; ++m) minute_share_[index_of(m, kMinutes)] = kNoMinute;
  minute_pass_ = minute_total_ = 0;
  int64_t hour = floor_div(minute_, 60), new_hour = floor_div(minute, 60);
  if (new_hour != hour) {
    hour_share_[index_of(hour, kHours)] =
        hour_total_ == 0 ? kNoHour
                         : static_cast<uint16_t>((uint64_t{hour_pass_} * kHourScale + hour_total_ / 2) / hour_total_);
    int64_t hours_end = std::min(new_hour, hour + static_cast<int64_t>(kHours) + 1);
    for (int64_t h = hour + 1; h < hours_end; ++h) hour_share_[index_of(h, kHours)] = kNoHour;
    hour_pass_ = hour_total_ = 0;
  }
  minute_ = minute;
}

std::optional<double> ProbeHistory::mean_of_minutes(int64_t now_minute) const {
  if (minute_ == 0) return std::nullopt;
  double sum = 0;
  size_t n = 0;
  int64_t oldest = now_minute - static_cast<int64_t>(kMinutes) + 1;  // the window: [oldest, now_minute]
  if (minute_ >= oldest && minute_total_ != 0) {
    sum += static_cast<double>(minute_pass_) / minute_total_;
    ++n;
  }
  for (int64_t m = std::max(oldest, minute_ - static_cast<int64_t>(kMinutes) + 1); m < minute_ && m <= now_minute; ++m) {
    uint8_t s = minute_share_[index_of(m, kMinutes)];
    if (s == kNoMinute || s > kMinuteScale) continue;
    sum += static_cast<double>(s) / kMinuteScale;
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / static_cast<double>(n);
}

std::optional<double> ProbeHistory::mean_of_hours(int64_t now_hour) const {
  if (minute_ == 0) return std::nullopt;
  int64_t hour = floor_div(minute_, 60);
  double sum = 0;
  size_t n = 0;
  int64_t oldest = now_hour - static_cast<int64_t>(kHours) + 1;
  if (hour >= oldest && hour_total_ != 0) {
    sum += static_cast<double>(hour_pass_) / hour_total_;
    ++n;
  }
  for (int64_t h = std::max(oldest, hour - static_cast<int64_t>(kHours) + 1); h < hour && h <= now_hour; ++h) {
    uint16_t s = hour_share_[index_of(h, kHours)];
    if (s == kNoHour || s > kHourScale) continue;
    sum += static_cast<double>(s) / kHourScale;
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / static_cast<double>(n);
}

std::optional<double> ProbeHistory::uptime_last_hour(int64_t now_ms) const {
  return mean_of_minutes(floor_div(now_ms, kMsPerMinute));
}

std::optional<double> ProbeHistory::uptime_last_day(int64_t now_ms) const {
  return mean_of_hours(floor_div(now_ms, kMsPerMinute * 60));
}

// Words: [0] 1<<63 | next | count<<8; [1..15] durations, four u16 a word;
// [16] failure bits; [17..24] minute shares, eight a word; [25..30] hour
// shares, four a word; [31] minute; [32] minute pass | total<<32; [33] hour
// pass | total<<32; [34] last_unix_ms. Append, never reorder.
void ProbeHistory::encode(std::vector<uint64_t>* out) const {
  out->push_back((uint64_t{1} << 63) | next_ | (uint64_t{count_} << 8));
  for (size_t i = 0; i < kProbes; i += 4) {
    uint64_t w = 0;
    for (size_t j = 0; j < 4; ++j) w |= uint64_t{durations_ms_[i + j]} << (16 * j);
    out->push_back(w);
  }
  out->push_back(failed_bits_);
  for (size_t i = 0; i < 64; i += 8) {
    uint64_t w = 0;
    for (size_t j = 0; j < 8; ++j) w |= uint64_t{i + j < kMinutes ? minute_share_[i + j] : kNoMinute} << (8 * j);
    out->push_back(w);
  }
  for (size_t i = 0; i < kHours; i += 4) {
    uint64_t w = 0;
    for (size_t j = 0; j < 4; ++j) w |= uint64_t{hour_share_[i + j]} << (16 * j);
    out->push_back(w);
  }
  out->push_back(static_cast<uint64_t>(minute_));
  out->push_back(minute_pass_ | (uint64_t{minute_total_} << 32));
  out->push_back(hour_pass_ | (uint64_t{hour_total_} << 32));
  out->push_back(static_cast<uint64_t>(last_unix_ms_));
}

void ProbeHistory::decode(const uint64_t* w, size_t n) {
  *this = ProbeHistory();
  if (w == nullptr || n < kEncodedWords || (w[0] >> 63) == 0) return;
  uint64_t next = w[0] & 0xFF, count = (w[0] >> 8) & 0xFF;
  if (next >= kProbes || count > kProbes) return;
  ProbeHistory h;
  h.next_ = static_cast<uint8_t>(next);
  h.count_ = static_cast<uint8_t>(count);
  for (size_t i = 0; i < kProbes; ++i) h.durations_ms_[i] = static_cast<uint16_t>(w[1 + i / 4] >> (16 * (i % 4)));
  h.failed_bits_ = w[16];
  for (size_t i = 0; i < kMinutes; ++i) h.minute_share_[i] = static_cast<uint8_t>(w[17 + i / 8] >> (8 * (i % 8)));
  for (size_t i = 0; i < kHours; ++i) h.hour_share_[i] = static_cast<uint16_t>(w[25 + i / 4] >> (16 * (i % 4)));
  h.minute_ = static_cast<int64_t>(w[31]);
  h.minute_pass_ = static_cast<uint32_t>(w[32]);
  h.minute_total_ = static_cast<uint32_t>(w[32] >> 32);
  h.hour_pass_ = static_cast<uint32_t>(w[33]);
  h.hour_total_ = static_cast<uint32_t>(w[33] >> 32);
  h.last_unix_ms_ = static_cast<int64_t>(w[34]);
  if (h.minute_pass_ > h.minute_total_ || h.hour_pass_ > h.hour_total_ || h.minute_ < 0) return;
  *this = h;
}

void ProbeHistory::append(const ProbeHistory& newer) {
  for (size_t i = 0; i < newer.size(); ++i) push_probe(newer.duration_ms(i), newer.ok(i));
  last_unix_ms_ = std::max(last_unix_ms_, newer.last_unix_ms_);
  if (newer.minute_ == 0) return;
  roll_to(newer.minute_);
  // Closed minutes and hours of `newer` (a hand-over that spanned a
  // boundary) fill the ones this history has no probe for.
  for (size_t i = 0; i < kMinutes; ++i)
    if (minute_share_[i] == kNoMinute && newer.minute_share_[i] != kNoMinute) minute_share_[i] = newer.minute_share_[i];
  for (size_t i = 0; i < kHours; ++i)
    if (hour_share_[i] == kNoHour && newer.hour_share_[i] != kNoHour) hour_share_[i] = newer.hour_share_[i];
  minute_pass_ += newer.minute_pass_;
  minute_total_ += newer.minute_total_;
  hour_pass_ += newer.hour_pass_;
  hour_total_ += newer.hour_total_;
}

}  // namespace observer
