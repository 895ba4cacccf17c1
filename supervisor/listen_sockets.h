// ListenSockets: the metrics/status socket (`listen`) belongs to the
// supervisor, so that no reload closes the port, races for it or refuses a
// scrape: it is bound once and handed to every worker as an inherited fd.
// A reload whose `listen` changed binds the new address before its worker
// starts (a failure fails the reload); the old socket is closed once the
// new configuration is in force. Under systemd socket activation
// (LISTEN_PID/LISTEN_FDS, observer.socket) the first passed socket is used
// for every configuration, whatever `listen` says.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/unique_fd.h"

namespace observer {

class ListenSockets {
 public:
  // Takes systemd's socket when LISTEN_PID is this process. Returns a
  // notice to log, or "".
  std::string adopt_activated(const Environment& env);
  bool activated() const { return static_cast<bool>(activated_); }

  // The socket a worker for `address` gets: -1 (and true) for none, the
  // activated one, or one bound now or before. False with `error` when it
  // cannot be bound.
  bool socket_for(const std::string& address, int* fd, std::string* error);
  // Closes what no configuration but the one of `address` needs.
  void keep_only(const std::string& address);

 private:
  UniqueFd activated_;
  std::vector<std::pair<std::string, UniqueFd>> bound_;
};

// The environment variables of socket activation, which a worker must not see.
bool is_socket_activation_variable(const std::string& key);

}  // namespace observer
