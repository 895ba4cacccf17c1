#include "supervisor/listen_sockets.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "common/listen_address.h"

namespace observer {

namespace {
constexpr int kSdListenFdsStart = 3;  // sd_listen_fds(3)
}

std::string ListenSockets::adopt_activated(const Environment& env) {
  auto pid = env.find("LISTEN_PID");
  auto fds = env.find("LISTEN_FDS");
  if (pid == env.end() || fds == env.end()) return "";
  if (std::strtol(pid->second.c_str(), nullptr, 10) != static_cast<long>(getpid())) return "";
  long n = std::strtol(fds->second.c_str(), nullptr, 10);
  if (n < 1) return "";
  // Moved off fd 3, which the worker's control channel takes, and kept
  // from any other child.
  int fd = fcntl(kSdListenFdsStart, F_DUPFD_CLOEXEC, 10);
  if (fd < 0) return "socket activation: fd 3 is not usable; binding `listen` instead";
  ::close(kSdListenFdsStart);
  for (long extra = 1; extra < n; ++extra) ::close(kSdListenFdsStart + static_cast<int>(extra));
  activated_.reset(fd);
  return n > 1 ? "socket activation: " + std::to_string(n) + " sockets passed; serving the first" : "";
}

bool ListenSockets::socket_for(const std::string& address, int* fd, std::string* error) {
  *fd = -1;
  if (activated_) {
    *fd = activated_.get();
    return true;
  }
  if (address.empty()) return true;
  for (const auto& [text, sock] : bound_)
    if (text == address) {
      *fd = sock.get();
      return true;
    }
  int bound = bind_listen_socket(address, error);
  if (bound < 0) return false;
  bound_.emplace_back(address, UniqueFd(bound));
  *fd = bound;
  return true;
}

void ListenSockets::keep_only(const std::string& address) {
  for (auto it = bound_.begin(); it != bound_.end();)
    it = it->first == address ? it + 1 : bound_.erase(it);
}

bool is_socket_activation_variable(const std::string& key) {
  return key == "LISTEN_PID" || key == "LISTEN_FDS" || key == "LISTEN_FDNAMES";
}

}  // namespace observer
