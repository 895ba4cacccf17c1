#include "ini_file.h"

#include <ini.h>

#include <fstream>
#include <sstream>

namespace observer {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// What inih will call its handler for, line by line: lines holding a
// name=value pair (not blank, not a comment, not a [section]).
struct Scan {
  std::vector<int> pair_lines;
};

bool scan_lines(const std::string& path, const std::string& text, Scan* scan, std::string* error) {
  int lineno = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? text.size() : end + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (lineno == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    if (line.find('\0') != std::string::npos) {
      *error = path + ":" + std::to_string(lineno) + ": line contains a NUL byte";
      return false;
    }
    if (line.size() > kIniMaxLineLength) {
      *error = path + ":" + std::to_string(lineno) + ": line is " + std::to_string(line.size()) +
               " characters long; the INI reader's limit is " + std::to_string(kIniMaxLineLength) +
               " and a longer line would be cut. Shorten the value (for long headers, set them with a flag)";
      return false;
    }
    size_t first = 0;
    while (first < line.size() && is_blank(line[first])) ++first;
    if (first == line.size()) continue;
    char c = line[first];
    if (c == ';' || c == '#') continue;
    if (first > 0) {
      *error = path + ":" + std::to_string(lineno) +
               ": line starts with white space; the INI reader would append it to the previous "
               "value as a continuation. Remove the indentation";
      return false;
    }
    std::string name;
    if (c == '[') {
      size_t close = line.find(']');
      name = line.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    } else {
      name = line.substr(0, line.find_first_of("=:"));
    }
    while (!name.empty() && is_blank(name.back())) name.pop_back();
    if (name.size() > kIniMaxNameLength) {
      *error = path + ":" + std::to_string(lineno) + ": " + (c == '[' ? "section" : "key") + " name is " +
               std::to_string(name.size()) + " characters long; the INI reader's limit is " +
               std::to_string(kIniMaxNameLength) + " and a longer name would be cut";
      return false;
    }
    if (c == '[') continue;
    // inih ends a value at a ';' that follows white space (an inline
    // comment). Whether "a ; b" meant a comment or a value, cutting it
    // silently is wrong either way: ask for one or the other.
    size_t delim = line.find_first_of("=:");
    if (delim != std::string::npos) {
      for (size_t i = delim + 1; i + 1 < line.size(); ++i) {
        if (is_blank(line[i]) && line[i + 1] == ';') {
          *error = path + ":" + std::to_string(lineno) +
                   ": \" ;\" in a value starts an inline comment and the INI reader would cut the value "
                   "there. Put a comment on a line of its own; for a value that contains \" ;\", use a flag";
          return false;
        }
      }
    }
    scan->pair_lines.push_back(lineno);
  }
  return true;
}

struct HandlerState {
  const Scan* scan;
  size_t next_pair = 0;
  IniDocument* doc;
};

int on_ini_pair(void* user, const char* section, const char* name, const char* value) {
  auto* st = static_cast<HandlerState*>(user);
  if (st->next_pair >= st->scan->pair_lines.size()) return 0;  // cannot happen; fail safe
  IniEntry e;
  e.section = section;
  e.key = name;
  e.value = value;
  e.line = st->scan->pair_lines[st->next_pair++];
  st->doc->entries.push_back(std::move(e));
  return 1;
}

void collect_sections(const std::string& text, IniDocument* doc) {
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] != '[') continue;
    size_t close = line.find(']');
    if (close == std::string::npos) continue;
    std::string name = line.substr(1, close - 1);
    while (!name.empty() && is_blank(name.back())) name.pop_back();
    size_t f = 0;
    while (f < name.size() && is_blank(name[f])) ++f;
    doc->sections.push_back({name.substr(f), lineno});
  }
}

}  // namespace

bool parse_ini_text(const std::string& path, const std::string& text, IniDocument* out,
                    std::string* error) {
  Scan scan;
  if (!scan_lines(path, text, &scan, error)) return false;
  IniDocument doc;
  HandlerState st{&scan, 0, &doc};
  int rc = ini_parse_string(text.c_str(), on_ini_pair, &st);
  if (rc != 0) {
    *error = path + ":" + std::to_string(rc) +
             ": syntax error (expected key=value, [section], or a comment starting with ; or #)";
    return false;
  }
  collect_sections(text, &doc);
  *out = std::move(doc);
  return true;
}

bool parse_ini_file(const std::string& path, IniDocument* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot open config file";
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    *error = path + ": cannot read config file";
    return false;
  }
  return parse_ini_text(path, ss.str(), out, error);
}

}  // namespace observer
