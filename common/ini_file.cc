#include "common/ini_file.h"

#include <ini.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace observer {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string at_line(const std::string& path, int lineno) { return path + ":" + std::to_string(lineno) + ": "; }

std::string too_large(const std::string& path) {
  return path + ": config file is larger than " + std::to_string(kConfigMaxBytes / (1024 * 1024)) +
         " MiB, the limit";
}

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "an unknown kind of file";
}

// A [section] header as the loader places keys by it: the line must start
// with '[' (a BOM on line 1 hides it, as it always has) and have a ']'; the
// name is trimmed on both sides.
void collect_section(std::string_view line, int lineno, IniScan* scan) {
  if (line.empty() || line[0] != '[') return;
  size_t close = line.find(']');
  if (close == std::string_view::npos) return;
  std::string_view name = line.substr(1, close - 1);
  while (!name.empty() && is_blank(name.back())) name.remove_suffix(1);
  while (!name.empty() && is_blank(name.front())) name.remove_prefix(1);
  scan->sections.push_back({std::string(name), lineno});
}

// One line (without its newline and CR) against inih's limits; records a
// pair's line. False with the message for what inih would change.
bool scan_line(const std::string& path, std::string_view line, int lineno, IniScan* scan, std::string* error) {
  if (line.find('\0') != std::string_view::npos) {
    *error = at_line(path, lineno) + "line contains a NUL byte";
    return false;
  }
  if (line.size() > kIniMaxLineLength) {
    *error = at_line(path, lineno) + "line is " + std::to_string(line.size()) +
             " characters long; the INI reader's limit is " + std::to_string(kIniMaxLineLength) +
             " and a longer line would be cut. Shorten the value (for long headers, set them with a flag)";
    return false;
  }
  size_t first = 0;
  while (first < line.size() && is_blank(line[first])) ++first;
  if (first == line.size()) return true;
  char c = line[first];
  if (c == ';' || c == '#') return true;
  if (first > 0) {
    *error = at_line(path, lineno) +
             "line starts with white space; the INI reader would append it to the previous "
             "value as a continuation. Remove the indentation";
    return false;
  }
  std::string_view name;
  if (c == '[') {
    size_t close = line.find(']');
    name = line.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
  } else {
    name = line.substr(0, line.find_first_of("=:"));
  }
  while (!name.empty() && is_blank(name.back())) name.remove_suffix(1);
  if (name.size() > kIniMaxNameLength) {
    *error = at_line(path, lineno) + (c == '[' ? "section" : "key") + " name is " + std::to_string(name.size()) +
             " characters long; the INI reader's limit is " + std::to_string(kIniMaxNameLength) +
             " and a longer name would be cut";
    return false;
  }
  if (c == '[') return true;
  // inih ends a value at a ';' that follows white space (an inline
  // comment). Whether "a ; b" meant a comment or a value, cutting it
  // silently is wrong either way: ask for one or the other.
  size_t delim = line.find_first_of("=:");
  if (delim != std::string_view::npos) {
    for (size_t i = delim + 1; i + 1 < line.size(); ++i) {
      if (is_blank(line[i]) && line[i + 1] == ';') {
        *error = at_line(path, lineno) +
                 "\" ;\" in a value starts an inline comment and the INI reader would cut the value "
                 "there. Put a comment on a line of its own; for a value that contains \" ;\", use a flag";
        return false;
      }
    }
  }
  scan->pair_lines.push_back(lineno);
  return true;
}

struct PairState {
  const IniScan* scan;
  const IniPairFn* on_pair;
  size_t next_pair = 0;
};

int on_ini_pair(void* user, const char* section, const char* name, const char* value) {
  auto* st = static_cast<PairState*>(user);
  if (st->next_pair >= st->scan->pair_lines.size()) return 0;  // cannot happen; fail safe
  (*st->on_pair)(section, name, value, st->scan->pair_lines[st->next_pair++]);
  return 1;
}

std::string not_regular(const std::string& path, mode_t mode) {
  return path + ": not a regular file (" + file_kind(mode) + "); the config must be a regular file";
}

// Opens `path` for reading without ever blocking in open() (a FIFO with no
// writer would), and only when it is a regular file: a FIFO, a device such as
// /dev/zero or a directory would hang or never end. O_NONBLOCK changes
// nothing for the reads of a regular file.
int open_config(const std::string& path, struct stat* st, std::string* error) {
  // A device is not even opened (opening some has effects of its own); the
  // fstat below checks again what was opened, should the path change between.
  if (::stat(path.c_str(), st) == 0 && !S_ISREG(st->st_mode)) {
    *error = not_regular(path, st->st_mode);
    return -1;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    *error = path + ": cannot open config file: " + std::strerror(errno);
    return -1;
  }
  if (::fstat(fd, st) != 0) {
    *error = path + ": cannot read config file: " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  if (!S_ISREG(st->st_mode)) {
    *error = not_regular(path, st->st_mode);
    ::close(fd);
    return -1;
  }
  if (static_cast<uint64_t>(st->st_size) > kConfigMaxBytes) {
    *error = too_large(path);
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads `fd` into `text` until EOF, or until `stop(text)` says the rest is
// not needed. Never more than kConfigMaxBytes: a file that grows while it is
// read is refused like a large one.
template <class Stop>
bool read_bounded(const std::string& path, int fd, std::string* text, const Stop& stop, std::string* error) {
  text->clear();
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = path + ": cannot read config file: " + std::strerror(errno);
      return false;
    }
    if (n == 0) return true;
    if (text->size() + static_cast<size_t>(n) > kConfigMaxBytes) {
      *error = too_large(path);
      return false;
    }
    size_t from = text->size();
    text->append(buf, static_cast<size_t>(n));
    if (stop(text, from)) return true;
  }
}

}  // namespace

bool scan_ini_text(const std::string& path, const std::string& text, IniScan* out, std::string* error) {
  std::string_view all = text;
  int lineno = 0;
  size_t pos = 0;
  while (pos < all.size()) {
    size_t end = all.find('\n', pos);
    std::string_view line = all.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? all.size() : end + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    collect_section(line, lineno, out);
    if (lineno == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    if (!scan_line(path, line, lineno, out, error)) return false;
  }
  return true;
}

bool read_ini_pairs(const std::string& path, const std::string& text, const IniScan& scan, const IniPairFn& on_pair,
                    std::string* error) {
  PairState st{&scan, &on_pair, 0};
  int rc = ini_parse_string(text.c_str(), on_ini_pair, &st);
  if (rc != 0) {
    *error = path + ":" + std::to_string(rc) +
             ": syntax error (expected key=value, [section], or a comment starting with ; or #)";
    return false;
  }
  return true;
}

bool read_config_text(const std::string& path, std::string* text, std::string* error) {
  struct stat st {};
  int fd = open_config(path, &st, error);
  if (fd < 0) return false;
  bool ok = read_bounded(path, fd, text, [](std::string*, size_t) { return false; }, error);
  ::close(fd);
  return ok;
}

bool read_config_top_level(const std::string& path, std::string* text, bool* has_sections, std::string* error) {
  struct stat st {};
  int fd = open_config(path, &st, error);
  if (fd < 0) return false;
  *has_sections = false;
  // Stops at the first line that starts with '[' (after a BOM on line 1)
  // and keeps only what is before it.
  size_t scanned = 0;  // text before this offset holds no such line start
  auto at_section = [&](std::string* t, size_t) {
    for (size_t pos = scanned; pos < t->size();) {
      size_t start = pos;
      if (start == 0 && t->compare(0, 3, "\xEF\xBB\xBF") == 0) {
        if (t->size() < 4) return false;  // the byte after the BOM is yet to come
        start = 3;
      }
      if (start < t->size() && (*t)[start] == '[') {
        t->resize(pos);
        *has_sections = true;
        return true;
      }
      size_t nl = t->find('\n', start);
      if (nl == std::string::npos) {
        scanned = pos;  // this line's start is checked again with more text
        return false;
      }
      pos = nl + 1;
      scanned = pos;
    }
    return false;
  };
  bool ok = read_bounded(path, fd, text, at_section, error);
  ::close(fd);
  return ok;
}

}  // namespace observer
