// The status page (GET /) and its JSON API (GET /api/v1/targets[/NAME],
// GET /healthz): what a person or a load balancer reads of a worker. Built
// from views of the engine's targets (Engine::target_views()) and of the
// process (Worker), rendered server-side: one self-contained HTML page (no
// external asset; readable without JavaScript, a filter box and a refresh
// without reload with it) and JSON built with nlohmann-json, whose field
// names are documented in observer(8) and README.md and are kept stable.
//
// Everything that comes from the configuration or from a server (names,
// urls, reasons) is escaped for its place (HTML text and attributes, JSON
// strings: invalid UTF-8 becomes U+FFFD). Urls are the masked ones
// (display_url()); no request header is ever shown.
//
// Pure: the caller passes the time in; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/control.h"
#include "common/shard.h"
#include "worker/history.h"
#include "worker/metrics.h"

namespace observer {

// One target, as the engine holds it. Valid until the engine next runs.
struct TargetView {
  const std::string* name = nullptr;
  const std::string* url = nullptr;  // masked
  TargetHealth health = TargetHealth::Unknown;
  int64_t since_unix_ms = 0;
  const std::string* down_reason = nullptr;   // the failing check's line that took it DOWN
  const std::string* last_failure = nullptr;  // the last failed probe's first finding
  const LastProbe* last = nullptr;
  const TargetCounters* counters = nullptr;
  const ProbeHistory* history = nullptr;
};

struct ProcessView {
  long worker_pid = 0;
  int64_t config_loaded_unix = 0;    // when the configuration in force was loaded
  bool last_reload_ok = true;
  int64_t last_reload_failed_unix = 0;  // 0: none failed since
  bool healthy = false;
  std::string health_reason;  // why not healthy
  int64_t now_ms = 0;
  Shard shard;                  // the share of the file's targets shown
  size_t targets_configured = 0;  // every shard's targets
};

// DOWN first, then unknown, then UP; by name within each.
void sort_for_status(std::vector<TargetView>* targets);

std::string render_status_html(const std::vector<TargetView>& targets, const ProcessView& process);
// {"observer": {...}, "targets": [...]}, or one target's object.
std::string render_targets_json(const std::vector<TargetView>& targets, const ProcessView& process);
std::string render_target_json(const TargetView& target, int64_t now_ms);
std::string render_health_json(const ProcessView& process);
std::string render_not_found_json(const std::string& what);

// Text for HTML element content and quoted attribute values.
std::string html_escape(std::string_view s);

}  // namespace observer
