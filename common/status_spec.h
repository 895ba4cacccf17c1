// The `status` expectation: "200", "200,204", "200-299", "2xx" or a comma list
// mixing them. An empty spec means "not checked".
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace observer {

class StatusSpec {
 public:
  static bool parse(std::string_view text, StatusSpec* out, std::string* error);

  bool empty() const { return ranges_.empty(); }
  bool matches(long code) const;
  // The text it was parsed from, normalised (spaces removed).
  const std::string& text() const { return text_; }

 private:
  std::vector<std::pair<int, int>> ranges_;  // inclusive bounds
  std::string text_;
};

}  // namespace observer
