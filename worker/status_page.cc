#include "worker/status_page.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "worker/target_state.h"
#include "common/version.h"

namespace observer {
namespace {

using nlohmann::json;

// Every string in our JSON comes from the configuration or a server:
// invalid UTF-8 becomes U+FFFD instead of an exception.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

int rank(TargetHealth h) { return h == TargetHealth::Down ? 0 : h == TargetHealth::Unknown ? 1 : 2; }

const char* state_word(TargetHealth h) {
  return h == TargetHealth::Down ? "down" : h == TargetHealth::Up ? "up" : "unknown";
}
const char* state_label(TargetHealth h) {
  return h == TargetHealth::Down ? "DOWN" : h == TargetHealth::Up ? "UP" : "unknown";
}

// "2026-12-03 05:26:00 UTC" (`iso`: "2026-12-03T05:26:00Z").
std::string utc_time(int64_t unix_s, bool iso) {
  time_t t = static_cast<time_t>(unix_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[40];
  strftime(buf, sizeof buf, iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// Days left before the certificate expires (negative once it has), if known.
bool cert_days_left(const TargetView& t, int64_t now_ms, int64_t* days) {
  if (t.last->cert_expiry_unix == 0) return false;
  double left_ms = static_cast<double>(t.last->cert_expiry_unix) * 1000.0 - static_cast<double>(now_ms);
  *days = static_cast<int64_t>(std::floor(left_ms / 86400000.0));
  return true;
}

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

double round_to(double v, double step) { return std::round(v / step) * step; }

json target_object(const TargetView& t, int64_t now_ms) {
  json j;
  j["name"] = *t.name;
  j["url"] = *t.url;
  j["state"] = state_word(t.health);
  j["since_unix_ms"] = t.health == TargetHealth::Unknown || t.since_unix_ms == 0 ? json(nullptr) : json(t.since_unix_ms);
  j["reason"] = t.health == TargetHealth::Down ? json(*t.down_reason) : json(nullptr);
  if (t.last->known) {
    json last;
    last["ok"] = t.last->success;
    last["status"] = t.last->status;
    last["duration_ms"] = round_to(t.last->duration_s * 1000.0, 0.001);
    last["ended_unix_ms"] = t.history->last_unix_ms() != 0 ? json(t.history->last_unix_ms()) : json(nullptr);
    last["reason"] = t.last->success || t.last_failure->empty() ? json(nullptr) : json(*t.last_failure);
    j["last_probe"] = std::move(last);
  } else {
    j["last_probe"] = nullptr;
  }
  json durations = json::array(), oks = json::array();
  for (size_t i = 0; i < t.history->size(); ++i) {
    durations.push_back(t.history->duration_ms(i));
    oks.push_back(t.history->ok(i));
  }
  j["recent_probes"] = {{"duration_ms", std::move(durations)}, {"ok", std::move(oks)}};
  auto percent = [](std::optional<double> share) {
    return share ? std::optional<double>(round_to(*share * 100.0, 0.001)) : std::nullopt;
  };
  j["uptime_percent"] = {{"hour", optional_number(percent(t.history->uptime_last_hour(now_ms)))},
                         {"day", optional_number(percent(t.history->uptime_last_day(now_ms)))}};
  int64_t days = 0;
  j["cert_days_left"] = cert_days_left(t, now_ms, &days) ? json(days) : json(nullptr);
  j["probes_total"] = {{"success", t.counters->success}, {"failure", t.counters->failure},
                       {"skipped", t.counters->skipped}};
  j["state_changes"] = t.counters->state_changes;
  return j;
}

json process_object(const ProcessView& p) {
  json j;
  j["version"] = OBSERVER_VERSION;
  j["worker_pid"] = p.worker_pid;
  j["config_loaded_unix"] = p.config_loaded_unix;
  j["last_reload"] = {{"successful", p.last_reload_ok},
                      {"failed_unix", p.last_reload_failed_unix != 0 ? json(p.last_reload_failed_unix) : json(nullptr)}};
  j["healthy"] = p.healthy;
  j["health_reason"] = p.healthy ? json(nullptr) : json(p.health_reason);
  j["now_unix_ms"] = p.now_ms;
  j["shard"] = {{"index", p.shard.index}, {"count", p.shard.count}};
  j["targets_configured"] = p.targets_configured;
  return j;
}

// "shard 1/3: 334 of 1000 targets"; "" when there is one shard.
std::string shard_words(const ProcessView& p, size_t shown) {
  if (p.shard.count == 1) return "";
  return "shard " + p.shard.text() + ": " + std::to_string(shown) + " of " + std::to_string(p.targets_configured) +
         " targets";
}

// ---- HTML ----

void add_text(std::string* out, std::string_view s) { *out += html_escape(s); }

std::string format_ms(double ms) {
  char buf[32];
  if (ms < 10) std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  else std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  return buf;
}

std::string format_percent(const std::optional<double>& share) {
  if (!share) return "no data";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %%", *share * 100.0);
  return buf;
}

// The last probes as bars: a passing probe rises from the baseline by its
// duration, a failing one hangs below it (place, not colour alone, tells).
void add_sparkline(std::string* out, const ProbeHistory& h) {
  constexpr int kBar = 3, kRise = 22, kDrop = 8;
  size_t n = h.size();
  unsigned slowest = 1, failed = 0;
  for (size_t i = 0; i < n; ++i) {
    slowest = std::max<unsigned>(slowest, h.duration_ms(i));
    failed += h.ok(i) ? 0 : 1;
  }
  std::string summary = std::to_string(n) + (n == 1 ? " probe: " : " probes: ") + std::to_string(n - failed) +
                        " passed, " + std::to_string(failed) + " failed; slowest " + std::to_string(slowest) + " ms";
  if (n == 0) summary = "no probe yet";
  *out += "<svg class=\"spark\" role=\"img\" width=\"" + std::to_string(ProbeHistory::kProbes * kBar) +
          "\" height=\"" + std::to_string(kRise + kDrop + 1) + "\" data-probes=\"" + std::to_string(n) +
          "\" aria-label=\"" + summary + "\"><title>" + summary + "</title>";
  *out += "<line x1=\"0\" x2=\"" + std::to_string(ProbeHistory::kProbes * kBar) + "\" y1=\"" +
          std::to_string(kRise) + "\" y2=\"" + std::to_string(kRise) + "\" class=\"base\"/>";
  // Two paths of vertical strokes, not a <rect> per probe: a page of 10 000
  // targets stays about 1 KB a row.
  std::string passed, failed_bars;
  for (size_t i = 0; i < n; ++i) {
    std::string x = std::to_string(static_cast<int>(i) * kBar + 1);
    if (h.ok(i)) {
      int height = std::max(1, static_cast<int>(std::lround(kRise * static_cast<double>(h.duration_ms(i)) / slowest)));
      passed += "M" + x + " " + std::to_string(kRise) + "v-" + std::to_string(height);
    } else {
      failed_bars += "M" + x + " " + std::to_string(kRise + 1) + "v" + std::to_string(kDrop);
    }
  }
  if (!passed.empty()) *out += "<path class=\"ok\" d=\"" + passed + "\"/>";
  if (!failed_bars.empty()) *out += "<path class=\"fail\" d=\"" + failed_bars + "\"/>";
  *out += "</svg>";
}

void add_row(std::string* out, const TargetView& t, int64_t now_ms) {
  const char* word = state_word(t.health);
  *out += "<tr class=\"";
  *out += word;
  *out += "\" data-state=\"";
  *out += word;
  *out += "\" data-name=\"";
  add_text(out, *t.name);
  *out += "\"><td class=\"state\"><span class=\"badge\">";
  *out += state_label(t.health);
  *out += "</span></td><th scope=\"row\"><span class=\"name\">";
  add_text(out, *t.name);
  *out += "</span><br><span class=\"url\">";
  add_text(out, *t.url);
  *out += "</span></th><td class=\"since\">";
  if (t.health != TargetHealth::Unknown && t.since_unix_ms != 0) {
    *out += "<time datetime=\"" + utc_time(t.since_unix_ms / 1000, true) + "\">" +
            utc_time(t.since_unix_ms / 1000, false) + "</time><br>for " +
            format_outage(std::max<int64_t>(0, now_ms - t.since_unix_ms));
  } else {
    *out += "&mdash;";
  }
  *out += "</td><td class=\"result\">";
  if (!t.last->known) {
    *out += "no probe yet";
  } else {
    *out += t.last->success ? "passed" : "failed";
    if (t.last->status != 0) *out += " &middot; HTTP " + std::to_string(t.last->status);
    if (!t.last->success && !t.last_failure->empty()) {
      *out += "<br><span class=\"reason\">";
      add_text(out, *t.last_failure);
      *out += "</span>";
    }
  }
  if (t.health == TargetHealth::Down && !t.down_reason->empty() &&
      (!t.last->known || t.last->success || *t.down_reason != *t.last_failure)) {
    *out += "<br><span class=\"reason\">DOWN: ";
    add_text(out, *t.down_reason);
    *out += "</span>";
  }
  *out += "</td><td class=\"time\">";
  *out += t.last->known ? format_ms(t.last->duration_s * 1000.0) : "&mdash;";
  *out += "</td><td class=\"history\">";
  add_sparkline(out, *t.history);
  *out += "</td><td class=\"uptime\">" + format_percent(t.history->uptime_last_hour(now_ms)) +
          "</td><td class=\"uptime\">" + format_percent(t.history->uptime_last_day(now_ms)) + "</td><td class=\"cert\">";
  int64_t days = 0;
  if (cert_days_left(t, now_ms, &days)) *out += std::to_string(days) + (days == 1 || days == -1 ? " day" : " days");
  else *out += "&mdash;";
  *out += "</td></tr>\n";
}

constexpr const char kStyle[] = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:1rem 2rem;color:#1b1b1b;background:#fff}
h1{font-size:1.4rem;margin:0 0 .2rem}
dl{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem;margin:.5rem 0 1rem}
dt{font-weight:600}dd{margin:0}
table{border-collapse:collapse;width:100%}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid #ddd}
thead th{background:#f3f3f3}
tbody th{font-weight:600}
.url,.reason{font-weight:400;color:#555}
.url{word-break:break-all}.reason{overflow-wrap:anywhere}
.badge{display:inline-block;min-width:4.5em;padding:.1rem .4rem;border-radius:3px;font-weight:700;text-align:center;border:1px solid}
tr.down .badge{background:#fde2e1;color:#8a1410;border-color:#8a1410}
tr.up .badge{background:#e3f5e5;color:#14532d;border-color:#14532d}
tr.unknown .badge{background:#eee;color:#333;border-color:#777}
tr.down .reason{color:#8a1410}
.spark path{stroke-width:2;fill:none}.spark .ok{stroke:#2f7d3b}.spark .fail{stroke:#c0271f}.spark .base{stroke:#999;stroke-width:1}
#filter-box{margin:.5rem 0}
#stale{color:#8a1410}
)";

// Filter rows as one types; refresh the table every 10 s by fetching this
// page again (without JavaScript, <noscript>'s meta refresh does it).
constexpr const char kScript[] = R"(
(function(){
  var box=document.getElementById('filter-box'),input=document.getElementById('filter');
  box.hidden=false;
  function apply(){var q=input.value.trim().toLowerCase();
    document.querySelectorAll('#targets tbody tr').forEach(function(tr){
      tr.hidden=q!==''&&tr.textContent.toLowerCase().indexOf(q)<0;});}
  input.addEventListener('input',apply);
  function refresh(){
    fetch(location.pathname,{cache:'no-store'}).then(function(r){
      if(!r.ok)throw new Error('HTTP '+r.status);return r.text();
    }).then(function(text){
      var doc=new DOMParser().parseFromString(text,'text/html');
      ['summary','process'].forEach(function(id){var n=doc.getElementById(id);
        if(n)document.getElementById(id).replaceWith(n);});
      var body=doc.querySelector('#targets tbody');
      if(body)document.querySelector('#targets tbody').replaceWith(body);
      document.title=doc.title;document.getElementById('stale').textContent='';apply();
    }).catch(function(e){document.getElementById('stale').textContent='Refresh failed ('+e.message+'); showing older figures.';});
  }
  setInterval(refresh,10000);
})();
)";

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

void sort_for_status(std::vector<TargetView>* targets) {
  std::stable_sort(targets->begin(), targets->end(), [](const TargetView& a, const TargetView& b) {
    if (rank(a.health) != rank(b.health)) return rank(a.health) < rank(b.health);
    return *a.name < *b.name;
  });
}

std::string render_status_html(const std::vector<TargetView>& targets, const ProcessView& p) {
  size_t down = 0, up = 0;
  for (const TargetView& t : targets) {
    down += t.health == TargetHealth::Down ? 1 : 0;
    up += t.health == TargetHealth::Up ? 1 : 0;
  }
  std::string summary = std::to_string(targets.size()) + (targets.size() == 1 ? " target: " : " targets: ") +
                        std::to_string(down) + " DOWN, " + std::to_string(up) + " UP, " +
                        std::to_string(targets.size() - down - up) + " unknown";
  std::string out;
  out.reserve(2048 + targets.size() * 1400);
  out += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<noscript><meta http-equiv=\"refresh\" content=\"30\"></noscript><title>observer: ";
  out += down != 0 ? std::to_string(down) + " DOWN" : std::string("no target DOWN");
  out += "</title><style>";
  out += kStyle;
  std::string shard = shard_words(p, targets.size());
  out += "</style></head><body>\n<header><h1>observer";
  if (!shard.empty()) out += " <span id=\"shard\">" + html_escape(shard) + "</span>";
  out += "</h1><p id=\"summary\">";
  out += summary;
  out += "</p></header>\n<section id=\"process\" aria-label=\"Process\"><dl>";
  out += "<dt>Version</dt><dd>" + html_escape(OBSERVER_VERSION) + "</dd>";
  out += "<dt>Worker pid</dt><dd>" + std::to_string(p.worker_pid) + "</dd>";
  out += "<dt>Configuration loaded</dt><dd>" + utc_time(p.config_loaded_unix, false) + "</dd>";
  out += "<dt>Shard</dt><dd>" +
         (shard.empty() ? std::string("0/1: every target of the configuration")
                        : html_escape(shard) + " of the configuration; the others are on other shards") +
         "</dd>";
  out += "<dt>Last reload</dt><dd>";
  if (p.last_reload_ok) {
    out += "successful";
  } else {
    out += "failed";
    if (p.last_reload_failed_unix != 0) out += " at " + utc_time(p.last_reload_failed_unix, false);
    out += "; the configuration above stays in force";
  }
  out += "</dd><dt>Health</dt><dd>";
  if (p.healthy) {
    out += "healthy: probing on schedule";
  } else {
    out += "not healthy: ";
    add_text(&out, p.health_reason);
  }
  out += "</dd><dt>Page generated</dt><dd>" + utc_time(p.now_ms / 1000, false) + "</dd></dl></section>\n";
  out += "<p id=\"filter-box\" hidden><label for=\"filter\">Filter targets </label>"
         "<input id=\"filter\" type=\"search\" placeholder=\"name, url, state or reason\"> <span id=\"stale\" "
         "role=\"status\"></span></p>\n";
  out += "<table id=\"targets\"><caption>Targets, DOWN first</caption><thead><tr>"
         "<th scope=\"col\">State</th><th scope=\"col\">Target</th><th scope=\"col\">Since</th>"
         "<th scope=\"col\">Last result</th><th scope=\"col\">Response time</th>"
         "<th scope=\"col\">Last " + std::to_string(ProbeHistory::kProbes) + " probes</th>"
         "<th scope=\"col\">Uptime 1 h</th><th scope=\"col\">Uptime 24 h</th>"
         "<th scope=\"col\">Certificate expires in</th></tr></thead>\n<tbody>\n";
  for (const TargetView& t : targets) add_row(&out, t, p.now_ms);
  out += "</tbody></table>\n<p><a href=\"/api/v1/targets\">JSON</a> &middot; <a href=\"/metrics\">metrics</a>"
         " &middot; <a href=\"/healthz\">health</a></p>\n<script>";
  out += kScript;
  out += "</script>\n</body></html>\n";
  return out;
}

// The process's object and then each target's, dumped one by one into
// the array: 10 000 targets never sit in memory as one json tree (tens of
// MB); every value is still written by nlohmann-json.
std::string render_targets_json(const std::vector<TargetView>& targets, const ProcessView& p) {
  json head;
  head["observer"] = process_object(p);
  std::string out = dump(head);
  out.pop_back();  // its closing brace: the targets follow
  out += ",\"targets\":[";
  for (size_t i = 0; i < targets.size(); ++i) {
    if (i != 0) out += ',';
    out += dump(target_object(targets[i], p.now_ms));
  }
  out += "]}\n";
  return out;
}

std::string render_target_json(const TargetView& target, int64_t now_ms) {
  return dump(target_object(target, now_ms)) + "\n";
}

std::string render_health_json(const ProcessView& p) {
  json j;
  j["healthy"] = p.healthy;
  j["reason"] = p.healthy ? json(nullptr) : json(p.health_reason);
  j["worker_pid"] = p.worker_pid;
  return dump(j) + "\n";
}

std::string render_not_found_json(const std::string& what) {
  json j;
  j["error"] = "not found";
  j["detail"] = what;
  return dump(j) + "\n";
}

}  // namespace observer
