// Logger: formats records (log_format.h) and hands each line to a
// LineWriter, so one record is one line and one write(2). One Logger per
// process, owned by that process's context object.
#pragma once

#include <string>
#include <vector>

#include "common/line_writer.h"
#include "common/log_format.h"

namespace observer {

class Logger {
 public:
  Logger(LineWriter* out, LineOptions options) : out_(out), options_(options) {}

  void set_options(LineOptions options) { options_ = options; }
  const LineOptions& options() const { return options_; }

  void log(Level level, const std::string& target, std::string msg, std::vector<LogField> fields = {});
  void info(std::string msg, std::vector<LogField> fields = {}) {
    log(Level::Info, "", std::move(msg), std::move(fields));
  }
  void warning(std::string msg, std::vector<LogField> fields = {}) {
    log(Level::Warning, "", std::move(msg), std::move(fields));
  }
  void error(std::string msg, std::vector<LogField> fields = {}) {
    log(Level::Error, "", std::move(msg), std::move(fields));
  }

 private:
  LineWriter* out_;
  LineOptions options_;
};

// The LineWriter notice for lines lost to a stalled reader, in `options`' style.
LineWriter::DropNotice drop_notice_for(LineOptions options);

// A log line's fields: a number (unquoted in json) or a string.
inline LogField num(const char* key, int64_t v) { return LogField{key, std::to_string(v), true}; }
inline LogField str(const char* key, std::string v) { return LogField{key, std::move(v), false}; }

}  // namespace observer
