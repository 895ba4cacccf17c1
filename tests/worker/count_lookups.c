/* LD_PRELOAD shim: says every getaddrinfo() call on standard error
 * ("lookup-shim: getaddrinfo NAME"), so a test can count the worker's
 * lookups. With OBS_TEST_FAIL_LOOKUPS set it fails each one (EAI_AGAIN)
 * without asking anybody: a failed lookup without a DNS query. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*getaddrinfo_fn)(const char*, const char*, const struct addrinfo*, struct addrinfo**);

int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints, struct addrinfo** res) {
  char line[512];
  int n = snprintf(line, sizeof line, "lookup-shim: getaddrinfo %s\n", node != NULL ? node : "(null)");
  if (n > 0) {
    ssize_t unused = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)unused;
  }
  if (getenv("OBS_TEST_FAIL_LOOKUPS") != NULL) return EAI_AGAIN;
  getaddrinfo_fn real = (getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
  if (real == NULL) return EAI_SYSTEM;
  return real(node, service, hints, res);
}
