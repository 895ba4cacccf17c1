// Reads an INI file through inih: a scan of the text first, then inih's
// key=value pairs with their line numbers, handed to the caller one by one
// (nothing is kept here, so a file of 10 000 sections costs its text and
// what the caller keeps of it).
//
// Debian's libinih reads lines through a 200-byte buffer (longer lines are cut
// and the rest parsed as a new line), cuts section and key names at 49 bytes,
// treats indented lines as continuations of the previous value, and ends a
// value at " ;" (an inline comment). Each would silently change the
// configuration, so the scan reports all of them as errors.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace observer {

struct IniSection {
  std::string name;  // trimmed
  int line = 0;
};

// What the scan found: every [section] header and the line of every
// key=value pair, in file order.
struct IniScan {
  std::vector<IniSection> sections;
  std::vector<int> pair_lines;
};

// Longest line (without its newline) that inih reads whole.
constexpr size_t kIniMaxLineLength = 196;
// Longest section or key name inih keeps whole (its MAX_SECTION / MAX_NAME
// buffers are 50 bytes with the terminating NUL); longer ones it cuts.
constexpr size_t kIniMaxNameLength = 49;

// Checks `text` (as read from `path`, used only in messages) line by line for
// what inih would silently change, and collects the sections.
bool scan_ini_text(const std::string& path, const std::string& text, IniScan* out, std::string* error);

// `section` is inih's name of the pair's section ("" before any [section]).
using IniPairFn = std::function<void(const char* section, const char* key, const char* value, int line)>;

// Hands every key=value pair of `text` (scanned by scan_ini_text) to
// `on_pair`, in file order. False on a syntax error, with the message.
bool read_ini_pairs(const std::string& path, const std::string& text, const IniScan& scan, const IniPairFn& on_pair,
                    std::string* error);

// Largest config file read. A file is read only if it is a regular file
// (opened without blocking, so a FIFO cannot hang the reader) of at most this
// size: /dev/zero or a runaway file must not take the memory of the
// supervisor, which reads the file inside its loop on every SIGHUP.
constexpr uint64_t kConfigMaxBytes = 64ull * 1024 * 1024;

// Reads the whole file (a regular file of at most kConfigMaxBytes).
bool read_config_text(const std::string& path, std::string* text, std::string* error);

// Reads the file up to (not including) its first [section] line; sets
// `*has_sections` when there is one. The rest is never read. The same
// checks as read_config_text.
bool read_config_top_level(const std::string& path, std::string* text, bool* has_sections, std::string* error);

}  // namespace observer
