#include "supervisor/line_splitter.h"

#include <cstring>

namespace observer {

void LineSplitter::feed(const char* data, size_t len, const Emit& emit) {
  while (len > 0) {
    const char* nl = static_cast<const char*>(std::memchr(data, '\n', len));
    size_t take = nl != nullptr ? static_cast<size_t>(nl - data) + 1 : len;
    // Never hold more than max_line_ bytes of one line.
    size_t room = max_line_ - partial_.size();
    if (take > room && !(nl != nullptr && take - 1 == room)) {
      partial_.append(data, room);
      data += room;
      len -= room;
      partial_ += '\n';
      emit(std::move(partial_));
      partial_.clear();
      continue;
    }
    partial_.append(data, take);
    data += take;
    len -= take;
    if (nl != nullptr) {
      emit(std::move(partial_));
      partial_.clear();
    }
  }
}

bool LineSplitter::take_partial(std::string* line) {
  if (partial_.empty()) return false;
  *line = std::move(partial_);
  partial_.clear();
  *line += '\n';
  return true;
}

}  // namespace observer
