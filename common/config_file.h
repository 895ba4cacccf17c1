// The config file as the loader takes it: inih's pairs (ini_file.h) placed
// in the file's top level or in the [section] they belong to, each key
// checked against the key table (keys.h) and the section names against each
// other (the section index).
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace observer {

// The name of the target made of the file's top level (and the flags and
// environment): no [section] may take it.
constexpr const char* kTopLevelTargetName = "default";

// "observer.conf:3": how messages and origins name a line of the file.
std::string where_in_file(const std::string& path, int line);

// What the file sets: its top level, and one target per [section] with only
// the section's own values (name, url=, the rest in file order).
struct FileContents {
  std::vector<FileValue> top;
  std::vector<TargetConfig> sections;
  bool has_sections = false;
};

// Reads the file into its layers. With `top_level_only` it stops at the
// first [section] (and sets has_sections). The sections are reserved with
// room for one more target in front.
bool read_file(const std::string& path, bool top_level_only, FileContents* file, std::string* error);

}  // namespace observer
