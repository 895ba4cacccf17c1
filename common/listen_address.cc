#include "common/listen_address.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace observer {
namespace {

bool parse_port(const std::string& text, uint16_t* out) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  long n = std::strtol(text.c_str(), nullptr, 10);
  if (n < 1 || n > 65535) return false;
  *out = static_cast<uint16_t>(n);
  return true;
}

}  // namespace

bool parse_listen_address(const std::string& text, ListenAddress* out, std::string* why) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    *why = "expected HOST:PORT, [IPv6]:PORT or :PORT";
    return false;
  }
  std::string host = text.substr(0, colon);
  uint16_t port = 0;
  if (!parse_port(text.substr(colon + 1), &port)) {
    *why = "the port must be a number from 1 to 65535";
    return false;
  }
  *out = ListenAddress();
  if (host.empty()) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&out->addr);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_any;
    a->sin6_port = htons(port);
    out->len = sizeof(sockaddr_in6);
    out->any = true;
    return true;
  }
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    auto* a = reinterpret_cast<sockaddr_in6*>(&out->addr);
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a->sin6_addr) != 1) {
      *why = "not an IPv6 address: " + host;
      return false;
    }
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    out->len = sizeof(sockaddr_in6);
    return true;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&out->addr);
  if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) {
    *why = "not an IP address (names other than localhost are not looked up; IPv6 goes in brackets): " + host;
    return false;
  }
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  out->len = sizeof(sockaddr_in);
  return true;
}

int bind_listen_socket(const std::string& text, std::string* error) {
  ListenAddress la;
  std::string why;
  if (!parse_listen_address(text, &la, &why)) {
    *error = "listen " + text + ": " + why;
    return -1;
  }
  int fd = socket(la.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 && la.any && errno == EAFNOSUPPORT) {
    // No IPv6 on this machine: every IPv4 address instead.
    auto* a = reinterpret_cast<sockaddr_in*>(&la.addr);
    uint16_t port = reinterpret_cast<sockaddr_in6*>(&la.addr)->sin6_port;
    std::memset(&la.addr, 0, sizeof la.addr);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    a->sin_port = port;
    la.len = sizeof(sockaddr_in);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  }
  if (fd < 0) {
    *error = "listen " + text + ": socket: " + std::strerror(errno);
    return -1;
  }
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (la.addr.ss_family == AF_INET6 && la.any) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (bind(fd, reinterpret_cast<sockaddr*>(&la.addr), la.len) != 0 || listen(fd, 128) != 0) {
    *error = "listen " + text + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace observer
