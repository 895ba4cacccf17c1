#include "probe.h"

#include <strings.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace observer {
namespace {

bool starts_with_nocase(const std::string& s, const char* prefix) {
  size_t n = std::char_traits<char>::length(prefix);
  return s.size() >= n && strncasecmp(s.c_str(), prefix, n) == 0;
}

// The native client reports curl's numbers (probe_result.h): keep them true.
#define OBS_SAME_CODE(ours, theirs) \
  static_assert(static_cast<int>(TransportCode::ours) == static_cast<int>(theirs), #ours)
OBS_SAME_CODE(UnsupportedProtocol, CURLE_UNSUPPORTED_PROTOCOL);
OBS_SAME_CODE(UrlMalformat, CURLE_URL_MALFORMAT);
OBS_SAME_CODE(CouldntResolveHost, CURLE_COULDNT_RESOLVE_HOST);
OBS_SAME_CODE(CouldntConnect, CURLE_COULDNT_CONNECT);
OBS_SAME_CODE(WeirdServerReply, CURLE_WEIRD_SERVER_REPLY);
OBS_SAME_CODE(PartialFile, CURLE_PARTIAL_FILE);
OBS_SAME_CODE(OutOfMemory, CURLE_OUT_OF_MEMORY);
OBS_SAME_CODE(OperationTimedOut, CURLE_OPERATION_TIMEDOUT);
OBS_SAME_CODE(TooManyRedirects, CURLE_TOO_MANY_REDIRECTS);
OBS_SAME_CODE(GotNothing, CURLE_GOT_NOTHING);
OBS_SAME_CODE(SendError, CURLE_SEND_ERROR);
OBS_SAME_CODE(RecvError, CURLE_RECV_ERROR);
#undef OBS_SAME_CODE

// curl counts a timeout's milliseconds from the start of its own transfer;
// a continuation's probe started `add_ms` earlier ("... after 512
// milliseconds ..." -> "... after 640 milliseconds ...").
std::string shift_elapsed_ms(const std::string& msg, int64_t add_ms) {
  static constexpr const char kAfter[] = "after ";
  size_t at = msg.find(kAfter);
  if (at == std::string::npos || add_ms <= 0) return msg;
  size_t digits = at + sizeof kAfter - 1;
  size_t end = msg.find_first_not_of("0123456789", digits);
  if (end == digits || end == std::string::npos) return msg;
  // strtoll, not stoll: this runs inside libcurl's completion path, where
  // no exception may go.
  int64_t ms = std::strtoll(msg.substr(digits, end - digits).c_str(), nullptr, 10) + add_ms;
  return msg.substr(0, digits) + std::to_string(ms) + msg.substr(end);
}

}  // namespace

#define OBS_SETOPT(opt, val)                                                   \
  do {                                                                         \
    CURLcode rc_ = curl_easy_setopt(p->easy_, opt, val);                       \
    if (rc_ != CURLE_OK) {                                                     \
      *error = std::string("curl option " #opt ": ") + curl_easy_strerror(rc_); \
      return nullptr;                                                          \
    }                                                                          \
  } while (0)

std::unique_ptr<Probe> Probe::create(const TargetConfig& target, std::string* error) {
  const TargetSettings& t = *target.settings;
  std::unique_ptr<Probe> p(new Probe());
  p->easy_ = curl_easy_init();
  if (p->easy_ == nullptr) {
    *error = "curl_easy_init failed";
    return nullptr;
  }
  p->max_body_ = t.max_body;
  p->result_.is_https = starts_with_nocase(target.url, "https://");
  OBS_SETOPT(CURLOPT_URL, target.url.c_str());
  OBS_SETOPT(CURLOPT_PRIVATE, p.get());
  OBS_SETOPT(CURLOPT_NOSIGNAL, 1L);
  // A transfer that ends (timeout, abort) while its threaded DNS lookup still
  // runs would join that thread on the loop thread, stalling every target
  // until getaddrinfo returns; with QUICK_EXIT curl detaches it instead.
  OBS_SETOPT(CURLOPT_QUICK_EXIT, 1L);
  OBS_SETOPT(CURLOPT_ERRORBUFFER, p->error_buffer_);
  OBS_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
  OBS_SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  OBS_SETOPT(CURLOPT_USERAGENT, t.user_agent.c_str());
  if (t.method == "HEAD") OBS_SETOPT(CURLOPT_NOBODY, 1L);
  else if (t.method != "GET") OBS_SETOPT(CURLOPT_CUSTOMREQUEST, t.method.c_str());
  for (const auto& [name, value] : t.request_headers) {
    // "Name;" is curl's way to send a header with an empty value.
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    curl_slist* next = curl_slist_append(p->request_headers_, line.c_str());
    if (next == nullptr) {
      *error = "out of memory building request headers";
      return nullptr;
    }
    p->request_headers_ = next;
  }
  if (p->request_headers_ != nullptr) OBS_SETOPT(CURLOPT_HTTPHEADER, p->request_headers_);
  long timeout_ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(t.timeout).count());
  OBS_SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms < 1 ? 1L : timeout_ms);
  OBS_SETOPT(CURLOPT_FOLLOWLOCATION, t.follow_redirects ? 1L : 0L);
  OBS_SETOPT(CURLOPT_MAXREDIRS, static_cast<long>(t.max_redirects));
  if (!t.reuse_connections) {
    OBS_SETOPT(CURLOPT_FORBID_REUSE, 1L);
    OBS_SETOPT(CURLOPT_FRESH_CONNECT, 1L);
  }
  long ipr = t.ip_version == IpVersion::V4 ? CURL_IPRESOLVE_V4
             : t.ip_version == IpVersion::V6 ? CURL_IPRESOLVE_V6 : CURL_IPRESOLVE_WHATEVER;
  OBS_SETOPT(CURLOPT_IPRESOLVE, ipr);
  if (t.insecure) {
    OBS_SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
    OBS_SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!t.ca_file.empty()) OBS_SETOPT(CURLOPT_CAINFO, t.ca_file.c_str());
  p->want_cert_ = t.cert_min_days.has_value();
  if (p->want_cert_) OBS_SETOPT(CURLOPT_CERTINFO, 1L);
  OBS_SETOPT(CURLOPT_WRITEFUNCTION, &Probe::cb_curl_write);
  OBS_SETOPT(CURLOPT_WRITEDATA, p.get());
  OBS_SETOPT(CURLOPT_HEADERFUNCTION, &Probe::cb_curl_header);
  OBS_SETOPT(CURLOPT_HEADERDATA, p.get());
  return p;
}

#undef OBS_SETOPT

Probe::~Probe() {
  if (easy_ != nullptr) curl_easy_cleanup(easy_);
  curl_slist_free_all(request_headers_);
}

Probe* Probe::from_easy(CURL* easy) {
  char* priv = nullptr;
  if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK) return nullptr;
  return reinterpret_cast<Probe*>(priv);
}

// Keeps at most max_body bytes. Past the cap it returns a short count, which
// makes curl end the transfer with CURLE_WRITE_ERROR; finish() knows that
// this was the cap and not a failure.
size_t Probe::cb_curl_write(char* data, size_t size, size_t nmemb, void* userp) {
  auto* p = static_cast<Probe*>(userp);
  size_t n = size * nmemb;
  uint64_t room = p->max_body_ - p->result_.body.size();
  if (n <= room) {
    p->result_.body.append(data, n);
    return n;
  }
  p->result_.body.append(data, static_cast<size_t>(room));
  p->result_.body_truncated = true;
  return 0;
}

size_t Probe::cb_curl_header(char* data, size_t size, size_t nmemb, void* userp) {
  auto* p = static_cast<Probe*>(userp);
  size_t n = size * nmemb;
  std::string line(data, n);
  if (line.compare(0, 5, "HTTP/") == 0) {
    // A new response (redirect, 100 Continue): only the last one's headers count.
    p->result_.headers.clear();
    p->header_bytes_ = 0;
    p->header_block_ended_ = false;
    return n;
  }
  if (line == "\r\n" || line == "\n") p->header_block_ended_ = true;
  size_t colon = line.find(':');
  if (colon == std::string::npos || p->header_bytes_ + n > kMaxKeptHeaderBytes) return n;
  p->header_bytes_ += n;
  p->result_.headers.emplace_back(trim_blanks(line.substr(0, colon)), trim_blanks(line.substr(colon + 1)));
  return n;
}

ProbeResult Probe::finish(CURLcode code) {
  ProbeResult& r = result_;
  if (code == CURLE_WRITE_ERROR && r.body_truncated) code = CURLE_OK;
  r.transport_ok = code == CURLE_OK;
  r.curl_code = static_cast<int>(code);
  if (!r.transport_ok) {
    r.transport_error = curl_easy_strerror(code);
    // curl 7.88 refuses a header line over its 100 KiB limit with a bare
    // CURLE_OUT_OF_MEMORY and no message; the probe knows the header block
    // never ended, so it can say what really happened.
    if (code == CURLE_OUT_OF_MEMORY && !header_block_ended_) r.transport_error = kHeaderTooLarge;
    std::string detail = error_buffer_;
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
    int64_t hop_ms = std::chrono::duration_cast<std::chrono::milliseconds>(first_hop_).count();
    if (configured_max_redirects_ >= 0 && code == CURLE_TOO_MANY_REDIRECTS)
      detail = "Maximum (" + std::to_string(configured_max_redirects_) + ") redirects followed";
    if (configured_max_redirects_ >= 0 && code == CURLE_OPERATION_TIMEDOUT) detail = shift_elapsed_ms(detail, hop_ms);
    if (!detail.empty() && detail != r.transport_error) r.transport_error += ": " + detail;
    // curl 7.88 often ends in a generic phrase ("Couldn't connect to
    // server"); the OS's own reason says which: refused, unreachable, reset.
    std::string os_reason = socket_error_;
    long os_errno = 0;
    if (os_reason.empty() && curl_easy_getinfo(easy_, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno != 0)
      os_reason = std::strerror(static_cast<int>(os_errno));
    if (!os_reason.empty() && r.transport_error.find(os_reason) == std::string::npos)
      r.transport_error += " (" + os_reason + ")";
    r.tls_verify_failed = code == CURLE_PEER_FAILED_VERIFICATION;
  }
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &r.status);
  curl_off_t us = 0;
  if (curl_easy_getinfo(easy_, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK) r.total_time = std::chrono::microseconds(us);
  r.total_time += first_hop_;
  if (want_cert_ && r.transport_ok) read_cert_expiry();
  return std::move(result_);
}

void Probe::read_cert_expiry() {
  curl_certinfo* info = nullptr;
  if (curl_easy_getinfo(easy_, CURLINFO_CERTINFO, &info) != CURLE_OK || info == nullptr || info->num_of_certs < 1)
    return;
  // certinfo[0] is the leaf (the server's own certificate).
  for (curl_slist* s = info->certinfo[0]; s != nullptr; s = s->next) {
    std::string entry = s->data;
    static constexpr const char kKey[] = "Expire date:";
    if (entry.compare(0, sizeof kKey - 1, kKey) != 0) continue;
    int64_t t = 0;
    if (parse_cert_date(entry.substr(sizeof kKey - 1), &t)) result_.cert_expiry_unix = t;
    return;
  }
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
