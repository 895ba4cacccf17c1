#include "resolver.h"

#include <netdb.h>

#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

namespace observer {

struct Resolver::Answer {
  uint64_t id = 0;
  std::vector<sockaddr_storage> addresses;
  std::string error;
  std::string cache_key;  // "" when it came from the cache
};

namespace {

std::string cache_key(const std::string& host, uint16_t port, IpVersion family) {
  return host + '\n' + std::to_string(port) + '\n' + std::to_string(static_cast<int>(family));
}

}  // namespace

// Shared by the loop thread and every lookup thread still running. `async`
// is null once the Resolver is gone: a late answer is then dropped.
struct Resolver::Mailbox {
  std::mutex mutex;
  uv_async_t* async = nullptr;
  std::vector<Answer> answers;

  void post(Answer a) {
    std::lock_guard<std::mutex> lock(mutex);
    if (async == nullptr) return;
    answers.push_back(std::move(a));
    uv_async_send(async);
  }
};

// On a lookup thread: touches nothing shared.
Resolver::Answer Resolver::look_up(uint64_t id, const std::string& host, uint16_t port, IpVersion family) {
  Resolver::Answer a;
  a.id = id;
  addrinfo hints{};
  hints.ai_family = family == IpVersion::V4 ? AF_INET : family == IpVersion::V6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  addrinfo* list = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  if (rc != 0) {
    a.error = gai_strerror(rc);
    return a;
  }
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    sockaddr_storage ss{};
    std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    a.addresses.push_back(ss);
  }
  freeaddrinfo(list);
  if (a.addresses.empty()) a.error = "no address";
  return a;
}

Resolver::Resolver(uv_loop_t* loop, Nanos cache_for)
    : loop_(loop), mailbox_(std::make_shared<Mailbox>()), cache_for_(cache_for) {}

Resolver::~Resolver() {
  {
    std::lock_guard<std::mutex> lock(mailbox_->mutex);
    mailbox_->async = nullptr;
    mailbox_->answers.clear();
  }
  async_.close();
}

bool Resolver::init(std::string* error) {
  int rc = async_.init([this](uv_async_t* h) { return uv_async_init(loop_, h, &Resolver::on_uv_async); }, this);
  if (rc != 0) {
    *error = std::string("uv_async_init: ") + uv_strerror(rc);
    return false;
  }
  // The async handle would keep the loop running; it only matters while a
  // lookup is pending, and the lookup's probe holds the loop then.
  uv_unref(reinterpret_cast<uv_handle_t*>(async_.get()));
  std::lock_guard<std::mutex> lock(mailbox_->mutex);
  mailbox_->async = async_.get();
  return true;
}

uint64_t Resolver::lookup(const std::string& host, uint16_t port, IpVersion family, Client* client) {
  uint64_t id = next_id_++;
  clients_.emplace(id, client);
  std::string key = cache_key(host, port, family);
  auto cached = cache_.find(key);
  if (cached != cache_.end()) {
    if (cached->second.expires_ns > uv_hrtime()) {
      // Told through the loop all the same, never from inside this call.
      Answer a;
      a.id = id;
      a.addresses = cached->second.addresses;
      mailbox_->post(std::move(a));
      return id;
    }
    cache_.erase(cached);
  }
  ++started_;
  try {
    std::thread([mailbox = mailbox_, id, host, port, family, key = std::move(key)] {
      Answer a = look_up(id, host, port, family);
      a.cache_key = key;
      mailbox->post(std::move(a));
    }).detach();
  } catch (const std::system_error& e) {
    // No thread: the failure is answered through the loop like any other.
    Answer a;
    a.id = id;
    a.error = std::string("no resolver thread: ") + e.what();
    mailbox_->post(std::move(a));
  }
  return id;
}

void Resolver::cancel(uint64_t id) { clients_.erase(id); }

void Resolver::on_uv_async(uv_async_t* handle) {
  auto* self = static_cast<Resolver*>(handle->data);
  if (self != nullptr) self->deliver();
}

void Resolver::deliver() {
  std::vector<Answer> answers;
  {
    std::lock_guard<std::mutex> lock(mailbox_->mutex);
    answers.swap(mailbox_->answers);
  }
  for (Answer& a : answers) {
    // Kept even when its probe is gone: the next probe of that name uses it.
    if (!a.cache_key.empty() && !a.addresses.empty() && cache_for_ > Nanos{0})
      cache_[a.cache_key] = Cached{a.addresses, uv_hrtime() + static_cast<uint64_t>(cache_for_.count())};
    auto it = clients_.find(a.id);
    if (it == clients_.end()) continue;  // cancelled: its probe ended
    Client* client = it->second;
    clients_.erase(it);
    // May start a connection, end the probe, or cancel other lookups.
    client->on_resolved(std::move(a.addresses), a.error);
  }
}

}  // namespace observer
