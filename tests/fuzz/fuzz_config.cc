// The whole config loader fed INI text: it either loads a configuration with
// at least one http(s) target and positive ticks, or says why it did not.
// Nothing else (no crash, no hang, no silent empty config).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/observer-fuzz-config-" + std::to_string(getpid()) + ".conf";
  FILE* f = fopen(path.c_str(), "wb");
  if (f == nullptr) abort();
  fwrite(data, 1, size, f);
  fclose(f);
  observer::Invocation inv;
  std::string err;
  if (!observer::load_invocation({"-config", path}, {}, &inv, &err)) {
    if (err.empty()) abort();
    return 0;
  }
  if (inv.config.targets.empty()) abort();
  for (const auto& t : inv.config.targets) {
    if (!t.settings || t.settings->tick.count() <= 0 || t.settings->timeout > t.settings->tick || t.settings->user_agent.empty()) abort();
    if (t.url.compare(0, 7, "http://") != 0 && t.url.compare(0, 8, "https://") != 0 &&
        t.url.compare(0, 7, "HTTP://") != 0 && t.url.compare(0, 8, "HTTPS://") != 0) {
      // Scheme case may vary; the loader lower-cases it to check.
      std::string lower;
      for (char c : t.url.substr(0, 8)) lower += static_cast<char>(tolower(static_cast<unsigned char>(c)));
      if (lower.compare(0, 7, "http://") != 0 && lower.compare(0, 8, "https://") != 0) abort();
    }
  }
  (void)observer::render_effective_config(inv.config);
  return 0;
}
