// What the native client sends (the bytes libcurl sends for the same target,
// plus Connection: close), which targets it may probe, and how a redirect's
// Location is resolved.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <netinet/in.h>

#include <cstring>

#include <string>
#include <vector>

#include "config.h"
#include "http_request.h"

using namespace observer;

static TargetConfig target(std::vector<std::string> args) {
  Invocation inv;
  std::string err;
  if (!load_invocation(args, {}, &inv, &err)) fail_msg("config: %s", err.c_str());
  return inv.config.targets.at(0);
}

static HttpTarget built(std::vector<std::string> args, HttpTargetBuilder* builder = nullptr) {
  HttpTargetBuilder own;
  HttpTarget h;
  std::string why;
  if (!(builder != nullptr ? builder : &own)->build(target(std::move(args)), &h, &why))
    fail_msg("not native: %s", why.c_str());
  return h;
}

static bool builds(const TargetConfig& t) {
  HttpTargetBuilder builder;
  HttpTarget h;
  std::string why;
  return builder.build(t, &h, &why);
}

static void default_request_bytes(void**) {
  HttpTarget h = built({"-url=http://127.0.0.1:8080/a/../b?x=1&y=2#frag", "-user_agent=ua/1"});
  assert_string_equal(h.request().c_str(),
                      "GET /b?x=1&y=2 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: ua/1\r\nAccept: */*\r\n"
                      "Connection: close\r\n\r\n");
  assert_true(h.common->numeric);
  assert_int_equal(h.common->port, 8080);
  assert_int_equal(h.common->address.sa.sa_family, AF_INET);
  h = built({"-url=http://127.0.0.1:80", "-user_agent=ua", "-method=HEAD"});
  assert_string_equal(h.request().c_str(),
                      "HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: ua\r\nAccept: */*\r\nConnection: close\r\n\r\n");
  assert_true(h.common->head);
}

static void ipv6_literal_and_names(void**) {
  HttpTarget h = built({"-url=http://[::1]:8080/", "-user_agent=ua"});
  assert_string_equal(h.common->host.c_str(), "::1");
  assert_true(h.common->numeric);
  assert_int_equal(h.common->address.sa.sa_family, AF_INET6);
  assert_non_null(std::strstr(h.request().c_str(), "\r\nHost: [::1]:8080\r\n"));
  h = built({"-url=http://localhost:81/", "-user_agent=ua"});
  assert_false(h.common->numeric);
  assert_string_equal(h.common->host.c_str(), "localhost");
  assert_non_null(std::strstr(h.request().c_str(), "\r\nHost: localhost:81\r\n"));
}

static void request_headers_replace_defaults_like_curl(void**) {
  HttpTarget h = built({"-url=http://alice:p%40ss@127.0.0.1:9/", "-user_agent=ua", "-request_header.X-A=1",
                        "-request_header.Accept=", "-request_header.X-Empty="});
  // libcurl: defaults in place, then the custom headers; an empty one is
  // "Name:". Keys come sorted from config. (A custom Host is refused at load.)
  assert_string_equal(h.request().c_str(),
                      "GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAuthorization: Basic YWxpY2U6cEBzcw==\r\n"
                      "User-Agent: ua\r\nAccept:\r\nX-A: 1\r\nX-Empty:\r\nConnection: close\r\n\r\n");
  h = built({"-url=http://alice:pw@127.0.0.1:9/", "-user_agent=ua", "-request_header.Authorization=Bearer t",
             "-request_header.User-Agent=mine", "-request_header.Connection=keep-alive"});
  assert_string_equal(h.request().c_str(),
                      "GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAccept: */*\r\nAuthorization: Bearer t\r\n"
                      "Connection: keep-alive\r\nUser-Agent: mine\r\n\r\n");
}

static void which_targets_the_native_client_probes(void**) {
  assert_string_equal(native_unsuitable(target({"-url=http://127.0.0.1/"}), "").c_str(), "");
  assert_string_equal(native_unsuitable(target({"-url=HTTP://127.0.0.1/"}), "").c_str(), "");
  assert_string_equal(native_unsuitable(target({"-url=https://127.0.0.1/"}), "").c_str(), "not a plain http:// URL");
  assert_string_equal(native_unsuitable(target({"-url=http://127.0.0.1/", "-http_client=curl"}), "").c_str(),
                      "http_client=curl");
  assert_string_equal(native_unsuitable(target({"-url=http://127.0.0.1/", "-reuse_connections"}), "").c_str(),
                      "reuse_connections=true");
  assert_string_equal(native_unsuitable(target({"-url=http://127.0.0.1/"}), "http_proxy").c_str(),
                      "http_proxy is set");
  assert_false(builds(target({"-url=http://127.0.0.1/", "-ip_version=6"})));
  assert_false(builds(target({"-url=http://[fe80::1%25eth0]/"})));
}

static void location_resolves_against_the_request_url(void**) {
  std::string out;
  assert_true(resolve_location("http://127.0.0.1:8/a/b?q=1", "/final?x=2", &out));
  assert_string_equal(out.c_str(), "http://127.0.0.1:8/final?x=2");
  assert_true(resolve_location("http://127.0.0.1:8/a/b?q=1", "c", &out));
  assert_string_equal(out.c_str(), "http://127.0.0.1:8/a/c");
  assert_true(resolve_location("http://127.0.0.1:8/a", "https://example.test/z", &out));
  assert_string_equal(out.c_str(), "https://example.test/z");
  assert_true(resolve_location("http://127.0.0.1:8/a", "file:///etc/passwd", &out));
  assert_string_equal(out.c_str(), "file:///etc/passwd");
  assert_true(same_origin("http://127.0.0.1/a", "HTTP://127.0.0.1:80/b"));
  assert_false(same_origin("http://127.0.0.1/a", "http://127.0.0.1:81/b"));
  assert_false(same_origin("http://127.0.0.1/a", "https://127.0.0.1/b"));
  assert_string_equal(with_credentials_of("http://u:p@127.0.0.1/a", "http://127.0.0.1/b").c_str(),
                      "http://u:p@127.0.0.1/b");
}

static std::string request_line(const std::string& url) {
  HttpTarget h = built({"-url=" + url, "-user_agent=ua"});
  return h.request().substr(0, h.request().find("\r\n"));
}

static bool native(const std::string& url) { return builds(target({"-url=" + url})); }

// The URL is split without libcurl (a plain-http worker never loads it);
// what libcurl would rewrite is either rewritten the same way or left to it.
static void urls_split_without_libcurl(void**) {
  assert_string_equal(request_line("http://127.0.0.1/a/./b/../c/.").c_str(), "GET /a/c/ HTTP/1.1");
  assert_string_equal(request_line("http://127.0.0.1/../../x").c_str(), "GET /x HTTP/1.1");
  assert_string_equal(request_line("http://127.0.0.1?q=1").c_str(), "GET /?q=1 HTTP/1.1");
  assert_string_equal(request_line("http://127.0.0.1/p?").c_str(), "GET /p HTTP/1.1");
  assert_string_equal(request_line("http://127.0.0.1/%41b?x=%2F#f").c_str(), "GET /%41b?x=%2F HTTP/1.1");
  assert_true(native("http://host-name_1.example:8080/"));
  assert_false(native("http://Example.com/"));     // libcurl keeps or folds case: not ours to guess
  assert_false(native("http://127.1/"));           // libcurl makes it 127.0.0.1
  assert_false(native("http://2130706433/"));
  assert_false(native("http://[0:0::1]/"));        // not the canonical ::1
  assert_false(native("http://[fe80::1%25eth0]/"));  // a zone id
  assert_false(native("http://example.com./"));
  assert_false(native("http://127.0.0.1:080/"));
  assert_false(native("http://127.0.0.1:/"));
  assert_false(native("http://127.0.0.1/%2e%2e/x"));
  assert_false(native("http://127.0.0.1/bad%zz"));
  assert_false(native("http://127.0.0.1/caf\xc3\xa9"));
}

// Targets that differ only in their path share everything else (one copy
// for thousands of targets on one host); anything else that differs, even
// only credentials, a header or a setting the request does not show, keeps
// its own.
static void targets_share_all_but_their_path(void**) {
  HttpTargetBuilder b;
  HttpTarget a = built({"-url=http://127.0.0.1:8080/a", "-user_agent=ua"}, &b);
  HttpTarget same = built({"-url=http://127.0.0.1:8080/b/c?d", "-user_agent=ua"}, &b);
  assert_ptr_equal(a.common.get(), same.common.get());
  assert_string_equal(same.request().c_str(),
                      "GET /b/c?d HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: ua\r\nAccept: */*\r\n"
                      "Connection: close\r\n\r\n");
  const std::vector<std::vector<std::string>> different = {
      {"-url=http://127.0.0.1:8081/a", "-user_agent=ua"},
      {"-url=http://localhost:8080/a", "-user_agent=ua"},
      {"-url=http://u:p@127.0.0.1:8080/a", "-user_agent=ua"},
      {"-url=http://127.0.0.1:8080/a", "-user_agent=ua2"},
      {"-url=http://127.0.0.1:8080/a", "-user_agent=ua", "-method=HEAD"},
      {"-url=http://127.0.0.1:8080/a", "-user_agent=ua", "-request_header.X=1"},
      {"-url=http://127.0.0.1:8080/a", "-user_agent=ua", "-timeout=3s"},
      {"-url=http://127.0.0.1:8080/a", "-user_agent=ua", "-max_body=1KiB"},
      {"-url=http://127.0.0.1:8080/a", "-user_agent=ua", "-ip_version=4"},
  };
  std::vector<HttpTarget> others;
  for (const auto& args : different) others.push_back(built(args, &b));
  for (size_t i = 0; i < others.size(); ++i) {
    assert_ptr_not_equal(others[i].common.get(), a.common.get());
    for (size_t j = 0; j < i; ++j) assert_ptr_not_equal(others[i].common.get(), others[j].common.get());
  }
}

// The request goes out in pieces from wherever the last write stopped.
static void request_pieces_from_any_offset(void**) {
  HttpTarget h = built({"-url=http://127.0.0.1/path", "-user_agent=ua"});
  const std::string whole = h.request();
  assert_int_equal(h.request_size(), whole.size());
  for (size_t offset = 0; offset <= whole.size(); ++offset) {
    iovec pieces[3];
    size_t n = h.request_pieces(offset, pieces);
    std::string got;
    for (size_t i = 0; i < n; ++i) {
      assert_true(pieces[i].iov_len > 0);
      got.append(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
    }
    assert_string_equal(got.c_str(), whole.substr(offset).c_str());
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(default_request_bytes),
      cmocka_unit_test(ipv6_literal_and_names),
      cmocka_unit_test(request_headers_replace_defaults_like_curl),
      cmocka_unit_test(which_targets_the_native_client_probes),
      cmocka_unit_test(location_resolves_against_the_request_url),
      cmocka_unit_test(urls_split_without_libcurl),
      cmocka_unit_test(targets_share_all_but_their_path),
      cmocka_unit_test(request_pieces_from_any_offset),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
