/* LD_PRELOAD shim: every write to a TCP socket (write, writev, sendmsg)
 * takes at most 1000 bytes, as a full socket buffer would allow. On
 * loopback the kernel's buffers swallow any request the configuration can
 * make, so without this a partial write never happens in a test. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

enum { kMaxBytes = 1000 };

static int is_tcp(int fd) {
  struct sockaddr_storage a;
  socklen_t len = sizeof a;
  int type = 0;
  socklen_t tlen = sizeof type;
  return getsockname(fd, (struct sockaddr*)&a, &len) == 0 && (a.ss_family == AF_INET || a.ss_family == AF_INET6) &&
         getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_STREAM;
}

/* How many of `iov` to pass, the last one shortened in `last`, so that at
 * most kMaxBytes go. */
static int cap(const struct iovec* iov, int n, struct iovec* out) {
  size_t left = kMaxBytes;
  int i = 0;
  for (; i < n && left > 0 && i < 64; ++i) {
    out[i] = iov[i];
    if (out[i].iov_len > left) out[i].iov_len = left;
    left -= out[i].iov_len;
  }
  return i;
}

ssize_t write(int fd, const void* buf, size_t count) {
  ssize_t (*real)(int, const void*, size_t) = (ssize_t(*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
  if (count > kMaxBytes && is_tcp(fd)) count = kMaxBytes;
  return real(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec* iov, int n) {
  ssize_t (*real)(int, const struct iovec*, int) =
      (ssize_t(*)(int, const struct iovec*, int))dlsym(RTLD_NEXT, "writev");
  struct iovec capped[64];
  if (n <= 64 && is_tcp(fd)) return real(fd, capped, cap(iov, n, capped));
  return real(fd, iov, n);
}

ssize_t sendmsg(int fd, const struct msghdr* m, int flags) {
  ssize_t (*real)(int, const struct msghdr*, int) =
      (ssize_t(*)(int, const struct msghdr*, int))dlsym(RTLD_NEXT, "sendmsg");
  struct iovec capped[64];
  if (m->msg_iovlen <= 64 && is_tcp(fd)) {
    struct msghdr c = *m;
    c.msg_iov = capped;
    c.msg_iovlen = (size_t)cap(m->msg_iov, (int)m->msg_iovlen, capped);
    return real(fd, &c, flags);
  }
  return real(fd, m, flags);
}
