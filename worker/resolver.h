// Resolver: host-name lookups (getaddrinfo) for the native HTTP client, off
// the loop thread. Each lookup runs on a detached thread of its own, as in
// libcurl's threaded resolver with CURLOPT_QUICK_EXIT: a lookup that stalls
// (an unreachable DNS server) holds neither the loop, nor other targets'
// lookups (libuv's uv_getaddrinfo would queue them behind a pool of four
// threads), nor the worker's exit (the loop would wait for libuv's pool).
// Results come back on the loop thread through one uv_async_t.
//
// Loop thread only, except the lookup threads, which touch nothing but the
// shared Mailbox (under its mutex). cancel() forgets a lookup: its answer,
// when it comes, is dropped. Destroying the Resolver closes the async handle
// (freed in its close callback) and tells still-running threads to drop
// their answers.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config.h"
#include "uv_handle.h"

namespace observer {

class Resolver {
 public:
  // Told the addresses in getaddrinfo's order, or `error` (gai_strerror or
  // why no thread could start) when there are none.
  class Client {
   public:
    virtual void on_resolved(std::vector<sockaddr_storage> addresses, const std::string& error) = 0;

   protected:
    ~Client() = default;
  };

  explicit Resolver(uv_loop_t* loop);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  bool init(std::string* error);

  // Starts looking `host` up for TCP to `port`; `client` hears back on the
  // loop thread, never from inside this call (also when no thread could
  // start: that failure comes back the same way). Returns the lookup's id,
  // for cancel().
  uint64_t lookup(const std::string& host, uint16_t port, IpVersion family, Client* client);
  void cancel(uint64_t id);

 private:
  struct Mailbox;
  struct Answer;
  static Answer look_up(uint64_t id, const std::string& host, uint16_t port, IpVersion family);

  static void on_uv_async(uv_async_t* handle);
  void deliver();

  uv_loop_t* loop_;
  UvHandle<uv_async_t> async_;
  std::shared_ptr<Mailbox> mailbox_;
  std::unordered_map<uint64_t, Client*> clients_;
  uint64_t next_id_ = 1;
};

}  // namespace observer
