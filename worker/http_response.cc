#include "http_response.h"

#include <strings.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace observer {
namespace {

ResponseParser* self_of(http_parser* p) { return static_cast<ResponseParser*>(p->data); }

}  // namespace

const http_parser_settings ResponseParser::kSettings = [] {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = &ResponseParser::cb_message_begin;
  s.on_status = &ResponseParser::cb_status;
  s.on_header_field = &ResponseParser::cb_header_field;
  s.on_header_value = &ResponseParser::cb_header_value;
  s.on_headers_complete = &ResponseParser::cb_headers_complete;
  s.on_body = &ResponseParser::cb_body;
  s.on_message_complete = &ResponseParser::cb_message_complete;
  return s;
}();

ResponseParser::ResponseParser() {
  // http-parser's own bound is on the whole header block (80 KiB). Ours is
  // curl's, per line (kMaxHeaderLineBytes), with at most kMaxKeptHeaderBytes
  // kept: memory stays bounded and the probe's timeout bounds the rest. The
  // setting is the library's one process-wide knob; every parser wants the
  // same value, so setting it again is harmless.
  http_parser_set_max_header_size(std::numeric_limits<uint32_t>::max());
}

void ResponseParser::start(bool head_request, uint64_t max_body, ProbeResult* out) {
  http_parser_init(&parser_, HTTP_RESPONSE);
  // With both Transfer-Encoding: chunked and a Content-Length, the chunks
  // count (RFC 9112 6.3), as in curl; http-parser would refuse the reply.
  parser_.allow_chunked_length = 1;
  parser_.data = this;
  r_ = out;
  state_ = State::More;
  head_ = head_request;
  max_body_ = max_body;
  prefix_.clear();
  field_.clear();
  value_.clear();
  in_value_ = false;
  line_bytes_ = 0;
  kept_bytes_ = 0;
  header_too_large_ = false;
  in_headers_ = false;
  headers_done_ = false;
  interim_ = false;
  body_capped_ = false;
  body_bytes_ = 0;
  content_length_.reset();
  line_colon_ = false;
  bad_name_ = false;
  bad_name_bytes_ = 0;
}

// curl 7.88 reads a reply that does not begin with "HTTP/" (any case) as
// HTTP/0.9 and refuses it; http-parser would only say "invalid constant".
bool ResponseParser::check_http_prefix(const char* data, size_t len) const {
  static constexpr const char kPrefix[] = "HTTP/";
  for (size_t i = 0; i < len; ++i) {
    char c = data[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != kPrefix[prefix_.size() + i]) return false;
  }
  return true;
}

// The first five bytes are held back until they are all in, so the
// HTTP/0.9 verdict does not depend on how the bytes arrive.
ResponseParser::State ResponseParser::feed(const char* data, size_t len) {
  if (state_ != State::More || len == 0) return state_;
  if (bad_name_) return look_for_colon(data, len);
  if (prefix_.size() < kPrefixBytes) {
    size_t take = std::min(len, kPrefixBytes - prefix_.size());
    if (!check_http_prefix(data, take))
      return fail_with(TransportCode::UnsupportedProtocol, "Received HTTP/0.9 when not allowed");
    prefix_.append(data, take);
    data += take;
    len -= take;
    if (prefix_.size() < kPrefixBytes) return state_;
    if (parse(prefix_.data(), prefix_.size()) != State::More || len == 0) return state_;
  }
  return parse(data, len);
}

ResponseParser::State ResponseParser::parse(const char* data, size_t len) {
  size_t parsed = http_parser_execute(&parser_, &kSettings, data, len);
  if (state_ != State::More) return state_;  // a callback finished it (done, capped, too large)
  if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK) return parser_failed(data, len, parsed);
  if (parser_.upgrade) {
    // A 101 (or an Upgrade the parser honours) ends HTTP on this
    // connection; the response so far is what the probe gets.
    state_ = headers_done_ ? State::Done : State::More;
    return state_;
  }
  if (!headers_done_ || interim_) note_line_colon(data, len);
  return state_;
}

// Whether the header line still being read has a colon so far: an invalid
// character after one is in the value, before one in the name.
// A line ends at CR or LF: http-parser (built lenient, as Debian's is)
// takes a CR followed by anything as the end of a header line.
void ResponseParser::note_line_colon(const char* data, size_t len) {
  const char* lf = nullptr;
  for (size_t i = len; i > 0; --i) {
    if (data[i - 1] == '\n' || data[i - 1] == '\r') {
      lf = data + i - 1;
      break;
    }
  }
  const char* tail = lf != nullptr ? lf + 1 : data;
  size_t tail_len = len - static_cast<size_t>(tail - data);
  bool colon = std::memchr(tail, ':', tail_len) != nullptr;
  line_colon_ = lf != nullptr ? colon : (line_colon_ || colon);
}

// http-parser stopped at an invalid character in a header line. curl's
// words depend on the whole line: a NUL anywhere is "Nul byte in header", a
// line with no colon is "Header without colon". `at` is where it stopped.
ResponseParser::State ResponseParser::bad_header_character(const char* data, size_t at, size_t len) {
  if (data[at] == '\0') return fail_with(TransportCode::WeirdServerReply, "Nul byte in header");
  note_line_colon(data, at);
  if (line_colon_) return fail_with(TransportCode::WeirdServerReply, "Invalid character in header value");
  // In the name: the rest of the line, however it arrives, tells whether a
  // colon follows.
  bad_name_ = true;
  bad_name_bytes_ = 0;
  return look_for_colon(data + at, len - at);
}

ResponseParser::State ResponseParser::look_for_colon(const char* data, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (data[i] == ':') return fail_with(TransportCode::WeirdServerReply, "Invalid character in header name");
    if (data[i] == '\n' || data[i] == '\r') return fail_with(TransportCode::WeirdServerReply, "Header without colon");
  }
  bad_name_bytes_ += len;
  if (bad_name_bytes_ > kMaxHeaderLineBytes) return fail_with(TransportCode::WeirdServerReply, "Header without colon");
  return state_;
}

ResponseParser::State ResponseParser::eof() {
  if (state_ != State::More) return state_;
  if (bad_name_) return fail_with(TransportCode::WeirdServerReply, "Header without colon");
  if (prefix_.empty()) return fail_with(TransportCode::GotNothing, "Empty reply from server");
  if (prefix_.size() < kPrefixBytes && parse(prefix_.data(), prefix_.size()) != State::More) return state_;
  http_parser_execute(&parser_, &kSettings, nullptr, 0);  // ends a read-until-close body
  if (state_ != State::More) return state_;
  return eof_failure();
}

ResponseParser::State ResponseParser::eof_failure() {
  if (!headers_done_ || interim_)
    return fail_with(TransportCode::PartialFile, "transfer closed before the end of the response headers");
  if (parser_.flags & F_CHUNKED)
    return fail_with(TransportCode::PartialFile, "transfer closed with outstanding read data remaining");
  // In a Content-Length body, http-parser counts the bytes still to come.
  return fail_with(TransportCode::PartialFile,
              "transfer closed with " + std::to_string(parser_.content_length) + " bytes remaining to read");
}

ResponseParser::State ResponseParser::parser_failed(const char* data, size_t len, size_t parsed) {
  http_errno e = HTTP_PARSER_ERRNO(&parser_);
  switch (e) {
    case HPE_INVALID_STATUS:
      return fail_with(TransportCode::UnsupportedProtocol, "Unsupported response code in HTTP response");
    case HPE_INVALID_VERSION:
      return fail_with(TransportCode::UnsupportedProtocol, "Unsupported HTTP version in response");
    case HPE_INVALID_CONSTANT:
      // Within the status line ("HTTP/" spelled otherwise): a bad status line.
      if (!in_headers_ && !headers_done_)
        return fail_with(TransportCode::UnsupportedProtocol, "Unsupported response code in HTTP response");
      break;
    case HPE_INVALID_HEADER_TOKEN:
      // After the final response's headers: a trailer line of a chunked
      // body. One verdict for any bad one, whatever the line and however
      // the bytes arrive (the colon bookkeeping covers header blocks only).
      if (headers_done_ && !interim_)
        return fail_with(TransportCode::WeirdServerReply, "Invalid trailer line in chunked response");
      if (parsed < len) return bad_header_character(data, parsed, len);
      break;
    case HPE_INVALID_CONTENT_LENGTH:
      return fail_with(TransportCode::WeirdServerReply, "Invalid Content-Length: value");
    case HPE_INVALID_CHUNK_SIZE:
      return fail_with(TransportCode::RecvError, "Illegal or missing hexadecimal sequence in chunked-encoding");
    default:
      break;
  }
  return fail_with(TransportCode::WeirdServerReply, http_errno_description(e));
}

ResponseParser::State ResponseParser::fail_with(TransportCode code, const std::string& detail) {
  r_->set_failure(code, detail);
  state_ = State::Failed;
  return state_;
}

int ResponseParser::cb_message_begin(http_parser* p) {
  ResponseParser* self = self_of(p);
  // A new response (after a 1xx): only the final one's headers count.
  self->r_->headers.clear();
  self->r_->headers.reserve(8);  // a typical response's count, in one allocation
  self->r_->status = 0;
  self->kept_bytes_ = 0;
  self->line_bytes_ = 0;
  self->field_.clear();
  self->value_.clear();
  self->in_value_ = false;
  self->in_headers_ = false;
  self->headers_done_ = false;
  self->interim_ = false;
  return 0;
}

bool ResponseParser::count_line_bytes(size_t len) {
  line_bytes_ += len;
  if (line_bytes_ <= kMaxHeaderLineBytes) return true;
  // Words shared with the curl path (probe.cc), where this is curl's limit.
  r_->transport_ok = false;
  r_->curl_code = static_cast<int>(TransportCode::OutOfMemory);
  r_->transport_error = kHeaderTooLarge;
  state_ = State::Failed;
  return false;
}

int ResponseParser::cb_status(http_parser* p, const char*, size_t len) {
  return self_of(p)->count_line_bytes(len) ? 0 : -1;
}

int ResponseParser::cb_header_field(http_parser* p, const char* at, size_t len) {
  ResponseParser* self = self_of(p);
  if (self->in_value_) self->keep_header();  // a new line begins
  if (!self->in_headers_) self->line_bytes_ = 0;  // the status line ended
  self->in_headers_ = true;
  if (!self->count_line_bytes(len)) return -1;
  if (self->field_.size() < kMaxHeaderLineBytes) self->field_.append(at, len);
  return 0;
}

int ResponseParser::cb_header_value(http_parser* p, const char* at, size_t len) {
  ResponseParser* self = self_of(p);
  self->in_value_ = true;
  if (!self->count_line_bytes(len)) return -1;
  self->value_.append(at, len);
  return 0;
}

// Keeps the header line just read, as the curl path does (probe.cc): names
// and values trimmed, and no more than kMaxKeptHeaderBytes of them.
void ResponseParser::keep_header() {
  size_t line = field_.size() + value_.size() + 4;  // "name: value\r\n", about
  if (kept_bytes_ + line <= kMaxKeptHeaderBytes) {
    kept_bytes_ += line;
    r_->headers.emplace_back(trim_blanks(field_), trim_blanks(value_));
  }
  field_.clear();
  value_.clear();
  in_value_ = false;
  line_bytes_ = 0;
}

int ResponseParser::cb_headers_complete(http_parser* p) {
  ResponseParser* self = self_of(p);
  if (self->in_value_ || !self->field_.empty()) self->keep_header();
  self->headers_done_ = true;
  self->r_->status = p->status_code;
  self->interim_ = p->status_code >= 100 && p->status_code < 200 && p->status_code != 101;
  if (self->interim_) return 0;  // http-parser knows a 1xx has no body
  self->body_bytes_ = 0;
  if (p->flags & F_CONTENTLENGTH) self->content_length_ = p->content_length;
  // 1: no body follows (the answer to a HEAD).
  return self->head_ ? 1 : 0;
}

int ResponseParser::cb_body(http_parser* p, const char* at, size_t len) {
  ResponseParser* self = self_of(p);
  ProbeResult* r = self->r_;
  self->body_bytes_ += len;
  uint64_t room = self->max_body_ - r->body.size();
  if (len <= room) {
    r->body.append(at, len);
    return 0;
  }
  // The cap: keep what fits, stop reading; the result is complete.
  r->body.append(at, static_cast<size_t>(room));
  r->body_truncated = true;
  self->body_capped_ = true;
  self->state_ = State::Done;
  return -1;
}

int ResponseParser::cb_message_complete(http_parser* p) {
  ResponseParser* self = self_of(p);
  if (self->interim_) return 0;  // the final response follows
  self->state_ = State::Done;
  return -1;  // stop: anything after the response is not ours to read
}

}  // namespace observer
