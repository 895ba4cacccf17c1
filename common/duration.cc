#include "common/duration.h"

#include <cstdint>
#include <limits>

namespace observer {
namespace {

struct Unit {
  std::string_view name;
  uint64_t nanos;
};

// Longest names first so that "ms" is not read as "m" followed by "s".
constexpr Unit kUnits[] = {
    {"ns", 1ULL},
    {"us", 1000ULL},
    {"\xC2\xB5s", 1000ULL},  // U+00B5 micro sign
    {"\xCE\xBCs", 1000ULL},  // U+03BC Greek mu
    {"ms", 1000000ULL},
    {"s", 1000000000ULL},
    {"m", 60ULL * 1000000000ULL},
    {"h", 3600ULL * 1000000000ULL},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

const Unit* match_unit(std::string_view rest, size_t* len) {
  const Unit* best = nullptr;
  for (const Unit& u : kUnits) {
    if (rest.substr(0, u.name.size()) == u.name &&
        (best == nullptr || u.name.size() > best->name.size()))
      best = &u;
  }
  if (best != nullptr) *len = best->name.size();
  return best;
}

bool fail(std::string* error, std::string_view text, const char* why) {
  if (error != nullptr)
    *error = "invalid duration \"" + std::string(text) + "\": " + why;
  return false;
}

}  // namespace

bool parse_duration(std::string_view text, Nanos* out, std::string* error) {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  std::string_view s = text;
  if (!s.empty() && s[0] == '-') return fail(error, text, "negative durations are not allowed");
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return fail(error, text, "empty");
  if (s == "0") {
    *out = Nanos(0);
    return true;
  }
  uint64_t total = 0;
  while (!s.empty()) {
    uint64_t whole = 0;
    size_t i = 0;
    bool any_digit = false;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      any_digit = true;
      if (whole > (kMax - (s[i] - '0')) / 10) return fail(error, text, "overflows");
      whole = whole * 10 + (s[i] - '0');
    }
    // Fraction digits: keep up to 18 significant ones, enough for ns of hours.
    uint64_t frac = 0, scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      for (; i < s.size() && is_digit(s[i]); ++i) {
        any_digit = true;
        if (scale < 1000000000000000000ULL) {
          frac = frac * 10 + (s[i] - '0');
          scale *= 10;
        }
      }
    }
    if (!any_digit) return fail(error, text, "expected a number");
    s.remove_prefix(i);
    size_t unit_len = 0;
    const Unit* unit = match_unit(s, &unit_len);
    if (unit == nullptr) {
      if (s.empty()) return fail(error, text, "missing unit (use ns, us, ms, s, m or h)");
      return fail(error, text, "unknown unit (use ns, us, ms, s, m or h)");
    }
    s.remove_prefix(unit_len);
    if (whole > kMax / unit->nanos) return fail(error, text, "overflows");
    uint64_t v = whole * unit->nanos;
    // frac/scale * unit, computed without overflow: scale <= 1e18 and
    // unit <= 3.6e12, so split the multiplication through long double.
    long double fv = static_cast<long double>(frac) * unit->nanos / scale;
    if (fv >= static_cast<long double>(kMax)) return fail(error, text, "overflows");
    v += static_cast<uint64_t>(fv);
    if (v > kMax || total > kMax - v) return fail(error, text, "overflows");
    total += v;
  }
  *out = Nanos(static_cast<int64_t>(total));
  return true;
}

namespace {

// Appends v / 10^prec with trailing zeros of the fraction removed.
void append_fraction(std::string* out, uint64_t v, int prec) {
  uint64_t pow = 1;
  for (int i = 0; i < prec; ++i) pow *= 10;
  *out += std::to_string(v / pow);
  uint64_t frac = v % pow;
  if (frac == 0) return;
  std::string digits = std::to_string(frac);
  digits.insert(0, static_cast<size_t>(prec) - digits.size(), '0');
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  *out += "." + digits;
}

}  // namespace

std::string format_duration(Nanos d) {
  int64_t n = d.count();
  std::string out;
  if (n == 0) return "0s";
  uint64_t u = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  if (n < 0) out = "-";
  if (u < 1000ULL) return out + std::to_string(u) + "ns";
  if (u < 1000000ULL) {
    append_fraction(&out, u, 3);
    return out + "\xC2\xB5s";
  }
  if (u < 1000000000ULL) {
    append_fraction(&out, u, 6);
    return out + "ms";
  }
  uint64_t secs = u / 1000000000ULL;
  uint64_t sub = u % 1000000000ULL;
  uint64_t hours = secs / 3600, mins = (secs / 60) % 60;
  secs %= 60;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || mins > 0) out += std::to_string(mins) + "m";
  append_fraction(&out, secs * 1000000000ULL + sub, 9);
  return out + "s";
}

uint64_t whole_ms(Nanos d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms > 0 ? static_cast<uint64_t>(ms) : 0;
}

}  // namespace observer
