#include "common/log_format.h"

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

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no
// overlong forms, no surrogates, nothing past U+10FFFF), or 0.
size_t utf8_sequence_length(const std::string& s, size_t i) {
  auto byte = [&s](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) n = 3, lo = 0xA0;
  else if (c == 0xED) n = 3, hi = 0x9F;
  else if (c >= 0xE1 && c <= 0xEF) n = 3;
  else if (c == 0xF0) n = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else if (c == 0xF4) n = 4, hi = 0x8F;
  else return 0;
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

// JSON text must be UTF-8 (RFC 8259): a byte that starts no well-formed
// sequence (a hostile server's Server: \xff\xfe) becomes U+FFFD, as
// decoders do, instead of making the whole line unreadable.
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s, i, n);
      i += n;
      continue;
    }
    ++i;
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

// Bare when it is plain printable ASCII or well-formed UTF-8; quoted (as a
// JSON string, with invalid bytes replaced) otherwise.
std::string logfmt_value(const std::string& s) {
  bool plain = !s.empty();
  for (size_t i = 0; i < s.size() && plain;) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = utf8_sequence_length(s, i);
    if (n == 0 || c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) plain = false;
    i += n == 0 ? 1 : n;
  }
  return plain ? s : json_string(s);
}

}  // namespace

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
