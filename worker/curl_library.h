// libcurl, loaded when first needed instead of at exec.
//
// observer-worker does not link libcurl. curl_library.cc defines every curl
// function the worker calls as a stub that, on first use, loads libcurl with
// dlopen (its soname, OBSERVER_LIBCURL_SONAME) and forwards to it: the lazy
// loading that Implib.so-style stubs give other programs. A worker whose
// targets the native HTTP client probes alone (plain http) then never maps
// libcurl and what it pulls in (OpenSSL, GnuTLS, nghttp2, LDAP, Kerberos,
// libssh2, …): about 8 MiB of resident pages per worker, most of the RSS
// of a small configuration.
//
// load_curl_library() is what callers use to load it on purpose and hear why
// it failed; a stub called before it loads the library itself and, if that
// fails, returns curl's own failure value (NULL, CURLE_FAILED_INIT,
// CURLM_INTERNAL_ERROR). Once loaded, libcurl stays loaded: a threaded DNS
// lookup that curl detached (CURLOPT_QUICK_EXIT) may still be running its
// code, so it is never dlclose'd.
//
// Thread-safe: the load happens once (std::call_once); afterwards the table
// of entry points is only read.
#pragma once

#include <string>

namespace observer {

// Loads libcurl and runs curl_global_init(CURL_GLOBAL_DEFAULT), once. False,
// with the loader's reason in `error`, if libcurl cannot be loaded or
// initialised; every later call gives the same answer.
bool load_curl_library(std::string* error);

// Whether libcurl has been loaded into this process (tests, diagnostics).
bool curl_library_loaded();

// curl_global_cleanup() if libcurl was loaded; main() calls it at exit.
void cleanup_curl_library();

}  // namespace observer
