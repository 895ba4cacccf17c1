// The command line and the environment: the flags (-key=value, -key value,
// --key=value, a bare -insecure) and the OBSERVER_* variables, each checked
// against the key table (keys.h) and kept with its origin for the loader.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace observer {

struct CommandLine {
  Action action = Action::Run;
  std::string config_path;
  std::string config_flag;  // spelling used, for messages
  RawValues flags;
};

// `args` excludes argv[0]. False on an unknown, valueless or repeated flag.
bool parse_flags(const std::vector<std::string>& args, CommandLine* cl, std::string* error);

// The OBSERVER_* variables of `env` into `values`, but OBSERVER_CONFIG,
// which sets `*config_path`. False on an unknown variable.
bool read_env(const Environment& env, RawValues* values, std::string* config_path, std::string* error);

}  // namespace observer
