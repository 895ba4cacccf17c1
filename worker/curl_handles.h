// RAII for libcurl's handles: an easy handle, a multi handle and a header
// list each have exactly one owner that cleans them up.
//
// Without curl.h: a header that only holds or passes handles includes this
// one, and only the files that call libcurl include curl.h. The handle
// types are declared exactly as curl.h and multi.h declare them (a second
// identical typedef is allowed; a different one fails to compile).
#pragma once

#include <memory>

#if defined(BUILDING_LIBCURL) || defined(CURL_STRICTER) || defined(CURL_NO_OLDIES)
typedef struct Curl_easy CURL;
typedef struct Curl_multi CURLM;
#else
typedef void CURL;
typedef void CURLM;
#endif
struct curl_slist;

namespace observer {

struct CurlEasyCleanup {
  void operator()(CURL* easy) const noexcept;
};
struct CurlMultiCleanup {
  void operator()(CURLM* multi) const noexcept;
};
struct CurlSlistFree {
  void operator()(curl_slist* list) const noexcept;
};

using CurlEasy = std::unique_ptr<CURL, CurlEasyCleanup>;
using CurlMulti = std::unique_ptr<CURLM, CurlMultiCleanup>;
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistFree>;

}  // namespace observer
