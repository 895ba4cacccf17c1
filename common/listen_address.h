// The `listen` key: where the metrics and status socket is bound.
//   127.0.0.1:9920   one IPv4 address
//   [::1]:9920       one IPv6 address
//   :9920            every address (IPv6 and IPv4)
//   localhost:9920   127.0.0.1 (the one name accepted: no lookup is made)
// The empty value serves nothing. Parsing is pure; bind_listen_socket()
// makes the socket (the supervisor's, or a standalone worker's).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

namespace observer {

struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  bool any = false;  // ":PORT": every address, IPv6 and IPv4 where the system allows
};

// Parses `text` (not empty). False with `why` ("port out of range", ...).
bool parse_listen_address(const std::string& text, ListenAddress* out, std::string* why);

// A listening TCP socket (SO_REUSEADDR, non-blocking, close-on-exec) bound to
// `text`. Returns the descriptor, or -1 with `error` (the address and errno's words).
int bind_listen_socket(const std::string& text, std::string* error);

}  // namespace observer
