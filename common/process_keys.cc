#include "common/process_keys.h"

#include <algorithm>

#include <sys/resource.h>

#include "common/config.h"
#include "common/config_values.h"
#include "common/listen_address.h"

namespace observer {

size_t max_in_flight_for_open_files(uint64_t soft_limit) {
  constexpr uint64_t kOwn = 64, kPerProbe = 4, kLeast = 16, kMost = 1024;
  uint64_t n = soft_limit > kOwn ? (soft_limit - kOwn) / kPerProbe : 0;
  return static_cast<size_t>(std::min(kMost, std::max(kLeast, n)));
}

uint64_t open_files_for_max_in_flight(size_t max_in_flight) { return 64 + 4 * static_cast<uint64_t>(max_in_flight); }

bool convert_log_format(const std::string& key, const RawValue& v, GlobalConfig* g, std::string* error) {
  if (v.text == "text") g->log_format = LogFormat::Text;
  else if (v.text == "logfmt") g->log_format = LogFormat::Logfmt;
  else if (v.text == "json") g->log_format = LogFormat::Json;
  else {
    *error = cite(key, v) + ": invalid value \"" + v.text + "\" (text, logfmt or json)";
    return false;
  }
  return true;
}

bool convert_shutdown_timeout(const std::string& key, const RawValue& v, GlobalConfig* g, std::string* error) {
  return parse_positive_duration(key, v, &g->shutdown_timeout, error);
}

bool convert_reload_timeout(const std::string& key, const RawValue& v, GlobalConfig* g, std::string* error) {
  return parse_positive_duration(key, v, &g->reload_timeout, error);
}

bool convert_listen(const std::string& key, const RawValue& v, GlobalConfig* g, std::string* error) {
  g->listen = v.text;
  if (g->listen.empty()) return true;
  ListenAddress la;
  std::string why;
  if (parse_listen_address(g->listen, &la, &why)) return true;
  *error = cite(key, v) + ": " + why;
  return false;
}

// "auto" is resolved once the environment is known (config.cc).
bool convert_state_file(const std::string&, const RawValue& v, GlobalConfig* g, std::string*) {
  g->state_file = v.text;
  return true;
}

bool convert_shard(const std::string& key, const RawValue& v, GlobalConfig* g, std::string* error) {
  std::string why;
  if (parse_shard(v.text, &g->shard, &why)) return true;
  *error = cite(key, v) + ": " + why;
  return false;
}

bool convert_max_in_flight(const std::string& key, const RawValue& v, GlobalConfig* g, std::string* error) {
  g->open_file_limit = 0;
  if (v.text == "auto") {
    struct rlimit rl {};
    g->open_file_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? static_cast<uint64_t>(rl.rlim_cur) : 1024;
    g->max_in_flight = max_in_flight_for_open_files(g->open_file_limit);
    return true;
  }
  int n = 0;
  if (!parse_int(key, v, 1, 1000000, &n, error)) {
    *error += " or auto";
    return false;
  }
  g->max_in_flight = static_cast<size_t>(n);
  return true;
}

}  // namespace observer
