#include "common/config_file.h"

#include <cstring>
#include <string_view>
#include <unordered_map>

#include "common/ini_file.h"
#include "common/keys.h"

namespace observer {

const FileValue* find_file_value(const std::vector<FileValue>& values, std::string_view key) {
  for (const FileValue& v : values)
    if (v.key == key) return &v;
  return nullptr;
}

std::string where_in_file(const std::string& path, int line) { return path + ":" + std::to_string(line); }

namespace {

// The file's [section]s: the first error among their names (empty, reserved,
// duplicate), and where each name's keys go (its first occurrence).
struct SectionIndex {
  std::unordered_map<std::string_view, size_t> by_name;
  std::string error;
};

void index_sections(const std::string& path, const std::vector<IniSection>& sections, SectionIndex* index) {
  index->by_name.reserve(sections.size());
  for (size_t i = 0; i < sections.size(); ++i) {
    const IniSection& s = sections[i];
    auto [it, inserted] = index->by_name.emplace(s.name, i);
    if (!index->error.empty()) continue;
    if (s.name.empty()) {
      index->error = where_in_file(path, s.line) + ": empty section name";
    } else if (s.name == kTopLevelTargetName) {
      index->error = where_in_file(path, s.line) + ": section name \"" + s.name + "\" is reserved for the top-level target";
    } else if (!inserted) {
      index->error = where_in_file(path, s.line) + ": duplicate section [" + s.name + "], first at " +
                     where_in_file(path, sections[it->second].line);
    }
  }
}

// Places the file's key=value pairs, one at a time, as inih reads them. Only
// the first error counts (it is reported when the syntax and the section
// names are fine, as a whole-file check would).
class PairPlacer {
 public:
  PairPlacer(const std::string& path, const SectionIndex& index, FileContents* file)
      : path_(path), index_(index), file_(file) {}

  void place(const char* section, const char* key, const char* value, int line) {
    if (!error_.empty()) return;
    const KeyInfo* info = find_key(key);
    if (info == nullptr) {
      std::string near = closest_key(key);
      fail(line, std::string("unknown key \"") + key + "\"" + (near.empty() ? "" : " (did you mean \"" + near + "\"?)"));
      return;
    }
    if (*section != '\0' && info->scope == KeyScope::Global) {
      fail(line, std::string("\"") + key + "\" applies to the whole process; set it before any [section]");
      return;
    }
    if (*section == '\0') {
      add(&file_->top, key, value, line);
      return;
    }
    TargetConfig* target = section_of(section);
    if (target == nullptr) {  // the INI reader saw a section the scan did not
      fail(line, std::string("cannot place key \"") + key + "\" in section [" + section + "]");
      return;
    }
    if (std::strcmp(key, "url") != 0) {
      add(&target->origins.own, key, value, line);
    } else if (target->origins.url_line != 0) {
      duplicate(line, key, target->origins.url_line);
    } else {
      target->url = value;
      target->origins.url_line = line;
    }
  }

  const std::string& error() const { return error_; }

 private:
  TargetConfig* section_of(const char* name) {
    // Consecutive pairs are mostly in one section: look it up once.
    if (last_ != nullptr && last_name_ == name) return last_;
    auto it = index_.by_name.find(name);
    if (it == index_.by_name.end()) return nullptr;
    last_name_ = name;
    last_ = &file_->sections[it->second];
    return last_;
  }

  void add(std::vector<FileValue>* values, const char* key, const char* value, int line) {
    if (const FileValue* dup = find_file_value(*values, key)) {
      duplicate(line, key, dup->line);
      return;
    }
    values->push_back({key, value, line});
  }

  void duplicate(int line, const char* key, int first_line) {
    fail(line, std::string("duplicate key \"") + key + "\", first set at " + where_in_file(path_, first_line));
  }

  void fail(int line, const std::string& what) { error_ = where_in_file(path_, line) + ": " + what; }

  const std::string& path_;
  const SectionIndex& index_;
  FileContents* file_;
  std::string error_;
  std::string last_name_;
  TargetConfig* last_ = nullptr;
};

}  // namespace

bool read_file(const std::string& path, bool top_level_only, FileContents* file, std::string* error) {
  std::string text;
  if (top_level_only ? !read_config_top_level(path, &text, &file->has_sections, error)
                     : !read_config_text(path, &text, error))
    return false;
  IniScan scan;
  if (!scan_ini_text(path, text, &scan, error)) return false;
  SectionIndex index;
  index_sections(path, scan.sections, &index);
  file->sections.reserve(scan.sections.size() + 1);  // + 1: room for the top-level target in front
  for (const IniSection& s : scan.sections) {
    file->sections.emplace_back();
    file->sections.back().origins.section_line = s.line;
  }
  PairPlacer placer(path, index, file);
  if (!read_ini_pairs(path, text, scan, [&placer](const char* section, const char* key, const char* value, int line) {
        placer.place(section, key, value, line);
      }, error))
    return false;
  if (!index.error.empty() || !placer.error().empty()) {
    *error = !index.error.empty() ? index.error : placer.error();
    return false;
  }
  index.by_name.clear();  // it points into scan.sections' names
  for (size_t i = 0; i < scan.sections.size(); ++i) file->sections[i].name = std::move(scan.sections[i].name);
  if (!top_level_only) file->has_sections = !file->sections.empty();
  return true;
}

}  // namespace observer
