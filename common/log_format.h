// Turns one log record into one line of text, in the configured format.
// Pure functions: no I/O, no clock reads (the record carries its time), so
// every format is unit-tested byte for byte.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/config.h"

namespace observer {

// syslog priorities, as sd-daemon(3) prefixes use them.
enum class Level { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

const char* level_name(Level level);

struct LogField {
  std::string key;
  std::string value;
  bool number = false;  // rendered unquoted in json
};

struct LogRecord {
  std::chrono::system_clock::time_point time;
  Level level = Level::Info;
  std::string target;  // "" for process-wide events
  std::string msg;
  std::vector<LogField> fields;
};

enum class LineStyle {
  Text,     // 2006/01/02 15:04:05 [target] message  (local time)
  Journal,  // <4>[target] message  (journald adds the time)
  Logfmt,   // time=... level=... target=... msg="..." key=value
  Json,     // {"time":"...","level":"...","target":"...","msg":"...",...}
};

struct LineOptions {
  LineStyle style = LineStyle::Text;
  bool name_target = false;  // text/journal: prefix "[target] " (more than one target)
};

// The style of `format`: the text format becomes journald's when `journald`
// (the reader is the journal), the structured formats stay as they are.
LineStyle line_style_for(LogFormat format, bool journald);

// The style to use for stdout: journald's when JOURNAL_STREAM names stdout's
// device and inode (see sd-daemon(3)), else the configured format.
LineStyle choose_line_style(LogFormat format, int stdout_fd, const char* journal_stream);

// Returns the line, ending in '\n'. Line breaks inside fields are escaped so
// that a record is always exactly one line.
std::string format_line(const LogRecord& record, const LineOptions& options);

// RFC 3339 in UTC with milliseconds ("2026-12-03T07:59:00.123Z"): stable
// for log shippers, and what Alertmanager and webhooks are sent.
std::string iso_time(std::chrono::system_clock::time_point t);

}  // namespace observer
