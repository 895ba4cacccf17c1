// Property: whatever parses, formats back to text that parses to the same value.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/duration.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  observer::Nanos d{};
  std::string err;
  if (!observer::parse_duration(text, &d, &err)) {
    if (err.empty()) abort();  // every rejection says why
    return 0;
  }
  if (d.count() < 0) abort();
  observer::Nanos back{};
  if (!observer::parse_duration(observer::format_duration(d), &back, &err) || back != d) abort();
  return 0;
}
