#include "common/keys.h"

#include <algorithm>
#include <cctype>

namespace observer {

const std::vector<KeyInfo>& known_keys() {
  static const std::vector<KeyInfo> keys = {
      {"url", KeyScope::Target, nullptr, "URL to probe; http:// or https:// only", false},
      {"status", KeyScope::Target, nullptr, "expected status: 200, 200,204, 200-299 or 2xx", false},
      {"tick", KeyScope::Target, "60s", "probe interval, a Go duration (300ms, 1m30s); at least 10ms", false},
      {"server", KeyScope::Target, nullptr, "expected Server header, exact match", false},
      {"content_type", KeyScope::Target, nullptr, "expected Content-Type header, exact match", false},
      {"user_agent", KeyScope::Target, "", "User-Agent sent; empty means observer/VERSION", false},
      {"method", KeyScope::Target, "GET", "HTTP method of the probe", false},
      {"timeout", KeyScope::Target, "10s", "whole-probe timeout; never more than tick; at least 10ms", false},
      {"follow_redirects", KeyScope::Target, "true", "follow redirects (http and https only)", true},
      {"max_redirects", KeyScope::Target, "5", "most redirects followed", false},
      {"reuse_connections", KeyScope::Target, "false", "keep connections between probes", true},
      {"ip_version", KeyScope::Target, "any", "address family: any, 4 or 6", false},
      {"insecure", KeyScope::Target, "false", "skip TLS certificate verification", true},
      {"ca_file", KeyScope::Target, nullptr, "PEM file of CA certificates to verify with", false},
      {"max_body", KeyScope::Target, "1MiB", "most response body bytes read (B, KiB, MiB, KB, MB)", false},
      {"body_contains", KeyScope::Target, nullptr, "text the body must contain", false},
      {"body_regex", KeyScope::Target, nullptr, "PCRE2 pattern the body must match", false},
      {"max_response_time", KeyScope::Target, nullptr, "slowest acceptable response, a duration", false},
      {"cert_min_days", KeyScope::Target, nullptr, "fewest days left on the TLS certificate", false},
      {"failure_threshold", KeyScope::Target, "1", "failed probes in a row before DOWN", false},
      {"success_threshold", KeyScope::Target, "1", "good probes in a row before UP", false},
      {"header.", KeyScope::Target, nullptr, "header.NAME: expected response header, exact", false},
      {"header_regex.", KeyScope::Target, nullptr, "header_regex.NAME: PCRE2 pattern a response header must match", false},
      {"request_header.", KeyScope::Target, nullptr, "request_header.NAME: extra header sent with the probe", false},
      {"webhook_url", KeyScope::Target, nullptr, "URL that is sent an alert when the target goes DOWN (and UP); http:// or https://", false},
      {"webhook_method", KeyScope::Target, "POST", "HTTP method of a webhook alert", false},
      {"webhook_header.", KeyScope::Target, nullptr, "webhook_header.NAME: header sent with a webhook alert", false},
      {"webhook_body", KeyScope::Target, nullptr, "webhook alert body, a template: {{target}} {{url}} {{state}} {{reason}} {{down_for}} {{time}}; unset: a JSON object", false},
      {"alert_on_recovery", KeyScope::Target, "true", "alert when a DOWN target is UP again", true},
      {"alert_repeat", KeyScope::Target, "off", "resend a webhook alert this often while DOWN, a duration, or off", false},
      {"alertmanager_url", KeyScope::Target, nullptr, "Alertmanager(s) sent an alert while the target is DOWN: URL[,URL...]", false},
      {"alert_label.", KeyScope::Target, nullptr, "alert_label.NAME: extra label of the target's Alertmanager alert", false},
      {"alert_retry_for", KeyScope::Target, "10m", "how long an alert that cannot be delivered is retried", false},
      {"log_format", KeyScope::Global, "text", "text, logfmt or json", false},
      {"shutdown_timeout", KeyScope::Global, "10s", "how long a stop waits for workers before SIGKILL", false},
      {"reload_timeout", KeyScope::Global, "30s", "how long a new worker has to become ready on SIGHUP", false},
      {"listen", KeyScope::Global, "", "address for /metrics and the status page: HOST:PORT, [IPv6]:PORT or :PORT; empty serves nothing", false},
      {"state_file", KeyScope::Global, "auto", "file that keeps targets' states and alerts across restarts; auto: $STATE_DIRECTORY/state under systemd, else none; \"\": none", false},
      {"max_in_flight", KeyScope::Global, "auto", "most probes at once; a slot past it is skipped (auto: from the open-file limit)", false},
      {"shard", KeyScope::Global, "0/1", "this instance is shard I of N (I/N): it probes only the targets that hashing their names gives to it", false},
  };
  return keys;
}

const KeyInfo* find_key(std::string_view name) {
  for (const KeyInfo& k : known_keys()) {
    std::string_view kn = k.name;
    if (!kn.empty() && kn.back() == '.') {
      if (name.size() > kn.size() && name.substr(0, kn.size()) == kn) return &k;
    } else if (name == kn) {
      return &k;
    }
  }
  return nullptr;
}

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      // Transposition ("stauts" -> "status") counts as one edit.
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        cur[j] = std::min(cur[j], prev[j - 1]);
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string closest_key(std::string_view name) {
  std::string best;
  size_t best_d = 0;
  for (const KeyInfo& k : known_keys()) {
    std::string kn = k.name;
    if (kn.back() == '.') kn += "NAME";
    size_t d = edit_distance(name, kn);
    if (best.empty() || d < best_d) {
      best = kn;
      best_d = d;
    }
  }
  // Only suggest when the typo is plausibly this key.
  size_t limit = std::max<size_t>(2, name.size() / 3);
  return best_d <= limit ? best : std::string();
}

bool is_secret_name(std::string_view name) {
  std::string n;
  for (size_t i = 0; i < name.size(); ++i) {
    // A query parameter's name may be percent-encoded: api%5Fkey is api_key.
    if (name[i] == '%' && i + 2 < name.size() && std::isxdigit(static_cast<unsigned char>(name[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(name[i + 2]))) {
      n += static_cast<char>(std::tolower(std::stoi(std::string(name.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
      continue;
    }
    n += static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
  }
  // Anywhere in the name: X-Auth-Token, X-Passwd, X-Amz-Credential, api_key.
  for (const char* part : {"auth", "token", "key", "secret", "cookie", "passw", "pwd", "session", "credential",
                           "signature", "private"})
    if (n.find(part) != std::string::npos) return true;
  // Whole words only, as they are too short to find inside others: X-PW,
  // X-Api-Tok, ?sig=, ?pass=.
  size_t start = 0;
  while (start <= n.size()) {
    size_t end = start;
    while (end < n.size() && std::isalnum(static_cast<unsigned char>(n[end]))) ++end;
    std::string_view word = std::string_view(n).substr(start, end - start);
    for (std::string_view w :
         {"pw", "pass", "tok", "sig", "cred", "creds", "sid", "jwt", "otp", "csrf", "xsrf", "hmac"})
      if (word == w) return true;
    start = end + 1;
  }
  return false;
}

bool is_secret_key(std::string_view name) {
  for (std::string_view prefix : {std::string_view("request_header."), std::string_view("webhook_header.")})
    if (name.substr(0, prefix.size()) == prefix) return is_secret_name(name.substr(prefix.size()));
  return false;
}

}  // namespace observer
