// Go-style durations ("300ms", "1m30s", "1.5h", "10µs") as used by the seed's
// `tick` key, and their canonical rendering (Go's time.Duration.String()).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace observer {

using Nanos = std::chrono::nanoseconds;

// Parses a Go duration. Accepts an optional leading '+', a sequence of
// decimal numbers (with optional fraction) each followed by a unit
// (ns, us, µs, μs, ms, s, m, h). Rejects empty text, a missing unit, unknown
// units, negative values and anything that overflows int64 nanoseconds.
// "0" alone is accepted, as in Go; callers that need a positive value check it.
bool parse_duration(std::string_view text, Nanos* out, std::string* error);

// Renders like Go: "1h2m3.5s", "300ms", "1.5µs", "0s".
std::string format_duration(Nanos d);

// `d` in whole milliseconds (cut, not rounded), never negative: what a
// libuv timer takes.
uint64_t whole_ms(Nanos d);

// The wall clock in unix milliseconds: what states, alerts and the status
// page time-stamp.
inline int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace observer
