// Resolver: host-name lookups (getaddrinfo) for the native HTTP client, off
// the loop thread. Each lookup runs on a detached thread of its own, as in
// libcurl's threaded resolver with CURLOPT_QUICK_EXIT: a lookup that stalls
// (an unreachable DNS server) holds neither the loop, nor other targets'
// lookups (libuv's uv_getaddrinfo would queue them behind a pool of four
// threads), nor the worker's exit (the loop would wait for libuv's pool).
// Results come back on the loop thread through one uv_async_t.
//
// A name's addresses are kept for `cache_for` (60 s in the worker, as
// libcurl's DNS cache keeps them by default) after a lookup that found any:
// a target probed every second does not ask the system's resolver every
// second. A failed lookup is not kept; the next probe asks again.
//
// Loop thread only, except the lookup threads, which touch nothing but the
// shared Mailbox (under its mutex). cancel() forgets a lookup: its answer,
// when it comes, is dropped. Destroying the Resolver closes the async handle
// (freed in its close callback) and tells still-running threads to drop
// their answers.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config.h"
#include "duration.h"
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

  static constexpr Nanos kDefaultCacheFor = std::chrono::seconds(60);

  explicit Resolver(uv_loop_t* loop, Nanos cache_for = kDefaultCacheFor);
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

  // Lookups that went to getaddrinfo (not answered from the cache).
  uint64_t lookups_started() const { return started_; }

 private:
  struct Mailbox;
  struct Answer;
  struct Cached {
    std::vector<sockaddr_storage> addresses;
    uint64_t expires_ns = 0;  // uv_hrtime()
  };
  static Answer look_up(uint64_t id, const std::string& host, uint16_t port, IpVersion family);

  static void on_uv_async(uv_async_t* handle);
  void deliver();

  uv_loop_t* loop_;
  UvHandle<uv_async_t> async_;
  std::shared_ptr<Mailbox> mailbox_;
  std::unordered_map<uint64_t, Client*> clients_;
  // By host, port and family; loop thread only. As many entries as the
  // configuration has host names (a redirect's host goes to libcurl).
  std::unordered_map<std::string, Cached> cache_;
  Nanos cache_for_;
  uint64_t next_id_ = 1;
  uint64_t started_ = 0;
};

}  // namespace observer
