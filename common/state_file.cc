#include "common/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "common/unique_fd.h"

namespace observer {
namespace {

constexpr std::string_view kFormatName = "observer-state ";
constexpr uint32_t kFormatVersion = 1;
constexpr std::string_view kHeaderLine = "observer-state 1\n";
constexpr size_t kWordBytes = 8;  // the length before the payload, the checksum after it
constexpr uint64_t kMaxPayload = kStateFileMaxBytes - kHeaderLine.size() - 2 * kWordBytes;

// FNV-1a 64: any single changed byte changes the sum (each step is a
// bijection of the state), which is what a torn or bit-rotted file needs.
class Fnv1a64 {
 public:
  void add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      sum_ ^= c;
      sum_ *= 1099511628211ull;
    }
  }
  uint64_t value() const { return sum_; }

 private:
  uint64_t sum_ = 14695981039346656037ull;
};

void append_u64le(std::string* out, uint64_t v) {
  for (size_t i = 0; i < kWordBytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t read_u64le(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < kWordBytes; ++i) v |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  return v;
}

std::string about(const std::string& path, const std::string& what) { return "state_file " + path + ": " + what; }

// `step` failed with errno `err`.
std::string failed(const std::string& path, const std::string& step, int err) {
  return about(path, step + ": " + std::strerror(err));
}

// Leaves errno set on failure.
bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;  // a regular file never takes nothing; do not spin
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Removes the temp file on every way out before the rename took it.
struct TempFileGuard {
  const std::string& path;
  bool armed = true;
  ~TempFileGuard() {
    if (armed) ::unlink(path.c_str());
  }
};

// O_EXCL: never through a symlink or into a file someone else holds open. A
// file of this name is the leftover of a process with our pid that died
// between create and rename (no live process shares our pid), so it goes.
UniqueFd create_temp(const std::string& tmp) {
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY;
  UniqueFd fd(::open(tmp.c_str(), flags, 0600));
  if (!fd && errno == EEXIST && ::unlink(tmp.c_str()) == 0) fd.reset(::open(tmp.c_str(), flags, 0600));
  return fd;
}

std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Makes the rename durable. EINVAL: the file system cannot sync a
// directory (it then orders its metadata itself); nothing to do.
bool sync_directory(const std::string& path, std::string* error) {
  const std::string dir = directory_of(path);
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    *error = failed(path, "open directory " + dir, errno);
    return false;
  }
  if (::fsync(fd.get()) != 0 && errno != EINVAL) {
    *error = failed(path, "fsync directory " + dir, errno);
    return false;
  }
  return true;
}

// Writes the container into `fd` and makes it durable. Returns 0, or the
// errno of the failed step (named in `*step`), taken before `fd` closes.
int write_container(UniqueFd fd, const std::string& tmp, std::string_view payload, std::string* step) {
  std::string head(kHeaderLine);
  append_u64le(&head, payload.size());
  Fnv1a64 sum;
  sum.add(head);
  sum.add(payload);
  std::string tail;
  append_u64le(&tail, sum.value());
  *step = "write " + tmp;
  if (!write_all(fd.get(), head) || !write_all(fd.get(), payload) || !write_all(fd.get(), tail)) return errno;
  *step = "fsync " + tmp;
  if (::fsync(fd.get()) != 0) return errno;
  // A close error (NFS reports late write errors here) fails the write too.
  *step = "close " + tmp;
  return ::close(fd.release()) == 0 ? 0 : errno;
}

// Why `bytes` does not hold the header line of this format, or "" when it
// does; then `*header_end` is where the length starts.
std::string check_header(std::string_view bytes, size_t* header_end) {
  if (bytes.empty()) return "truncated: the file is empty";
  std::string_view name = bytes.substr(0, kFormatName.size());
  if (kFormatName.compare(0, name.size(), name) != 0) return "not an observer state file";
  if (name.size() < kFormatName.size()) return "truncated in its header line";
  size_t pos = kFormatName.size();
  uint32_t version = 0;
  size_t digits = 0;
  for (; pos < bytes.size() && bytes[pos] >= '0' && bytes[pos] <= '9' && digits < 9; ++pos, ++digits)
    version = version * 10 + static_cast<uint32_t>(bytes[pos] - '0');
  if (pos == bytes.size()) return "truncated in its header line";
  if (digits == 0 || bytes[pos] != '\n') return "not an observer state file (malformed header line)";
  if (version != kFormatVersion)
    return "format version " + std::to_string(version) + ", this observer reads version " +
           std::to_string(kFormatVersion);
  *header_end = pos + 1;
  return "";
}

// Why `bytes` is not a whole, intact container, or "" when it is; then
// `*payload_at` and `*payload_size` locate the payload.
std::string check_container(std::string_view bytes, size_t* payload_at, uint64_t* payload_size) {
  size_t at = 0;
  std::string bad_header = check_header(bytes, &at);
  if (!bad_header.empty()) return bad_header;
  std::string_view rest = bytes.substr(at);
  if (rest.size() < kWordBytes) return "truncated: the payload length is missing";
  const uint64_t size = read_u64le(rest);
  rest.remove_prefix(kWordBytes);
  if (size > rest.size() || rest.size() - size < kWordBytes)
    return "truncated: the header announces a payload of " + std::to_string(size) +
           " bytes and its checksum, " + std::to_string(rest.size()) + " bytes follow";
  if (rest.size() - size > kWordBytes)
    return std::to_string(rest.size() - size - kWordBytes) + " trailing bytes after the checksum";
  Fnv1a64 sum;
  sum.add(bytes.substr(0, bytes.size() - kWordBytes));
  if (sum.value() != read_u64le(bytes.substr(bytes.size() - kWordBytes))) return "checksum mismatch: the file is corrupt";
  *payload_at = at + kWordBytes;
  *payload_size = size;
  return "";
}

std::string too_large(uint64_t size) {
  return "the file is " + std::to_string(size) + " bytes, larger than the " +
         std::to_string(kStateFileMaxBytes / (1024 * 1024)) + " MiB limit";
}

// Reads `fd`, a regular file that fstat found `size` bytes long, into one
// buffer of that size. Our writes replace the file and never change it in
// place, so a file that grows meanwhile is someone else's doing and is
// refused; one that shrinks fails the container's checks as truncated.
bool read_whole(const std::string& path, int fd, size_t size, std::string* bytes, std::string* why) {
  bytes->resize(size + 1);  // room for one byte more: how growth shows
  size_t got = 0;
  while (got < bytes->size()) {
    ssize_t n = ::read(fd, &(*bytes)[got], bytes->size() - got);
    if (n == 0) break;
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (errno != EINTR) {
      *why = failed(path, "read", errno);
      return false;
    }
  }
  if (got > size) {
    *why = about(path, "the file grew while it was read");
    return false;
  }
  bytes->resize(got);
  return true;
}

// Opens `path` for reading if it is a regular file within the limit
// (Loaded: opened, to be read). A FIFO would block open() without
// O_NONBLOCK, which changes nothing for a regular file.
StateFileRead open_state_file(const std::string& path, UniqueFd* out, struct stat* st, std::string* why) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd && errno == ENOENT) return StateFileRead::Missing;
  if (!fd) {
    *why = failed(path, "open", errno);
    return StateFileRead::Invalid;
  }
  if (::fstat(fd.get(), st) != 0) {
    *why = failed(path, "fstat", errno);
    return StateFileRead::Invalid;
  }
  if (!S_ISREG(st->st_mode)) {
    *why = about(path, S_ISDIR(st->st_mode) ? "is a directory, not a file" : "not a regular file");
    return StateFileRead::Invalid;
  }
  if (static_cast<uint64_t>(st->st_size) > kStateFileMaxBytes) {
    *why = about(path, too_large(static_cast<uint64_t>(st->st_size)));
    return StateFileRead::Invalid;
  }
  *out = std::move(fd);
  return StateFileRead::Loaded;
}

bool write_or_fail(const std::string& path, std::string_view payload, std::string* error) {
  if (payload.size() > kMaxPayload) {
    *error = about(path, "a payload of " + std::to_string(payload.size()) + " bytes does not fit in the " +
                             std::to_string(kStateFileMaxBytes / (1024 * 1024)) + " MiB limit");
    return false;
  }
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd = create_temp(tmp);
  if (!fd) {
    *error = failed(path, "create " + tmp, errno);
    return false;
  }
  TempFileGuard guard{tmp};
  std::string step;
  if (int err = write_container(std::move(fd), tmp, payload, &step); err != 0) {
    *error = failed(path, step, err);
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = failed(path, "rename " + tmp + " over it", errno);
    return false;
  }
  guard.armed = false;
  return sync_directory(path, error);
}

StateFileRead read_or_refuse(const std::string& path, std::string* payload, std::string* why) {
  UniqueFd fd;
  struct stat st {};
  StateFileRead opened = open_state_file(path, &fd, &st, why);
  if (opened != StateFileRead::Loaded) return opened;
  std::string bytes;
  if (!read_whole(path, fd.get(), static_cast<size_t>(st.st_size), &bytes, why)) return StateFileRead::Invalid;
  size_t at = 0;
  uint64_t size = 0;
  std::string bad = check_container(bytes, &at, &size);
  if (!bad.empty()) {
    *why = about(path, bad);
    return StateFileRead::Invalid;
  }
  bytes.erase(0, at);
  bytes.resize(static_cast<size_t>(size));
  payload->swap(bytes);
  return StateFileRead::Loaded;
}

}  // namespace

// The only exception left is std::bad_alloc (a payload near the limit); it
// must not cross the libuv callback that calls these.
bool write_state_file(const std::string& path, std::string_view payload, std::string* error) {
  std::string unused;
  if (error == nullptr) error = &unused;
  try {
    return write_or_fail(path, payload, error);
  } catch (const std::exception& e) {
    *error = about(path, e.what());
    return false;
  }
}

StateFileRead read_state_file(const std::string& path, std::string* payload, std::string* why) {
  std::string unused;
  if (why == nullptr) why = &unused;
  payload->clear();
  try {
    return read_or_refuse(path, payload, why);
  } catch (const std::exception& e) {
    payload->clear();
    *why = about(path, e.what());
    return StateFileRead::Invalid;
  }
}

}  // namespace observer
