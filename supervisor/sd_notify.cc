#include "supervisor/sd_notify.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace observer {
namespace {

// STATUS= is one line; a newline inside would start a new assignment.
std::string status_line(const std::string& status) {
  std::string s = status;
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return "STATUS=" + s;
}

}  // namespace

std::string sd_ready_message(const std::string& status) { return "READY=1\n" + status_line(status); }

std::string sd_reloading_message(uint64_t monotonic_usec, const std::string& status) {
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec) + "\n" + status_line(status);
}

std::string sd_stopping_message(const std::string& status) { return "STOPPING=1\n" + status_line(status); }

std::string sd_watchdog_message() { return "WATCHDOG=1"; }

uint64_t monotonic_usec_now() {
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

bool parse_notify_socket(const std::string& value, sockaddr_un* addr, socklen_t* len, std::string* error) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (value.size() < 2 || (value[0] != '/' && value[0] != '@')) {
    *error = "NOTIFY_SOCKET=\"" + value + "\" is neither an absolute path nor an @abstract name";
    return false;
  }
  if (value.size() > sizeof addr->sun_path - (value[0] == '/' ? 1 : 0)) {
    *error = "NOTIFY_SOCKET is longer than a socket address allows";
    return false;
  }
  std::memcpy(addr->sun_path, value.data(), value.size());
  if (value[0] == '@') addr->sun_path[0] = '\0';
  // Abstract names are not NUL-terminated: the length says where they end.
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + value.size() + (value[0] == '/' ? 1 : 0));
  return true;
}

bool watchdog_ping_interval(const char* watchdog_usec, const char* watchdog_pid, pid_t self,
                            std::chrono::microseconds* interval) {
  if (watchdog_usec == nullptr || *watchdog_usec == '\0') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long usec = std::strtoull(watchdog_usec, &end, 10);
  if (errno != 0 || *end != '\0' || usec == 0 || watchdog_usec[0] == '-') return false;
  if (watchdog_pid != nullptr && *watchdog_pid != '\0') {
    errno = 0;
    long long pid = std::strtoll(watchdog_pid, &end, 10);
    if (errno != 0 || *end != '\0' || pid != static_cast<long long>(self)) return false;
  }
  *interval = std::chrono::microseconds(usec / 2 > 0 ? usec / 2 : 1);
  return true;
}

bool SdNotifier::open(const char* notify_socket, std::string* error) {
  fd_.reset();
  if (notify_socket == nullptr || *notify_socket == '\0') return true;
  if (!parse_notify_socket(notify_socket, &addr_, &addr_len_, error)) return false;
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *error = std::string("cannot create the notify socket: ") + std::strerror(errno);
    return false;
  }
  fd_.reset(fd);
  return true;
}

bool SdNotifier::send(const std::string& message) {
  if (!fd_) return true;
  ssize_t n;
  do {
    n = ::sendto(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&addr_), addr_len_);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(message.size());
}

}  // namespace observer
