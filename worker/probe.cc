#include "worker/probe.h"

#include <curl/curl.h>
#include <strings.h>

#include <chrono>
#include <cstring>
#include <ctime>

namespace observer {
namespace {

// How long libcurl keeps a parsed CA store: a day, its default, so that a
// bundle updated by the system is read again within one.
constexpr long kCaCacheSeconds = 24 * 3600;

}  // namespace

bool ProbeSpec::build(std::shared_ptr<const TargetSettings> settings, ProbeSpec* out, std::string* error) {
  const TargetSettings& t = *settings;
  out->request_headers.reset();
  for (const auto& [name, value] : t.request_headers) {
    // "Name;" is curl's way to send a header with an empty value.
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    curl_slist* next = curl_slist_append(out->request_headers.get(), line.c_str());
    if (next == nullptr) {
      *error = "out of memory building request headers";
      return false;
    }
    out->request_headers.release();
    out->request_headers.reset(next);
  }
  out->wanted_headers.clear();
  if (t.server) out->wanted_headers.emplace_back("Server");
  if (t.content_type) out->wanted_headers.emplace_back("Content-Type");
  for (const HeaderCheck& h : t.header_checks) out->wanted_headers.push_back(h.name);
  out->wants_body = t.body_contains.has_value() || t.body_regex.has_value();
  out->settings = std::move(settings);
  return true;
}

std::unique_ptr<Probe> Probe::create(std::string* error) {
  CurlEasy easy(curl_easy_init());
  if (!easy) {
    *error = "curl_easy_init failed";
    return nullptr;
  }
  return std::unique_ptr<Probe>(new Probe(std::move(easy)));
}

#define OBS_SETOPT(opt, val)                                                   \
  do {                                                                         \
    CURLcode rc_ = curl_easy_setopt(e, opt, val);                              \
    if (rc_ != CURLE_OK) {                                                     \
      *error = std::string("curl option " #opt ": ") + curl_easy_strerror(rc_); \
      return false;                                                            \
    }                                                                          \
  } while (0)

bool Probe::prepare(const std::string& url, const ProbeSpec& spec, std::string* error) {
  const TargetSettings& t = *spec.settings;
  CURL* e = easy_.get();
  // Every option back to its default; what curl allocated for the handle
  // (its 16 KiB read buffer, which is the size a probe wants: CURLOPT_BUFFERSIZE
  // is left alone, and curl 7.88 refuses to change it on a used handle) stays.
  curl_easy_reset(e);
  spec_ = &spec;
  result_.clear();
  error_buffer_[0] = '\0';
  socket_errno_ = 0;
  header_block_ended_ = false;
  body_room_ = t.max_body;
  result_.is_https = url_has_scheme(url, "https://");
  OBS_SETOPT(CURLOPT_URL, url.c_str());
  OBS_SETOPT(CURLOPT_PRIVATE, this);
  OBS_SETOPT(CURLOPT_NOSIGNAL, 1L);
  // A transfer that ends (timeout, abort) while its threaded DNS lookup still
  // runs would join that thread on the loop thread, stalling every target
  // until getaddrinfo returns; with QUICK_EXIT curl detaches it instead.
  OBS_SETOPT(CURLOPT_QUICK_EXIT, 1L);
  static_assert(sizeof error_buffer_ >= CURL_ERROR_SIZE, "CURLOPT_ERRORBUFFER needs CURL_ERROR_SIZE bytes");
  OBS_SETOPT(CURLOPT_ERRORBUFFER, error_buffer_);
  OBS_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
  OBS_SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  OBS_SETOPT(CURLOPT_USERAGENT, t.user_agent.c_str());
  if (t.method == "HEAD") OBS_SETOPT(CURLOPT_NOBODY, 1L);
  else if (t.method != "GET") OBS_SETOPT(CURLOPT_CUSTOMREQUEST, t.method.c_str());
  if (spec.request_headers) OBS_SETOPT(CURLOPT_HTTPHEADER, spec.request_headers.get());
  long timeout_ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(t.timeout).count());
  OBS_SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms < 1 ? 1L : timeout_ms);
  OBS_SETOPT(CURLOPT_FOLLOWLOCATION, t.follow_redirects ? 1L : 0L);
  OBS_SETOPT(CURLOPT_MAXREDIRS, static_cast<long>(t.max_redirects));
  if (!t.reuse_connections) {
    OBS_SETOPT(CURLOPT_FORBID_REUSE, 1L);
    OBS_SETOPT(CURLOPT_FRESH_CONNECT, 1L);
    // A full handshake every probe, as a first visitor makes it (and the
    // certificate is seen every time).
    OBS_SETOPT(CURLOPT_SSL_SESSIONID_CACHE, 0L);
  }
  long ipr = t.ip_version == IpVersion::V4 ? CURL_IPRESOLVE_V4
             : t.ip_version == IpVersion::V6 ? CURL_IPRESOLVE_V6 : CURL_IPRESOLVE_WHATEVER;
  OBS_SETOPT(CURLOPT_IPRESOLVE, ipr);
  if (t.insecure) {
    OBS_SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
    OBS_SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!t.ca_file.empty()) OBS_SETOPT(CURLOPT_CAINFO, t.ca_file.c_str());
  // libcurl keeps the parsed CA store in the multi handle (24 h by default)
  // only when it comes from a CA file alone; a CA directory, which Debian's
  // libcurl sets by default beside its bundle, makes it parse the whole
  // bundle on every handshake (~95 % of a probe's instructions). The bundle
  // holds the same certificates as the directory.
  OBS_SETOPT(CURLOPT_CAPATH, static_cast<const char*>(nullptr));
  OBS_SETOPT(CURLOPT_CA_CACHE_TIMEOUT, kCaCacheSeconds);
  if (t.cert_min_days.has_value()) OBS_SETOPT(CURLOPT_CERTINFO, 1L);
  OBS_SETOPT(CURLOPT_WRITEFUNCTION, &Probe::cb_curl_write);
  OBS_SETOPT(CURLOPT_WRITEDATA, this);
  OBS_SETOPT(CURLOPT_HEADERFUNCTION, &Probe::cb_curl_header);
  OBS_SETOPT(CURLOPT_HEADERDATA, this);
  return true;
}

#undef OBS_SETOPT

Probe* Probe::from_easy(CURL* easy) {
  char* priv = nullptr;
  if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK) return nullptr;
  return reinterpret_cast<Probe*>(priv);
}

// Keeps the body only when a check reads it, and never past max_body: there
// it returns a short count, which makes curl end the transfer with
// CURLE_WRITE_ERROR; finish() knows that this was the cap and not a failure.
size_t Probe::cb_curl_write(char* data, size_t size, size_t nmemb, void* userp) noexcept {
  auto* p = static_cast<Probe*>(userp);
  size_t n = size * nmemb;
  size_t kept = n <= p->body_room_ ? n : static_cast<size_t>(p->body_room_);
  if (p->spec_->wants_body) p->result_.body.append(data, kept);  // within max_body, reserved by nobody
  p->body_room_ -= kept;
  if (kept == n) return n;
  p->result_.body_truncated = true;
  return 0;
}

// Response headers are read from curl once the transfer is done
// (curl_easy_header); this only notes whether the last response's header
// block ended, which tells a header line over curl's limit from a real
// out-of-memory. No allocation: it runs for every header line.
size_t Probe::cb_curl_header(char* data, size_t size, size_t nmemb, void* userp) noexcept {
  auto* p = static_cast<Probe*>(userp);
  size_t n = size * nmemb;
  if (n >= 5 && std::memcmp(data, "HTTP/", 5) == 0) p->header_block_ended_ = false;  // a new response
  else if ((n == 2 && data[0] == '\r' && data[1] == '\n') || (n == 1 && data[0] == '\n')) p->header_block_ended_ = true;
  return n;
}

const ProbeResult& Probe::finish(int curl_code) {
  ProbeResult& r = result_;
  CURLcode code = static_cast<CURLcode>(curl_code);
  CURL* e = easy_.get();
  if (code == CURLE_WRITE_ERROR && r.body_truncated) code = CURLE_OK;
  r.transport_ok = code == CURLE_OK;
  r.curl_code = static_cast<int>(code);
  if (!r.transport_ok) {
    r.transport_error = curl_easy_strerror(code);
    // curl 7.88 refuses a header line over its 100 KiB limit with a bare
    // CURLE_OUT_OF_MEMORY and no message; the probe knows the header block
    // never ended, so it can say what really happened.
    if (code == CURLE_OUT_OF_MEMORY && !header_block_ended_) r.transport_error = kHeaderTooLarge;
    size_t len = std::strlen(error_buffer_);
    while (len > 0 && (error_buffer_[len - 1] == '\n' || error_buffer_[len - 1] == '\r')) --len;
    if (len > 0 && r.transport_error.compare(0, std::string::npos, error_buffer_, len) != 0) {
      r.transport_error += ": ";
      r.transport_error.append(error_buffer_, len);
    }
    // curl 7.88 often ends in a generic phrase ("Couldn't connect to
    // server"); the OS's own reason says which: refused, unreachable, reset.
    long os_errno = socket_errno_;
    if (os_errno == 0) curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
    if (os_errno != 0) {
      const char* os_reason = std::strerror(static_cast<int>(os_errno));
      if (r.transport_error.find(os_reason) == std::string::npos) {
        r.transport_error += " (";
        r.transport_error += os_reason;
        r.transport_error += ")";
      }
    }
    r.tls_verify_failed = code == CURLE_PEER_FAILED_VERIFICATION;
  }
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
  curl_off_t us = 0;
  if (curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK) r.total_time = std::chrono::microseconds(us);
  read_phases();
  if (r.status != 0) read_wanted_headers();
  if (spec_->settings->cert_min_days.has_value() && r.transport_ok) read_cert_expiry();
  return r;
}

// blackbox_exporter's phases from curl's cumulative instants: each phase is
// the time from the end of the one before it (0 when it did not happen).
void Probe::read_phases() {
  curl_off_t at[5] = {};
  const CURLINFO infos[5] = {CURLINFO_NAMELOOKUP_TIME_T, CURLINFO_CONNECT_TIME_T, CURLINFO_APPCONNECT_TIME_T,
                             CURLINFO_STARTTRANSFER_TIME_T, CURLINFO_TOTAL_TIME_T};
  for (int i = 0; i < 5; ++i) curl_easy_getinfo(easy_.get(), infos[i], &at[i]);
  if (at[2] == 0) at[2] = at[1];  // no TLS
  curl_off_t before = 0;
  for (int i = 0; i < 5; ++i) {
    curl_off_t phase = at[i] > before ? at[i] - before : 0;
    result_.phases_s[static_cast<size_t>(i)] = static_cast<float>(phase) / 1e6f;
    if (at[i] > before) before = at[i];
  }
}

void Probe::read_wanted_headers() {
  for (const std::string& name : spec_->wanted_headers) {
    curl_header* h = nullptr;
    // request -1: the last response (after redirects); 1xx responses apart.
    if (curl_easy_header(easy_.get(), name.c_str(), 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h == nullptr) continue;
    result_.headers.emplace_back(name, h->value);
  }
}

void Probe::read_cert_expiry() {
  curl_certinfo* info = nullptr;
  if (curl_easy_getinfo(easy_.get(), CURLINFO_CERTINFO, &info) != CURLE_OK || info == nullptr || info->num_of_certs < 1)
    return;
  // certinfo[0] is the leaf (the server's own certificate).
  for (curl_slist* s = info->certinfo[0]; s != nullptr; s = s->next) {
    static constexpr const char kKey[] = "Expire date:";
    if (std::strncmp(s->data, kKey, sizeof kKey - 1) != 0) continue;
    int64_t t = 0;
    if (parse_cert_date(s->data + sizeof kKey - 1, &t)) result_.cert_expiry_unix = t;
    return;
  }
}

std::unique_ptr<Probe> ProbePool::take(std::string* error) {
  if (idle_.empty()) return Probe::create(error);
  std::unique_ptr<Probe> p = std::move(idle_.back());
  idle_.pop_back();
  return p;
}

void ProbePool::give_back(std::unique_ptr<Probe> probe) {
  if (idle_.size() >= kKeepIdle) return;  // past the peak's share: let it go
  // A large body is not kept for the next probe.
  constexpr size_t kKeepBodyBytes = 64 * 1024;
  probe->result_.body.clear();
  if (probe->result_.body.capacity() > kKeepBodyBytes) probe->result_.body.shrink_to_fit();
  idle_.push_back(std::move(probe));
}

bool parse_cert_date(const std::string& text, int64_t* out) {
  struct tm tm {};
  std::string s = trim_blanks(text);
  // OpenSSL's ASN1_TIME_print: "Jan  2 15:04:05 2030 GMT".
  const char* end = strptime(s.c_str(), "%b %d %H:%M:%S %Y", &tm);
  if (end == nullptr) {
    // Some backends use "2030-01-02 15:04:05 GMT".
    end = strptime(s.c_str(), "%Y-%m-%d %H:%M:%S", &tm);
    if (end == nullptr) return false;
  }
  time_t t = timegm(&tm);
  if (t == static_cast<time_t>(-1)) return false;
  *out = static_cast<int64_t>(t);
  return true;
}

}  // namespace observer
