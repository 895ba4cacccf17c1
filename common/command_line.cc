#include "common/command_line.h"

#include <cctype>

#include "common/keys.h"

extern char** environ;

namespace observer {

Environment current_environment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

bool parse_flags(const std::vector<std::string>& args, CommandLine* cl, std::string* error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
      *error = "unexpected argument \"" + printable(arg) + "\" (flags look like -url=https://example.com)";
      return false;
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    size_t eq = body.find('=');
    if (eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    std::string spelling = flag_form(name);
    if (name == "help" || name == "h") {
      cl->action = Action::Help;
      continue;
    }
    if (name == "version") {
      if (cl->action != Action::Help) cl->action = Action::Version;
      continue;
    }
    if (name == "check-config" || name == "check_config") {
      if (cl->action == Action::Run) cl->action = Action::CheckConfig;
      continue;
    }
    const KeyInfo* key = name == "config" ? nullptr : find_key(name);
    if (name != "config" && key == nullptr) {
      std::string near = closest_key(name);
      *error = "unknown flag " + printable(spelling) + (near.empty() ? "" : " (did you mean " + flag_form(near) + "?)") +
               "; see -help";
      return false;
    }
    if (!has_value) {
      if (key != nullptr && key->is_bool()) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        *error = "flag " + printable(spelling) + " needs a value (" + printable(spelling) + "=VALUE)";
        return false;
      }
    }
    if (name == "config") {
      cl->config_path = value;
      cl->config_flag = spelling;
      continue;
    }
    if (cl->flags.count(name) != 0) {
      *error = "flag " + spelling + " is given twice";
      return false;
    }
    cl->flags[name] = {value, {Origin::Kind::Flag, spelling}};
  }
  return true;
}

bool read_env(const Environment& env, RawValues* values, std::string* config_path,
              std::string* error) {
  for (const auto& [name, value] : env) {
    if (name.compare(0, kEnvPrefix.size(), kEnvPrefix) != 0) continue;
    if (name == "OBSERVER_CONFIG") {
      *config_path = value;
      continue;
    }
    std::string key;
    for (char c : name.substr(kEnvPrefix.size()))
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const KeyInfo* info = find_key(key);
    if (info == nullptr || info->is_family()) {
      std::string near = closest_key(key);
      *error = "unknown environment variable " + printable(name) +
               (near.empty() || near.find('.') != std::string::npos ? "" : " (did you mean " + env_form(near) + "?)");
      return false;
    }
    (*values)[key] = {value, {Origin::Kind::Env, name}};
  }
  return true;
}

Action requested_action(const std::vector<std::string>& args) {
  CommandLine cl;
  std::string error;
  return parse_flags(args, &cl, &error) ? cl.action : Action::Run;
}

}  // namespace observer
