// Property: an accepted spec re-parses from its normalised text to the same
// set of codes, and never matches a code outside 100..599.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/status_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  observer::StatusSpec spec, again;
  std::string err;
  if (!observer::StatusSpec::parse(text, &spec, &err)) {
    if (err.empty()) abort();
    return 0;
  }
  if (!observer::StatusSpec::parse(spec.text(), &again, &err)) abort();
  for (long code = 0; code < 1000; ++code) {
    if (spec.matches(code) != again.matches(code)) abort();
    if (spec.matches(code) && (code < 100 || code > 599)) abort();
  }
  return 0;
}
