#include "probe_result.h"

#include <strings.h>

namespace observer {

const char kHeaderTooLarge[] = "Response header too large (a header line over the 100 KiB limit)";

const char* transport_code_words(TransportCode code) {
  switch (code) {
    case TransportCode::Ok: return "No error";
    case TransportCode::UnsupportedProtocol: return "Unsupported protocol";
    case TransportCode::UrlMalformat: return "URL using bad/illegal format or missing URL";
    case TransportCode::CouldntResolveHost: return "Couldn't resolve host name";
    case TransportCode::CouldntConnect: return "Couldn't connect to server";
    case TransportCode::WeirdServerReply: return "Weird server reply";
    case TransportCode::PartialFile: return "Transferred a partial file";
    case TransportCode::OutOfMemory: return "Out of memory";
    case TransportCode::OperationTimedOut: return "Timeout was reached";
    case TransportCode::TooManyRedirects: return "Number of redirects hit maximum amount";
    case TransportCode::GotNothing: return "Server returned nothing (no headers, no data)";
    case TransportCode::SendError: return "Failed sending data to the peer";
    case TransportCode::RecvError: return "Failure when receiving data from the peer";
  }
  return "Unknown error";
}

const std::string* ProbeResult::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return &v;
  return nullptr;
}

void ProbeResult::set_failure(TransportCode code, const std::string& detail) {
  transport_ok = false;
  curl_code = static_cast<int>(code);
  transport_error = transport_code_words(code);
  if (!detail.empty()) transport_error += ": " + detail;
}

std::string trim_blanks(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace observer
