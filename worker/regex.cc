#include "worker/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace observer {
namespace {

// Bounds the backtracking work of one match; generous for sane patterns,
// small enough that a catastrophic one fails in milliseconds.
constexpr uint32_t kMatchLimit = 1000000;
constexpr uint32_t kDepthLimit = 10000;

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  int n = pcre2_get_error_message(code, buf, sizeof buf);
  if (n < 0) return "PCRE2 error " + std::to_string(code);
  return std::string(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

}  // namespace

struct Regex::Code {
  pcre2_code* code = nullptr;
  pcre2_match_context* context = nullptr;
  ~Code() {
    pcre2_match_context_free(context);
    pcre2_code_free(code);
  }
};

bool Regex::compile(const std::string& pattern, Regex* out, std::string* error) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  auto code = std::make_shared<Code>();
  code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0, &err,
                             &offset, nullptr);
  if (code->code == nullptr) {
    *error = "bad regular expression /" + pattern + "/: " + pcre2_message(err) + " at offset " +
             std::to_string(offset);
    return false;
  }
  code->context = pcre2_match_context_create(nullptr);
  if (code->context == nullptr) {
    *error = "out of memory compiling /" + pattern + "/";
    return false;
  }
  pcre2_set_match_limit(code->context, kMatchLimit);
  pcre2_set_depth_limit(code->context, kDepthLimit);
  out->code_ = std::move(code);
  out->pattern_ = pattern;
  return true;
}

Regex::Match Regex::search(std::string_view subject, std::string* error) const {
  if (!code_) {
    *error = "no pattern";
    return Match::Error;
  }
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_->code, nullptr);
  if (md == nullptr) {
    *error = "out of memory";
    return Match::Error;
  }
  int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, md,
                       code_->context);
  pcre2_match_data_free(md);
  if (rc >= 0) return Match::Yes;
  if (rc == PCRE2_ERROR_NOMATCH) return Match::No;
  *error = pcre2_message(rc);
  return Match::Error;
}

}  // namespace observer
