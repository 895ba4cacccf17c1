// The state file (`state_file`, issue 17): a worker's per-target state and
// alert bookkeeping kept on disk across restarts. This module owns only the
// container and its I/O; the payload is opaque bytes (the caller puts
// control.h TargetState messages in it).
//
// Container: the line "observer-state 1\n" (format and version), the
// payload's length (u64 little-endian), the payload, and the FNV-1a 64 of
// everything before it (u64 little-endian).
//
// A write replaces the file atomically (temp file in the same directory,
// fsync, rename, fsync of the directory), so a crash or a full disk leaves
// either the old file or the new one, never a mix. A read trusts nothing: a
// corrupt, truncated or foreign file is reported as Invalid with its reason,
// for the caller to warn about and start afresh.
//
// Both are plain blocking calls that throw nothing; they may be called from
// a libuv callback (the file is small, and written on change and at stop).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace observer {

// The largest state file read or written. A file above it is refused before
// a byte of it is read: a runaway or foreign file must not take the
// worker's memory.
constexpr uint64_t kStateFileMaxBytes = 256ull * 1024 * 1024;

// Writes `payload` to `path` through `path`.tmp.PID, created afresh (mode
// 0600). On failure returns false with `*error` naming the file and the
// step ("state_file /x/y: write /x/y.tmp.42: No space left on device"); the
// temp file is removed and the old file left as it was, except when only
// the final fsync of the directory fails: the new file is then in place
// but its durability unknown.
bool write_state_file(const std::string& path, std::string_view payload, std::string* error);

enum class StateFileRead {
  Loaded,   // *payload is the whole payload, checksum verified
  Missing,  // no file at `path`: a first start, nothing to warn about
  Invalid,  // unreadable, foreign, another version, truncated or corrupt
};

// Reads the state file at `path`. `*payload` is set only when Loaded (and
// cleared otherwise); `*why` is set only when Invalid, to one line that
// names the file and what is wrong with it.
StateFileRead read_state_file(const std::string& path, std::string* payload, std::string* why);

}  // namespace observer
