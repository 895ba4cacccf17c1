#include "common/logger.h"

#include <chrono>

namespace observer {

void Logger::log(Level level, const std::string& target, std::string msg, std::vector<LogField> fields) {
  LogRecord r;
  r.time = std::chrono::system_clock::now();
  r.level = level;
  r.target = target;
  r.msg = std::move(msg);
  r.fields = std::move(fields);
  out_->write_line(format_line(r, options_));
}

LineWriter::DropNotice drop_notice_for(LineOptions options) {
  return [options](uint64_t dropped) {
    LogRecord r;
    r.time = std::chrono::system_clock::now();
    r.level = Level::Warning;
    r.msg = "stdout was blocked: dropped " + std::to_string(dropped) + " log line" + (dropped == 1 ? "" : "s");
    r.fields = {{"dropped", std::to_string(dropped), true}};
    return format_line(r, options);
  };
}

}  // namespace observer
