#include "worker/curl_handles.h"

#include <curl/curl.h>

namespace observer {

void CurlEasyCleanup::operator()(CURL* easy) const noexcept { curl_easy_cleanup(easy); }
void CurlMultiCleanup::operator()(CURLM* multi) const noexcept { curl_multi_cleanup(multi); }
void CurlSlistFree::operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }

}  // namespace observer
