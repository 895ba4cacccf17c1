#include "common/status_spec.h"

namespace observer {
namespace {

bool parse_code(std::string_view s, int* out) {
  if (s.size() != 3) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < 100 || v > 599) return false;
  *out = v;
  return true;
}

std::string strip(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != ' ' && c != '\t') out += c;
  return out;
}

}  // namespace

bool StatusSpec::parse(std::string_view text, StatusSpec* out, std::string* error) {
  StatusSpec spec;
  spec.text_ = strip(text);
  std::string_view rest = spec.text_;
  auto bad = [&](std::string_view item) {
    *error = "invalid status \"" + std::string(text) + "\": \"" + std::string(item) +
             "\" is not a code (200), a range (200-299) or a class (2xx) between 100 and 599";
    return false;
  };
  if (rest.empty()) return bad(rest);
  while (true) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    int lo = 0, hi = 0;
    size_t dash = item.find('-');
    if (item.size() == 3 && (item[1] == 'x' || item[1] == 'X') && (item[2] == 'x' || item[2] == 'X') &&
        item[0] >= '1' && item[0] <= '5') {
      lo = (item[0] - '0') * 100;
      hi = lo + 99;
    } else if (dash != std::string_view::npos) {
      if (!parse_code(item.substr(0, dash), &lo) || !parse_code(item.substr(dash + 1), &hi)) return bad(item);
      if (lo > hi) {
        *error = "invalid status \"" + std::string(text) + "\": range \"" + std::string(item) +
                 "\" ends before it starts";
        return false;
      }
    } else if (parse_code(item, &lo)) {
      hi = lo;
    } else {
      return bad(item);
    }
    spec.ranges_.emplace_back(lo, hi);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  *out = std::move(spec);
  return true;
}

bool StatusSpec::matches(long code) const {
  for (const auto& r : ranges_)
    if (code >= r.first && code <= r.second) return true;
  return false;
}

}  // namespace observer
