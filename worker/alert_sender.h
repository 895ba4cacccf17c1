// AlertSender: the HTTP requests that deliver alerts (webhooks, Alertmanager),
// each a libcurl easy transfer on a multi handle of its own, driven by the
// worker's libuv loop (curl_multi_uv.h) beside the probes' and never in
// their way: a slow or hung receiver holds one of its transfers, for at most
// kAlertTimeout, and nothing of the probes'. Connections are kept between
// alerts (a webhook service is sent many); redirects are not followed (a
// POST that is redirected is not delivered); TLS is verified.
//
// Loop thread only. The owner calls close() before the loop is closed.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace observer {

class CurlMultiUv;

constexpr std::chrono::milliseconds kAlertTimeout{10000};

struct AlertRequest {
  std::string url;
  std::string method = "POST";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct AlertResponse {
  bool delivered = false;  // a 2xx answer
  long status = 0;         // 0: no answer
  std::string error;       // why not delivered: "HTTP 500: <start of the body>", "Connection refused"
};

class AlertSender {
 public:
  using Done = std::function<void(const AlertResponse&)>;

  explicit AlertSender(uv_loop_t* loop);
  ~AlertSender();
  AlertSender(const AlertSender&) = delete;
  AlertSender& operator=(const AlertSender&) = delete;

  bool init(std::string* error);
  // Starts `request`; `done` runs from the loop once it ends (never from
  // inside this call; it may send again, but not close()). False (with
  // `error`) when it cannot start.
  bool send(AlertRequest request, Done done, std::string* error);
  size_t in_flight() const { return transfers_.size(); }
  // Ends every transfer without calling its `done`.
  void cancel_all();
  void close();

 private:
  struct Transfer;
  void on_done(void* easy, int code);

  uv_loop_t* loop_;
  std::unique_ptr<CurlMultiUv> multi_;
  std::unordered_map<void*, std::unique_ptr<Transfer>> transfers_;  // by easy handle
};

}  // namespace observer
