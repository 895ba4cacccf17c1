#include "worker/alert_sender.h"

#include <curl/curl.h>

#include "common/version.h"
#include "worker/curl_handles.h"
#include "worker/curl_multi_uv.h"

namespace observer {

namespace {
// What of a refusal's body goes into the log line: Alertmanager says why it
// refused an alert in its body.
constexpr size_t kKeptBody = 200;
}  // namespace

struct AlertSender::Transfer {
  CurlEasy easy;
  CurlSlist headers;
  AlertRequest request;
  Done done;
  std::string answer;  // the start of the response body
  char error_buffer[CURL_ERROR_SIZE] = {};

  static size_t cb_curl_write(char* data, size_t size, size_t nmemb, void* userp) noexcept {
    auto* t = static_cast<Transfer*>(userp);
    size_t n = size * nmemb;
    if (t->answer.size() < kKeptBody) t->answer.append(data, std::min(n, kKeptBody - t->answer.size()));
    return n;
  }
};

AlertSender::AlertSender(uv_loop_t* loop) : loop_(loop) {}

AlertSender::~AlertSender() { close(); }

bool AlertSender::init(std::string* error) {
  multi_ = std::make_unique<CurlMultiUv>(loop_, [this](CURL* easy, int code) { on_done(easy, code); });
  return multi_->init(error);
}

#define OBS_SETOPT(opt, val)                                                  \
  do {                                                                        \
    if (curl_easy_setopt(e, opt, val) != CURLE_OK) {                          \
      *error = std::string("libcurl refused ") + #opt;                        \
      return false;                                                           \
    }                                                                         \
  } while (0)

bool AlertSender::send(AlertRequest request, Done done, std::string* error) {
  if (!multi_) {
    *error = "alerts are closed";
    return false;
  }
  auto t = std::make_unique<Transfer>();
  t->easy.reset(curl_easy_init());
  if (!t->easy) {
    *error = "curl_easy_init failed";
    return false;
  }
  t->request = std::move(request);
  t->done = std::move(done);
  for (const auto& [name, value] : t->request.headers) {
    curl_slist* more = curl_slist_append(t->headers.get(), (name + ": " + value).c_str());
    if (more == nullptr) {
      *error = "out of memory";
      return false;
    }
    t->headers.release();
    t->headers.reset(more);
  }
  CURL* e = t->easy.get();
  const AlertRequest& r = t->request;
  OBS_SETOPT(CURLOPT_URL, r.url.c_str());
  OBS_SETOPT(CURLOPT_NOSIGNAL, 1L);
  OBS_SETOPT(CURLOPT_QUICK_EXIT, 1L);
  OBS_SETOPT(CURLOPT_ERRORBUFFER, t->error_buffer);
  OBS_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
  OBS_SETOPT(CURLOPT_USERAGENT, "observer/" OBSERVER_VERSION);
  OBS_SETOPT(CURLOPT_TIMEOUT_MS, static_cast<long>(kAlertTimeout.count()));
  OBS_SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
  if (r.method == "GET" || r.method == "HEAD") {
    if (r.method == "HEAD") OBS_SETOPT(CURLOPT_NOBODY, 1L);
  } else {
    OBS_SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    OBS_SETOPT(CURLOPT_POSTFIELDS, r.body.data());
    if (r.method != "POST") OBS_SETOPT(CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  if (t->headers) OBS_SETOPT(CURLOPT_HTTPHEADER, t->headers.get());
  OBS_SETOPT(CURLOPT_WRITEFUNCTION, &Transfer::cb_curl_write);
  OBS_SETOPT(CURLOPT_WRITEDATA, t.get());
  if (!multi_->add(e, error)) return false;
  transfers_.emplace(e, std::move(t));
  return true;
}

#undef OBS_SETOPT

void AlertSender::on_done(void* easy, int code) {
  auto it = transfers_.find(easy);
  if (it == transfers_.end()) return;
  std::unique_ptr<Transfer> t = std::move(it->second);
  transfers_.erase(it);
  multi_->remove(t->easy.get());
  AlertResponse r;
  long status = 0;
  curl_easy_getinfo(t->easy.get(), CURLINFO_RESPONSE_CODE, &status);
  r.status = status;
  if (code != CURLE_OK) {
    r.error = t->error_buffer[0] != '\0' ? t->error_buffer : curl_easy_strerror(static_cast<CURLcode>(code));
  } else if (status < 200 || status > 299) {
    r.error = "HTTP " + std::to_string(status);
    std::string said;
    for (char c : t->answer) said += (c >= 0x20 && c < 0x7f) ? c : ' ';
    while (!said.empty() && said.back() == ' ') said.pop_back();
    if (!said.empty()) r.error += ": " + said;
  } else {
    r.delivered = true;
  }
  Done done = std::move(t->done);
  t.reset();
  // Last: `done` may start the next alert. It must not close this sender
  // (the multi handle is still on the stack): the Alerter closes from its
  // timers and the worker's, never from a done callback.
  done(r);
}

void AlertSender::cancel_all() {
  for (auto& [easy, t] : transfers_) multi_->remove(t->easy.get());
  transfers_.clear();
}

void AlertSender::close() {
  if (!multi_) return;
  cancel_all();
  multi_->close();
  multi_.reset();
}

}  // namespace observer
