#include "worker/checks.h"

#include <chrono>

namespace observer {
namespace {

std::string cite(const TargetConfig& c, const std::string& key) {
  std::optional<RawValue> v = c.value(key);
  return v ? cite_origin(key, v->origin) : key;
}

Finding mismatch(std::string check, std::string message, const std::string& got, const std::string& expected) {
  return Finding{std::move(check), std::move(message), {{"got", got, false}, {"expected", expected, false}}};
}

// A value safe to show in a one-line message: long bodies are cut.
std::string shown(const std::string& s) {
  constexpr size_t kMax = 200;
  return s.size() <= kMax ? s : s.substr(0, kMax) + "...";
}

void check_headers(const TargetChecks& t, const ProbeResult& r, std::vector<Finding>* out) {
  const TargetSettings& c = *t.settings;
  if (c.server) {
    const std::string* got = r.header("Server");
    std::string g = got ? *got : "";
    if (g != *c.server) out->push_back(mismatch("server", "Server header mismatch, got: " + g, g, *c.server));
  }
  if (c.content_type) {
    const std::string* got = r.header("Content-Type");
    std::string g = got ? *got : "";
    if (g != *c.content_type)
      out->push_back(mismatch("content_type", "Content-Type header mismatch, got: " + g, g, *c.content_type));
  }
  for (size_t i = 0; i < c.header_checks.size(); ++i) {
    const HeaderCheck& h = c.header_checks[i];
    const std::string* got = r.header(h.name);
    std::string g = got ? *got : "";
    if (!h.is_regex) {
      if (got == nullptr || g != h.expected)
        out->push_back(mismatch("header", h.name + " header mismatch, got: " + g, g, h.expected));
      continue;
    }
    std::string why;
    Regex::Match m = got ? t.header_regex[i]->search(g, &why) : Regex::Match::No;
    if (m == Regex::Match::Yes) continue;
    std::string msg = m == Regex::Match::Error
                          ? h.name + " header regex /" + h.expected + "/ gave up: " + why + ", got: " + g
                          : h.name + " header does not match /" + h.expected + "/, got: " + g;
    out->push_back(mismatch("header_regex", msg, g, h.expected));
  }
}

void check_body(const TargetChecks& t, const ProbeResult& r, std::vector<Finding>* out) {
  const TargetSettings& c = *t.settings;
  std::string read_note = r.body_truncated ? " (in the first " + std::to_string(r.body.size()) + " bytes)" : "";
  if (c.body_contains && r.body.find(*c.body_contains) == std::string::npos)
    out->push_back(Finding{"body_contains", "Body does not contain \"" + shown(*c.body_contains) + "\"" + read_note,
                           {{"expected", *c.body_contains, false}, {"body_bytes", std::to_string(r.body.size()), true}}});
  if (t.body_regex) {
    std::string why;
    Regex::Match m = t.body_regex->search(r.body, &why);
    if (m == Regex::Match::No)
      out->push_back(Finding{"body_regex", "Body does not match /" + shown(*c.body_regex) + "/" + read_note,
                             {{"expected", *c.body_regex, false}, {"body_bytes", std::to_string(r.body.size()), true}}});
    else if (m == Regex::Match::Error)
      out->push_back(Finding{"body_regex", "Body regex /" + shown(*c.body_regex) + "/ gave up: " + why,
                             {{"expected", *c.body_regex, false}, {"error", why, false}}});
  }
}

void check_timing_and_cert(const TargetChecks& t, const ProbeResult& r, int64_t now_unix, std::vector<Finding>* out) {
  const TargetSettings& c = *t.settings;
  if (c.max_response_time && r.total_time > *c.max_response_time) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.total_time);
    out->push_back(mismatch("max_response_time",
                            "Response time " + format_duration(ms) + " over limit " + format_duration(*c.max_response_time),
                            format_duration(ms), format_duration(*c.max_response_time)));
  }
  if (c.cert_min_days && r.is_https) {
    if (!r.cert_expiry_unix) {
      out->push_back(Finding{"cert_min_days", "Certificate expiry unknown (no certificate information from TLS)", {}});
    } else {
      int64_t days = (*r.cert_expiry_unix - now_unix) / 86400;
      if (*r.cert_expiry_unix < now_unix) --days;  // floor for the already-expired
      if (days < *c.cert_min_days)
        out->push_back(mismatch("cert_min_days",
                                "Certificate expires in " + std::to_string(days) + " days, fewer than " +
                                    std::to_string(*c.cert_min_days),
                                std::to_string(days), std::to_string(*c.cert_min_days)));
    }
  }
}

}  // namespace

bool compile_checks(const TargetConfig& target, TargetChecks* out, std::string* error) {
  out->settings = target.settings;
  out->body_regex.reset();
  out->header_regex.clear();
  const TargetSettings& settings = *target.settings;
  std::string why;
  if (settings.body_regex) {
    Regex re;
    if (!Regex::compile(*settings.body_regex, &re, &why)) {
      *error = cite(target, "body_regex") + ": " + why;
      return false;
    }
    out->body_regex = std::move(re);
  }
  for (const HeaderCheck& h : settings.header_checks) {
    out->header_regex.emplace_back();
    if (!h.is_regex) continue;
    Regex re;
    if (!Regex::compile(h.expected, &re, &why)) {
      *error = cite(target, "header_regex." + h.name) + ": " + why;
      return false;
    }
    out->header_regex.back() = std::move(re);
  }
  return true;
}

std::shared_ptr<const TargetChecks> ChecksCache::get(const TargetConfig& config, std::string* error) {
  auto it = compiled_.find(config.settings.get());
  if (it != compiled_.end()) return it->second;
  auto checks = std::make_shared<TargetChecks>();
  if (!compile_checks(config, checks.get(), error)) return nullptr;
  compiled_.emplace(config.settings.get(), checks);
  return checks;
}

bool validate_patterns(const Config& config, std::string* error) {
  // In file order across both lists (a section's line orders it; the
  // top-level target's is 0), so that every shard reports the same first error.
  ChecksCache cache;
  const std::vector<TargetConfig>& own = config.targets;
  const std::vector<TargetConfig>& other = config.elsewhere;
  for (size_t i = 0, j = 0; i < own.size() || j < other.size();) {
    bool take_own = j == other.size() ||
                    (i < own.size() && own[i].origins.section_line < other[j].origins.section_line);
    if (!cache.get(take_own ? own[i++] : other[j++], error)) return false;
  }
  return true;
}

std::vector<Finding> evaluate(const TargetChecks& t, const ProbeResult& r, int64_t now_unix) {
  std::vector<Finding> out;
  if (!r.transport_ok) {
    std::string msg = (r.tls_verify_failed ? "TLS verify failed: " : "Probe failed: ") + r.transport_error;
    out.push_back(Finding{r.tls_verify_failed ? "tls_verify" : "transport", msg,
                          {{"error", r.transport_error, false}, {"curl_code", std::to_string(r.curl_code), true}}});
    return out;
  }
  const TargetSettings& c = *t.settings;
  if (!c.status.empty() && !c.status.matches(r.status))
    out.push_back(mismatch("status", "Status code mismatch, got: " + std::to_string(r.status), std::to_string(r.status),
                           c.status.text()));
  check_headers(t, r, &out);
  check_body(t, r, &out);
  check_timing_and_cert(t, r, now_unix, &out);
  return out;
}

}  // namespace observer
