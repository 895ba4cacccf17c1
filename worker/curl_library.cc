// The stubs: every curl function observer-worker calls, defined here with
// curl's own signature, loading libcurl on first use (see curl_library.h).
// A curl function used elsewhere in the worker and missing here fails the
// link with an undefined symbol: add it to OBS_CURL_FUNCTIONS.
#define CURL_DISABLE_TYPECHECK  // the stubs below define, not call, curl_easy_setopt & co.
#include "curl_library.h"

#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <mutex>

#ifndef OBSERVER_LIBCURL_SONAME
#error "OBSERVER_LIBCURL_SONAME must name the libcurl to load (CMake sets it)"
#endif

// X(return type, name, (parameters), (arguments), value returned when libcurl cannot be loaded)
#define OBS_CURL_FUNCTIONS(X)                                                                              \
  X(CURLcode, curl_global_init, (long flags), (flags), CURLE_FAILED_INIT)                                   \
  X(void, curl_global_cleanup, (void), (), void())                                                          \
  X(CURL*, curl_easy_init, (void), (), nullptr)                                                             \
  X(void, curl_easy_cleanup, (CURL * easy), (easy), void())                                                 \
  X(void, curl_easy_reset, (CURL * easy), (easy), void())                                                   \
  X(const char*, curl_easy_strerror, (CURLcode code), (code), "libcurl could not be loaded")                \
  X(CURLM*, curl_multi_init, (void), (), nullptr)                                                           \
  X(CURLMcode, curl_multi_cleanup, (CURLM * multi), (multi), CURLM_INTERNAL_ERROR)                          \
  X(CURLMcode, curl_multi_add_handle, (CURLM * multi, CURL * easy), (multi, easy), CURLM_INTERNAL_ERROR)    \
  X(CURLMcode, curl_multi_remove_handle, (CURLM * multi, CURL * easy), (multi, easy), CURLM_INTERNAL_ERROR) \
  X(CURLMcode, curl_multi_assign, (CURLM * multi, curl_socket_t fd, void* p), (multi, fd, p),              \
    CURLM_INTERNAL_ERROR)                                                                                   \
  X(CURLMcode, curl_multi_socket_action, (CURLM * multi, curl_socket_t fd, int mask, int* running),         \
    (multi, fd, mask, running), CURLM_INTERNAL_ERROR)                                                       \
  X(CURLMsg*, curl_multi_info_read, (CURLM * multi, int* left), (multi, left), nullptr)                     \
  X(const char*, curl_multi_strerror, (CURLMcode code), (code), "libcurl could not be loaded")              \
  X(curl_slist*, curl_slist_append, (curl_slist * list, const char* s), (list, s), nullptr)                \
  X(void, curl_slist_free_all, (curl_slist * list), (list), void())                                         \
  X(void, curl_free, (void* p), (p), void())                                                                \
  X(CURLU*, curl_url, (void), (), nullptr)                                                                  \
  X(void, curl_url_cleanup, (CURLU * url), (url), void())                                                   \
  X(CURLUcode, curl_url_set, (CURLU * url, CURLUPart what, const char* part, unsigned int flags),           \
    (url, what, part, flags), CURLUE_OUT_OF_MEMORY)                                                        \
  X(CURLUcode, curl_url_get, (CURLU * url, CURLUPart what, char** part, unsigned int flags),                \
    (url, what, part, flags), CURLUE_OUT_OF_MEMORY) /* curl 7.x: a non-const handle */                     \
  X(curl_version_info_data*, curl_version_info, (CURLversion v), (v), nullptr)

// The variadic three take one argument after the option; they are forwarded
// by hand below.
#define OBS_CURL_VARIADIC(X) \
  X(curl_easy_setopt)        \
  X(curl_easy_getinfo)       \
  X(curl_multi_setopt)

namespace observer {
namespace {

struct CurlLibrary {
#define OBS_CURL_MEMBER(ret, name, params, args, fail) decltype(&::name) name = nullptr;
  OBS_CURL_FUNCTIONS(OBS_CURL_MEMBER)
#undef OBS_CURL_MEMBER
#define OBS_CURL_MEMBER(name) decltype(&::name) name = nullptr;
  OBS_CURL_VARIADIC(OBS_CURL_MEMBER)
#undef OBS_CURL_MEMBER

  std::once_flag once;
  bool loaded = false;
  std::string error;  // why it is not loaded
};

// Written once, under `once`; read-only afterwards.
CurlLibrary& library() {
  static CurlLibrary lib;
  return lib;
}

template <typename Fn>
bool resolve(void* handle, const char* name, Fn* out, std::string* error) {
  void* sym = dlsym(handle, name);
  if (sym == nullptr) {
    *error = std::string(OBSERVER_LIBCURL_SONAME " has no ") + name + " (libcurl 7.88 or later is needed)";
    return false;
  }
  *out = reinterpret_cast<Fn>(sym);
  return true;
}

void load_once(CurlLibrary* lib) {
  // RTLD_LOCAL: libcurl's symbols stay out of the global scope; the stubs
  // here stay the only curl_* the rest of the worker sees.
  void* handle = dlopen(OBSERVER_LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    lib->error = std::string("cannot load libcurl: ") + (why != nullptr ? why : OBSERVER_LIBCURL_SONAME);
    return;
  }
  bool ok = true;
#define OBS_CURL_RESOLVE(ret, name, params, args, fail) ok = ok && resolve(handle, #name, &lib->name, &lib->error);
  OBS_CURL_FUNCTIONS(OBS_CURL_RESOLVE)
#undef OBS_CURL_RESOLVE
#define OBS_CURL_RESOLVE(name) ok = ok && resolve(handle, #name, &lib->name, &lib->error);
  OBS_CURL_VARIADIC(OBS_CURL_RESOLVE)
#undef OBS_CURL_RESOLVE
  if (!ok) return;  // never dlclose: see curl_library.h
  if (lib->curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    lib->error = "curl_global_init failed";
    return;
  }
  lib->loaded = true;
}

bool ensure_loaded() {
  CurlLibrary& lib = library();
  std::call_once(lib.once, load_once, &lib);
  return lib.loaded;
}

}  // namespace

bool load_curl_library(std::string* error) {
  if (ensure_loaded()) return true;
  *error = library().error;
  return false;
}

bool curl_library_loaded() {
  CurlLibrary& lib = library();
  // Only ever read after call_once ran, or before any load: a plain read of
  // `loaded` from the loop thread, which is the only thread that loads.
  return lib.loaded;
}

void cleanup_curl_library() {
  if (curl_library_loaded()) library().curl_global_cleanup();
}

}  // namespace observer

using observer::ensure_loaded;
using observer::library;

extern "C" {

#define OBS_CURL_STUB(ret, name, params, args, fail) \
  ret name params {                                  \
    if (!ensure_loaded()) return fail;               \
    return library().name args;                      \
  }
OBS_CURL_FUNCTIONS(OBS_CURL_STUB)
#undef OBS_CURL_STUB

// One argument follows the option, its type given by the option's range
// (curl.h's CURLOPTTYPE_*); CURLMoption numbers use the same ranges.
// Function pointers travel as void*, as on every platform with dlsym.
#define OBS_CURL_FORWARD_BY_TYPE(fn, handle, option, ap)                                  \
  ((option) < CURLOPTTYPE_OBJECTPOINT ? library().fn(handle, option, va_arg(ap, long))    \
   : (option) < CURLOPTTYPE_OFF_T     ? library().fn(handle, option, va_arg(ap, void*))   \
   : (option) < CURLOPTTYPE_BLOB      ? library().fn(handle, option, va_arg(ap, curl_off_t)) \
                                      : library().fn(handle, option, va_arg(ap, void*)))

CURLcode curl_easy_setopt(CURL* easy, CURLoption option, ...) {
  if (!ensure_loaded()) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, option);
  CURLcode rc = OBS_CURL_FORWARD_BY_TYPE(curl_easy_setopt, easy, option, ap);
  va_end(ap);
  return rc;
}

CURLMcode curl_multi_setopt(CURLM* multi, CURLMoption option, ...) {
  if (!ensure_loaded()) return CURLM_INTERNAL_ERROR;
  va_list ap;
  va_start(ap, option);
  CURLMcode rc = OBS_CURL_FORWARD_BY_TYPE(curl_multi_setopt, multi, option, ap);
  va_end(ap);
  return rc;
}

#undef OBS_CURL_FORWARD_BY_TYPE

// Every CURLINFO takes a pointer to where the answer goes.
CURLcode curl_easy_getinfo(CURL* easy, CURLINFO info, ...) {
  if (!ensure_loaded()) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, info);
  CURLcode rc = library().curl_easy_getinfo(easy, info, va_arg(ap, void*));
  va_end(ap);
  return rc;
}

}  // extern "C"
