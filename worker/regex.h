// Regex: one compiled PCRE2 pattern (8-bit, byte-wise, no UTF) used by the
// body_regex and header_regex.* checks. PCRE2 because Debian ships it, it is
// what users of nginx/HAProxy write patterns for, and it has match limits, so
// a pathological pattern against a server-chosen body costs bounded CPU.
//
// Compiled once per target at load; matching is const and allocates its own
// match data, so one Regex may be shared by copies of the owner.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace observer {

class Regex {
 public:
  enum class Match { Yes, No, Error };

  // Compiles `pattern`. On failure returns false and sets `error` to PCRE2's
  // message with the offset of the fault.
  static bool compile(const std::string& pattern, Regex* out, std::string* error);

  // Searches `subject` for the pattern anywhere. Error means the match gave
  // up (match or depth limit, out of memory); `error` then says why.
  Match search(std::string_view subject, std::string* error) const;

  const std::string& pattern() const { return pattern_; }
  bool valid() const { return code_ != nullptr; }

 private:
  struct Code;
  std::shared_ptr<Code> code_;
  std::string pattern_;
};

}  // namespace observer
