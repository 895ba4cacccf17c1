#include "worker/alert_format.h"

#include <cctype>
#include <chrono>

#include <nlohmann/json.hpp>

#include "common/log_format.h"
#include "worker/target_state.h"

namespace observer {
namespace {

using nlohmann::json;

std::string iso_ms(int64_t unix_ms) {
  return iso_time(std::chrono::system_clock::time_point(std::chrono::milliseconds(unix_ms)));
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}


// A reason as an alert carries it: at most kMaxAlertReason bytes, cut at a
// character boundary and marked. A target writes its reasons (a header it
// sends is quoted in one): a 60 KB Server header must not make every alert
// too large for its receiver (Discord takes 2000 characters, many servers
// 8 KB of headers), which would refuse it until it is dropped.
std::string alert_reason(const std::string& reason) {
  if (reason.size() <= kMaxAlertReason) return reason;
  size_t cut = kMaxAlertReason;
  while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  return reason.substr(0, cut) + "...";
}

// JSON's escaping of `s`, without the quotes.
std::string json_escaped(const std::string& s) {
  std::string quoted = json(s).dump(-1, ' ', false, json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

}  // namespace

const char* alert_state_word(TargetHealth h) { return h == TargetHealth::Up ? "UP" : "DOWN"; }

std::string webhook_content_type(const AlertSettings& s) {
  for (const auto& [name, value] : s.webhook_headers)
    if (lower(name) == "content-type") return value;
  return "application/json";
}

bool webhook_is_json(const AlertSettings& s) { return lower(webhook_content_type(s)).find("json") != std::string::npos; }

namespace {

constexpr size_t kPlaceholders = 6;  // as common/alert_keys.h lists them

struct Values {
  std::string v[kPlaceholders];
};

Values values_of(const AlertSubject& who, const WebhookAlert& a, int64_t now_ms) {
  int64_t down_for = a.state == TargetHealth::Up ? a.down_for_ms : (now_ms > a.since_ms ? now_ms - a.since_ms : 0);
  return Values{{who.name, who.url, alert_state_word(a.state), alert_reason(a.reason), format_outage(down_for),
                 iso_ms(a.since_ms)}};
}

// `t` with each {{name}} replaced by `escape(value)`.
template <class Escape>
std::string render(const std::string& t, const Values& values, Escape escape) {
  static const char* const kNames[kPlaceholders] = {"target", "url", "state", "reason", "down_for", "time"};
  std::string out;
  size_t at = 0;
  while (at < t.size()) {
    size_t open = t.find("{{", at);
    if (open == std::string::npos) break;
    size_t close = t.find("}}", open + 2);
    if (close == std::string::npos) break;
    std::string name = t.substr(open + 2, close - open - 2);
    out.append(t, at, open - at);
    bool known = false;
    for (size_t i = 0; i < kPlaceholders; ++i) {
      if (name != kNames[i]) continue;
      out += escape(values.v[i]);
      known = true;
    }
    if (!known) out.append(t, open, close + 2 - open);  // the config refuses these; kept as typed
    at = close + 2;
  }
  out.append(t, at, std::string::npos);
  return out;
}

}  // namespace

std::string webhook_body(const AlertSettings& s, const AlertSubject& who, const WebhookAlert& a, int64_t now_ms) {
  Values values = values_of(who, a, now_ms);
  if (!s.webhook_body) {
    const std::string* v = values.v;
    json body = {{"target", v[0]}, {"url", v[1]}, {"state", v[2]}, {"reason", v[3]},
                 {"down_for", v[4]}, {"time", v[5]}, {"repeat", a.repeat}};
    return body.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (webhook_is_json(s)) return render(*s.webhook_body, values, json_escaped);
  return render(*s.webhook_body, values, [](const std::string& x) { return x; });
}

std::string webhook_header_value(const std::string& value, const AlertSubject& who, const WebhookAlert& a,
                                 int64_t now_ms) {
  return render(value, values_of(who, a, now_ms), [](const std::string& x) {
    std::string out = x;
    for (char& c : out)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return out;
  });
}

std::string url_instance(const std::string& url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string authority = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  size_t at = authority.rfind('@');
  return at == std::string::npos ? authority : authority.substr(at + 1);
}

std::string alertmanager_alert_json(const AlertSettings& s, const AlertSubject& who, const AlertmanagerAlert& a) {
  json labels = {{"alertname", "ObserverTargetDown"},
                 {"target", who.name},
                 {"url", who.url},
                 {"instance", url_instance(who.url)}};
  for (const auto& [name, value] : s.labels) labels[name] = value;
  json alert = {{"labels", labels},
                {"annotations",
                 {{"summary", who.name + " is DOWN"}, {"description", a.reason.empty() ? std::string("DOWN") : alert_reason(a.reason)}}},
                {"startsAt", iso_ms(a.starts_ms)},
                {"endsAt", iso_ms(a.ends_ms)}};
  return alert.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace observer
