#include "log_format.h"

#include <sys/stat.h>

#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace observer {

const char* level_name(Level level) {
  switch (level) {
    case Level::Error: return "error";
    case Level::Warning: return "warning";
    case Level::Notice: return "notice";
    case Level::Info: return "info";
    case Level::Debug: return "debug";
  }
  return "info";
}

LineStyle line_style_for(LogFormat format, bool journald) {
  switch (format) {
    case LogFormat::Logfmt: return LineStyle::Logfmt;
    case LogFormat::Json: return LineStyle::Json;
    case LogFormat::Text: break;
  }
  return journald ? LineStyle::Journal : LineStyle::Text;
}

LineStyle choose_line_style(LogFormat format, int stdout_fd, const char* journal_stream) {
  bool journald = false;
  if (journal_stream != nullptr) {
    unsigned long long dev = 0, ino = 0;
    struct stat st {};
    journald = std::sscanf(journal_stream, "%llu:%llu", &dev, &ino) == 2 && fstat(stdout_fd, &st) == 0 &&
               static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
  }
  return line_style_for(format, journald);
}

namespace {

std::string text_time(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  struct tm tm {};
  localtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y/%m/%d %H:%M:%S", &tm);
  return buf;
}

// RFC 3339 in UTC with milliseconds: stable for log shippers.
std::string iso_time(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  if (ms % 1000 < 0) --secs;
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(((ms % 1000) + 1000) % 1000));
  return out;
}

// One line, always: control characters become visible escapes.
std::string one_line(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string logfmt_value(const std::string& s) {
  bool plain = !s.empty();
  for (unsigned char c : s)
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) plain = false;
  return plain ? s : json_string(s);
}

}  // namespace

std::string format_line(const LogRecord& r, const LineOptions& o) {
  std::string line;
  std::string prefix = (o.name_target && !r.target.empty()) ? "[" + r.target + "] " : "";
  switch (o.style) {
    case LineStyle::Text:
      line = text_time(r.time) + " " + one_line(prefix + r.msg);
      break;
    case LineStyle::Journal:
      line = "<" + std::to_string(static_cast<int>(r.level)) + ">" + one_line(prefix + r.msg);
      break;
    case LineStyle::Logfmt:
      line = "time=" + iso_time(r.time) + " level=" + level_name(r.level);
      if (!r.target.empty()) line += " target=" + logfmt_value(r.target);
      line += " msg=" + logfmt_value(r.msg);
      for (const LogField& f : r.fields) line += " " + f.key + "=" + logfmt_value(f.value);
      break;
    case LineStyle::Json:
      line = "{\"time\":" + json_string(iso_time(r.time)) + ",\"level\":" + json_string(level_name(r.level));
      if (!r.target.empty()) line += ",\"target\":" + json_string(r.target);
      line += ",\"msg\":" + json_string(r.msg);
      for (const LogField& f : r.fields)
        line += "," + json_string(f.key) + ":" + (f.number ? f.value : json_string(f.value));
      line += "}";
      break;
  }
  return line + "\n";
}

}  // namespace observer
