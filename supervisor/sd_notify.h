// The systemd notify protocol (sd_notify(3)), spoken directly: one datagram
// of newline-separated assignments to the AF_UNIX socket named by
// $NOTIFY_SOCKET ('@' at the start means the abstract namespace). No
// libsystemd. Outside systemd ($NOTIFY_SOCKET unset) every send is a no-op.
//
// The message builders and parsers are pure and unit-tested; SdNotifier owns
// the socket.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "common/unique_fd.h"

namespace observer {

// "READY=1\nSTATUS=<status>"
std::string sd_ready_message(const std::string& status);
// "RELOADING=1\nMONOTONIC_USEC=<usec>\nSTATUS=<status>" (systemd 253+ needs
// MONOTONIC_USEC in the same datagram to accept the reload as started).
std::string sd_reloading_message(uint64_t monotonic_usec, const std::string& status);
// "STOPPING=1\nSTATUS=<status>"
std::string sd_stopping_message(const std::string& status);
std::string sd_watchdog_message();  // "WATCHDOG=1"

// CLOCK_MONOTONIC in microseconds, as MONOTONIC_USEC wants it.
uint64_t monotonic_usec_now();

// Parses $NOTIFY_SOCKET into an address. Accepts an absolute path or
// '@name' (abstract namespace); anything else is an error.
bool parse_notify_socket(const std::string& value, sockaddr_un* addr, socklen_t* len,
                         std::string* error);

// The watchdog ping interval: half of $WATCHDOG_USEC, when that is a positive
// number and $WATCHDOG_PID is unset or names `self`. Returns false when the
// watchdog is not asked for this process.
bool watchdog_ping_interval(const char* watchdog_usec, const char* watchdog_pid, pid_t self,
                            std::chrono::microseconds* interval);

class SdNotifier {
 public:
  // Opens the socket when `notify_socket` is non-null and non-empty. A bad
  // value is reported in `error` and leaves the notifier disabled.
  bool open(const char* notify_socket, std::string* error);
  bool enabled() const { return static_cast<bool>(fd_); }
  // Sends one datagram; returns false on error (never blocks the loop: the
  // socket is non-blocking, and a full queue at systemd only loses a ping).
  bool send(const std::string& message);

 private:
  UniqueFd fd_;
  sockaddr_un addr_{};
  socklen_t addr_len_ = 0;
};

}  // namespace observer
