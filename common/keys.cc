#include "common/keys.h"

#include <algorithm>
#include <cctype>
#include <iterator>

#include "common/alert_keys.h"
#include "common/config_values.h"
#include "common/probe_keys.h"
#include "common/process_keys.h"

namespace observer {

namespace {

// One row per key. A row's converter decides its scope's target (probe,
// alert or process settings) and must agree with its scope; the families of
// a scope come in the order their keys are converted.
constexpr KeyInfo kKeys[] = {
    {"url", KeyScope::Target, nullptr, "URL to probe; http:// or https:// only",
     url_problem, Shown::Url},
    {"status", KeyScope::Target, nullptr, "expected status: 200, 200,204, 200-299 or 2xx",
     convert_status},
    {"tick", KeyScope::Target, "60s", "probe interval, a Go duration (300ms, 1m30s); at least 10ms",
     convert_tick},
    {"server", KeyScope::Target, nullptr, "expected Server header, exact match",
     convert_server},
    {"content_type", KeyScope::Target, nullptr, "expected Content-Type header, exact match",
     convert_content_type},
    {"user_agent", KeyScope::Target, "", "User-Agent sent; empty means observer/VERSION",
     convert_user_agent},
    {"method", KeyScope::Target, "GET", "HTTP method of the probe",
     convert_method},
    {"timeout", KeyScope::Target, "10s", "whole-probe timeout; never more than tick; at least 10ms",
     {convert_timeout, check_timeout_against_tick}},
    {"follow_redirects", KeyScope::Target, "true", "follow redirects (http and https only)",
     convert_follow_redirects, Shown::AsIs, FlagForm::Bare},
    {"max_redirects", KeyScope::Target, "5", "most redirects followed",
     convert_max_redirects},
    {"reuse_connections", KeyScope::Target, "false", "keep connections between probes",
     convert_reuse_connections, Shown::AsIs, FlagForm::Bare},
    {"ip_version", KeyScope::Target, "any", "address family: any, 4 or 6",
     convert_ip_version},
    {"insecure", KeyScope::Target, "false", "skip TLS certificate verification",
     convert_insecure, Shown::AsIs, FlagForm::Bare},
    {"ca_file", KeyScope::Target, nullptr, "PEM file of CA certificates to verify with",
     convert_ca_file},
    {"max_body", KeyScope::Target, "1MiB", "most response body bytes read (B, KiB, MiB, KB, MB)",
     convert_max_body},
    {"body_contains", KeyScope::Target, nullptr, "text the body must contain",
     convert_body_contains},
    {"body_regex", KeyScope::Target, nullptr, "PCRE2 pattern the body must match",
     convert_body_regex},
    {"max_response_time", KeyScope::Target, nullptr, "slowest acceptable response, a duration",
     convert_max_response_time},
    {"cert_min_days", KeyScope::Target, nullptr, "fewest days left on the TLS certificate",
     convert_cert_min_days},
    {"failure_threshold", KeyScope::Target, "1", "failed probes in a row before DOWN",
     convert_failure_threshold},
    {"success_threshold", KeyScope::Target, "1", "good probes in a row before UP",
     convert_success_threshold},
    {"header.", KeyScope::Target, nullptr, "header.NAME: expected response header, exact",
     convert_header_checks},
    {"header_regex.", KeyScope::Target, nullptr, "header_regex.NAME: PCRE2 pattern a response header must match",
     convert_header_regex_checks},
    {"request_header.", KeyScope::Target, nullptr, "request_header.NAME: extra header sent with the probe",
     convert_request_headers, Shown::SecretIfNamed},
    {"webhook_url", KeyScope::Target, nullptr, "URL that is sent an alert when the target goes DOWN (and UP); http:// or https://",
     convert_webhook_url, Shown::WebhookUrl},
    {"webhook_method", KeyScope::Target, "POST", "HTTP method of a webhook alert",
     convert_webhook_method},
    {"webhook_header.", KeyScope::Target, nullptr, "webhook_header.NAME: header sent with a webhook alert",
     convert_webhook_headers, Shown::SecretIfNamed},
    {"webhook_body", KeyScope::Target, nullptr, "webhook alert body, a template: {{target}} {{url}} {{state}} {{reason}} {{down_for}} {{time}}; unset: a JSON object",
     convert_webhook_body},
    {"alert_on_recovery", KeyScope::Target, "true", "alert when a DOWN target is UP again",
     convert_alert_on_recovery, Shown::AsIs, FlagForm::Bare},
    {"alert_repeat", KeyScope::Target, "off", "resend a webhook alert this often while DOWN, a duration, or off",
     convert_alert_repeat},
    {"alertmanager_url", KeyScope::Target, nullptr, "Alertmanager(s) sent an alert while the target is DOWN: URL[,URL...]",
     convert_alertmanager_url, Shown::UrlList},
    {"alert_label.", KeyScope::Target, nullptr, "alert_label.NAME: extra label of the target's Alertmanager alert",
     convert_alert_labels},
    {"alert_retry_for", KeyScope::Target, "10m", "how long an alert that cannot be delivered is retried",
     convert_alert_retry_for},
    {"log_format", KeyScope::Global, "text", "text, logfmt or json",
     convert_log_format},
    {"shutdown_timeout", KeyScope::Global, "10s", "how long a stop waits for workers before SIGKILL",
     convert_shutdown_timeout},
    {"reload_timeout", KeyScope::Global, "30s", "how long a new worker has to become ready on SIGHUP",
     convert_reload_timeout},
    {"listen", KeyScope::Global, "", "address for /metrics and the status page: HOST:PORT, [IPv6]:PORT or :PORT; empty serves nothing",
     convert_listen},
    {"state_file", KeyScope::Global, "auto", "file that keeps targets' states and alerts across restarts; auto: $STATE_DIRECTORY/state under systemd, else none; \"\": none",
     convert_state_file},
    {"max_in_flight", KeyScope::Global, "auto", "most probes at once; a slot past it is skipped (auto: from the open-file limit)",
     convert_max_in_flight},
    {"shard", KeyScope::Global, "0/1", "this instance is shard I of N (I/N): it probes only the targets that hashing their names gives to it",
     convert_shard},
};

constexpr bool same_name(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

constexpr size_t index_of(const char* name) {
  for (size_t i = 0; i < std::size(kKeys); ++i)
    if (same_name(kKeys[i].name, name)) return i;
  return std::size(kKeys);
}

// Every row's converter is of its scope: process-wide keys convert into
// GlobalConfig, a target's into its settings or (url=) the target.
constexpr bool converters_fit_scopes() {
  for (const KeyInfo& k : kKeys)
    if ((k.scope == KeyScope::Global) != (k.convert.into == Converter::Into::Process)) return false;
  return true;
}

constexpr bool names_are_unique() {
  for (size_t i = 0; i < std::size(kKeys); ++i)
    if (index_of(kKeys[i].name) != i) return false;
  return true;
}

// A family is never a bare flag (its NAME must be given); only a family
// has a NAME that can say its value is secret.
constexpr bool forms_fit() {
  for (const KeyInfo& k : kKeys) {
    if (k.is_family() && k.flag == FlagForm::Bare) return false;
    if (k.shown == Shown::SecretIfNamed && !k.is_family()) return false;
  }
  return true;
}

static_assert(converters_fit_scopes(), "a key's converter is not of its scope");
static_assert(names_are_unique(), "a key is in the table twice");
static_assert(forms_fit(), "a family cannot be a bare flag; only a family is secret by NAME");
// timeout is checked against tick (check_timeout_against_tick), converted first.
static_assert(index_of("tick") < index_of("timeout"), "tick must be converted before timeout");

}  // namespace

KeyTable known_keys() { return {std::begin(kKeys), std::end(kKeys)}; }

const KeyInfo* find_key(std::string_view name) {
  for (const KeyInfo& k : known_keys()) {
    std::string_view kn = k.name;
    if (k.is_family()) {
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
    if (k.is_family()) kn += "NAME";
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
  const KeyInfo* k = find_key(name);
  if (k == nullptr || k->shown != Shown::SecretIfNamed) return false;
  return is_secret_name(name.substr(std::char_traits<char>::length(k->name)));
}

std::string flag_form(std::string_view key) { return "-" + std::string(key); }

std::string env_form(std::string_view key) {
  std::string out(kEnvPrefix);
  for (char c : key) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace observer
