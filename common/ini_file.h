// Reads an INI file through inih and returns its entries with line numbers.
//
// Debian's libinih reads lines through a 200-byte buffer (longer lines are cut
// and the rest parsed as a new line), cuts section and key names at 49 bytes,
// treats indented lines as continuations of the previous value, and ends a
// value at " ;" (an inline comment). Each would silently change the
// configuration, so the file is scanned first and all are reported as errors.
#pragma once

#include <string>
#include <vector>

namespace observer {

struct IniEntry {
  std::string section;  // "" before any [section]
  std::string key;
  std::string value;
  int line = 0;
};

struct IniSection {
  std::string name;
  int line = 0;
};

struct IniDocument {
  std::vector<IniEntry> entries;   // in file order
  std::vector<IniSection> sections;  // in file order, each once
};

// Longest line (without its newline) that inih reads whole.
constexpr size_t kIniMaxLineLength = 196;
// Longest section or key name inih keeps whole (its MAX_SECTION / MAX_NAME
// buffers are 50 bytes with the terminating NUL); longer ones it cuts.
constexpr size_t kIniMaxNameLength = 49;

// Parses `text` as read from `path` (path is only used in messages).
bool parse_ini_text(const std::string& path, const std::string& text, IniDocument* out,
                    std::string* error);

bool parse_ini_file(const std::string& path, IniDocument* out, std::string* error);

}  // namespace observer
