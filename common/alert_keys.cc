#include "common/alert_keys.h"

#include <cctype>

#include "common/config_values.h"

namespace observer {

const char* const kWebhookPlaceholders[] = {"target", "url", "state", "reason", "down_for", "time"};
const size_t kWebhookPlaceholderCount = sizeof(kWebhookPlaceholders) / sizeof(kWebhookPlaceholders[0]);

namespace {

constexpr Nanos kMinAlertInterval = std::chrono::seconds(1);
constexpr size_t kMaxAlertmanagers = 16;
// Far past any real template; the body is built for every alert.
constexpr size_t kMaxBodyTemplate = 64 * 1024;

// Prometheus' label names: [a-zA-Z_][a-zA-Z0-9_]*, "__" reserved.
bool is_label_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])) || name.compare(0, 2, "__") == 0)
    return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

// A misspelt placeholder would go out as it is typed, in every alert.
bool check_placeholders(const std::string& key, const RawValue& v, std::string* error) {
  for (size_t open = v.text.find("{{"); open != std::string::npos; open = v.text.find("{{", open + 2)) {
    size_t close = v.text.find("}}", open + 2);
    std::string name = close == std::string::npos ? std::string() : v.text.substr(open + 2, close - open - 2);
    bool known = false;
    for (size_t i = 0; i < kWebhookPlaceholderCount && !known; ++i) known = name == kWebhookPlaceholders[i];
    if (!known) {
      *error = cite(key, v) + ": unknown placeholder \"" +
               printable(v.text.substr(open, close == std::string::npos ? 12 : close + 2 - open)) +
               "\" (known: {{target}} {{url}} {{state}} {{reason}} {{down_for}} {{time}})";
      return false;
    }
  }
  return true;
}

// An error quotes the URL as it may be shown: a webhook's path and an
// Alertmanager's password are secrets, and errors go to logs and journals.
bool parse_alert_url(const std::string& key, const RawValue& v, const std::string& url, std::string* error) {
  std::string why = url_problem(url);
  if (why.empty()) return true;
  std::string quoted = printable(url);
  std::string shown = printable(key == "webhook_url" ? mask_webhook_url(url) : redact_url(url));
  for (size_t at = why.find(quoted); !quoted.empty() && at != std::string::npos; at = why.find(quoted, at + shown.size()))
    why.replace(at, quoted.size(), shown);
  *error = cite(key, v) + ": " + why;
  return false;
}

}  // namespace

std::string alertmanager_endpoint(const std::string& url) {
  constexpr std::string_view kPath = "/api/v2/alerts";
  // The path goes before a query (a proxy's ?token=...); a fragment is
  // never sent.
  size_t scheme = url.find("://");
  size_t tail_at = url.find_first_of("?#", scheme == std::string::npos ? 0 : scheme + 3);
  std::string out = url.substr(0, tail_at);
  std::string query;
  if (tail_at != std::string::npos && url[tail_at] == '?') query = url.substr(tail_at, url.find('#', tail_at) - tail_at);
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (out.size() < kPath.size() || out.compare(out.size() - kPath.size(), kPath.size(), kPath) != 0) out += kPath;
  return out + query;
}

bool convert_webhook_url(const std::string& key, const RawValue& v, AlertSettings* a, std::string* error) {
  if (v.text.empty()) {  // "": no webhook (a section can turn off a default)
    a->webhook_url.clear();
    return true;
  }
  if (!parse_alert_url(key, v, v.text, error)) return false;
  a->webhook_url = v.text;
  return true;
}

bool convert_webhook_method(const std::string& key, const RawValue& v, AlertSettings* a, std::string* error) {
  return parse_method(key, v, &a->webhook_method, error);
}

bool convert_webhook_headers(const std::string& key, const RawValue& v, AlertSettings* a, std::string* error) {
  return check_placeholders(key, v, error) &&
         parse_request_header(key, v, family_name(key), &a->webhook_headers, error);
}

bool convert_webhook_body(const std::string& key, const RawValue& v, AlertSettings* a, std::string* error) {
  if (v.text.size() > kMaxBodyTemplate) {
    *error = cite(key, v) + ": is " + std::to_string(v.text.size()) + " bytes long; the limit is " +
             std::to_string(kMaxBodyTemplate);
    return false;
  }
  if (!check_placeholders(key, v, error)) return false;
  a->webhook_body = v.text;
  return true;
}

bool convert_alert_on_recovery(const std::string& key, const RawValue& v, AlertSettings* a, std::string* error) {
  return parse_bool(key, v, &a->on_recovery, error);
}

bool convert_alert_repeat(const std::string& key, const RawValue& v, AlertSettings* a, std::string* error) {
  if (v.text == "off" || v.text == "0") {
    a->repeat = Nanos{0};
    return true;
  }
  if (!parse_duration_at_least(key, v, kMinAlertInterval, &a->repeat, error)) {
    *error += " (or off)";
    return false;
  }
  return true;
}

bool convert_alertmanager_url(const std::string& key, const RawValue& v, AlertSettings* a, std::string* error) {
  a->alertmanager_urls.clear();
  size_t start = 0;
  while (start <= v.text.size()) {
    size_t comma = v.text.find(',', start);
    if (comma == std::string::npos) comma = v.text.size();
    std::string one = v.text.substr(start, comma - start);
    while (!one.empty() && one.front() == ' ') one.erase(0, 1);
    while (!one.empty() && one.back() == ' ') one.pop_back();
    if (!one.empty()) {
      if (!parse_alert_url(key, v, one, error)) return false;
      // What each target's record carries for each (worker/alert_plan.h)
      // is bounded; an HA pair is two.
      if (a->alertmanager_urls.size() == kMaxAlertmanagers) {
        *error = cite(key, v) + ": more than " + std::to_string(kMaxAlertmanagers) + " Alertmanagers";
        return false;
      }
      a->alertmanager_urls.push_back(alertmanager_endpoint(one));
    }
    start = comma + 1;
  }
  return true;
}

bool convert_alert_labels(const std::string& key, const RawValue& v, AlertSettings* a, std::string* error) {
  std::string name = family_name(key);
  if (!is_label_name(name)) {
    *error = cite(key, v) + ": \"" + printable(name) +
             "\" is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)";
    return false;
  }
  if (name == "alertname" || name == "target" || name == "url" || name == "instance") {
    *error = cite(key, v) + ": " + name + " is a label observer sets itself";
    return false;
  }
  if (find_control(v.text, false) != std::string::npos) {
    *error = cite(key, v) + ": a label value may not contain a control character or line break";
    return false;
  }
  a->labels.emplace_back(name, v.text);
  return true;
}

bool convert_alert_retry_for(const std::string& key, const RawValue& v, AlertSettings* a, std::string* error) {
  return parse_duration_at_least(key, v, kMinAlertInterval, &a->retry_for, error);
}

}  // namespace observer
