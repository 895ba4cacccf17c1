#!/usr/bin/env python3
"""The native HTTP/1.1 client that probes plain http:// targets: the request
as the server sees it (libcurl's headers plus Connection: close), the escape
hatch http_client=curl, a redirect (native first hop, libcurl after it, the
first URL requested once), chunked bodies, IPv6 loopback, the name
localhost, timeouts in curl's words, and libcurl taking over whenever a
proxy variable is set."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT", os.path.join(HERE, "..", "support")))

from harness import WORKER, HttpServer, Proc, RawServer, clean_env, closed_port, wait_for  # noqa: E402

STAMP = r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d "


def ok_reply(body=b"ok", extra=b""):
    return lambda req: (b"HTTP/1.1 200 OK\r\nServer: raw\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body))


def worker(test, *args, env=None):
    return Proc(test, [WORKER] + list(args), env=env)


def head_lines(request):
    """The request's lines, without the blank line that ends it."""
    return request.decode("latin-1").split("\r\n\r\n", 1)[0].split("\r\n")


class RequestBytes(unittest.TestCase):
    def test_request_as_the_server_sees_it(self):
        srv = RawServer(self, ok_reply())
        p = worker(self, "-url=" + srv.url("/p?q=1"), "-tick=200ms", "-user_agent=probe/1", "-status=200",
                   "-request_header.X-A=1", "-request_header.X-Empty=")
        wait_for(lambda: len(srv.requests()) >= 2, 5, what="two probes")
        self.assertEqual(srv.requests()[0].decode(),
                         "GET /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: probe/1\r\nAccept: */*\r\n"
                         "X-A: 1\r\nX-Empty:\r\nConnection: close\r\n\r\n" % srv.port)
        self.assertEqual(p.lines(), [])

    def test_same_headers_as_libcurl_sends(self):
        # A default header replaced, one with an empty value, credentials in
        # the URL: the native request is libcurl's plus Connection: close.
        args = ["-tick=300ms", "-user_agent=probe/1", "-request_header.Accept=text/plain",
                "-request_header.X-Empty=", "-request_header.X-Z=z"]
        native = RawServer(self, ok_reply())
        curl = RawServer(self, ok_reply())
        worker(self, "-url=http://bob:pw@127.0.0.1:%d/same" % native.port, *args)
        worker(self, "-url=http://bob:pw@127.0.0.1:%d/same" % curl.port, "-http_client=curl", *args)
        wait_for(lambda: native.requests() and curl.requests(), 5, what="a probe from each client")
        n = head_lines(native.requests()[0])
        c = head_lines(curl.requests()[0])
        self.assertIn("Connection: close", n)
        self.assertNotIn("Connection: close", c, "libcurl probed the http_client=auto target?")
        n.remove("Connection: close")
        self.assertEqual([l.replace(str(native.port), "PORT") for l in n],
                         [l.replace(str(curl.port), "PORT") for l in c])
        self.assertIn("Authorization: Basic Ym9iOnB3", n)

    def test_url_forms_reach_the_server_as_libcurl_sends_them(self):
        # The native client splits URLs itself (so that it never loads
        # libcurl); for every form it accepts, the request line and Host must
        # be libcurl's.
        for tail in ["/a/./b/../c/.", "?q=1", "/%41b?x=%2F#frag", "/../../x"]:
            native = RawServer(self, ok_reply())
            curl = RawServer(self, ok_reply())
            worker(self, "-url=http://u%%40x:p@127.0.0.1:%d%s" % (native.port, tail), "-tick=300ms")
            worker(self, "-url=http://u%%40x:p@127.0.0.1:%d%s" % (curl.port, tail), "-tick=300ms",
                   "-http_client=curl")
            wait_for(lambda: native.requests() and curl.requests(), 5, what="a probe from each client")
            n = [l.replace(str(native.port), "PORT") for l in head_lines(native.requests()[0])]
            c = [l.replace(str(curl.port), "PORT") for l in head_lines(curl.requests()[0])]
            n.remove("Connection: close")
            self.assertEqual(n, c, tail)

    def test_http_client_curl_still_probes_and_checks(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/c?status=503"), "-tick=200ms", "-status=200", "-http_client=curl",
                   "-body_contains=ok")
        p.wait_line(STAMP + r"Status code mismatch, got: 503$", timeout=5)
        q = worker(self, "-url=http://127.0.0.1:%d/" % closed_port(), "-tick=200ms", "-http_client=curl")
        q.wait_line(STAMP + r"Probe failed: Couldn't connect to server", timeout=5)
        self.assertEqual(p.count("Body does not contain"), 0)


    def test_a_request_written_in_short_pieces_arrives_whole(self):
        # Each write takes at most 1000 bytes (short_writes.c), so the first
        # one stops inside the path and the rest cross from the path into the
        # shared header lines: the server must still see libcurl's bytes.
        shim = os.environ.get("OBS_TEST_SHORT_WRITES", "")
        if not shim:
            self.skipTest("OBS_TEST_SHORT_WRITES not set (run through ctest)")
        srv = RawServer(self, ok_reply())
        path = "/" + "p" * 1500
        big = "v" * 5000
        asan = os.environ.get("ASAN_OPTIONS", "")
        env = clean_env(LD_PRELOAD=shim, ASAN_OPTIONS=(asan + ":" if asan else "") + "verify_asan_link_order=0")
        p = worker(self, "-url=" + srv.url(path), "-tick=200ms", "-user_agent=probe/1", "-status=200",
                   "-request_header.X-Big=" + big, env=env)
        wait_for(lambda: len(srv.requests()) >= 2, 5, what="two probes")
        expected = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: probe/1\r\nAccept: */*\r\n"
                    "X-Big: %s\r\nConnection: close\r\n\r\n" % (path, srv.port, big)).encode()
        self.assertEqual(srv.requests()[0], expected)
        self.assertEqual(p.lines(), [])


class Redirects(unittest.TestCase):
    def test_first_hop_is_requested_once_then_libcurl_follows(self):
        final = HttpServer(self)
        first = RawServer(self, lambda req: (b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
                                             % final.url("/final?body=arrived").encode()))
        p = worker(self, "-url=" + first.url("/start"), "-tick=300ms", "-status=200", "-body_contains=arrived")
        wait_for(lambda: final.hits("/final") >= 3, 5, what="three redirected probes")
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(5), 0)
        # Every probe: one request to the first URL, by the native client,
        # then libcurl's to the Location; the checks ran on the final answer.
        firsts = first.requests()
        self.assertEqual(len(firsts), final.hits("/final"))
        self.assertTrue(all(b"\r\nConnection: close\r\n" in r for r in firsts))
        self.assertEqual([l for l in p.lines() if "exiting" not in l], [])

    def test_relative_location_and_the_redirect_limit(self):
        srv = HttpServer(self)
        srv.set("/loop", redirect="/loop")  # relative: resolved against the request URL
        p = worker(self, "-url=" + srv.url("/loop"), "-tick=500ms", "-max_redirects=2")
        line = p.wait_line(r"Probe failed: ", timeout=5)
        self.assertRegex(line, STAMP + r"Probe failed: Number of redirects hit maximum amount: "
                               r"Maximum \(2\) redirects followed$")
        p.signal(signal.SIGTERM)
        p.wait_exit(5)
        fails = p.count(r"Probe failed")
        # The first request and 2 redirects followed, per probe: no more.
        self.assertLessEqual(srv.hits("/loop"), 3 * (fails + 1))

    def test_redirect_limit_0_and_not_following(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/r0?redirect=/x"), "-tick=300ms", "-max_redirects=0")
        p.wait_line(STAMP + r"Probe failed: Number of redirects hit maximum amount: Maximum \(0\) redirects followed$",
                    timeout=5)
        q = worker(self, "-url=" + srv.url("/r1?redirect=/x"), "-tick=300ms", "-follow_redirects=false",
                   "-status=200")
        q.wait_line(STAMP + r"Status code mismatch, got: 302$", timeout=5)
        self.assertEqual(srv.hits("/x"), 0)


class Replies(unittest.TestCase):
    def test_chunked_body_with_body_contains(self):
        chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        srv = RawServer(self, lambda req: chunked)
        good = worker(self, "-url=" + srv.url("/good"), "-tick=200ms", "-body_contains=hello world", "-status=200")
        bad = worker(self, "-url=" + srv.url("/bad"), "-tick=200ms", "-body_contains=goodbye")
        bad.wait_line(STAMP + r'Body does not contain "goodbye"$', timeout=5)
        wait_for(lambda: sum(1 for r in srv.requests() if b"/good" in r) >= 3, 5, what="probes")
        self.assertEqual(good.lines(), [])

    def test_timeout_during_a_body_says_how_much_came(self):
        srv = RawServer(self, lambda req: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok", hold=True)
        p = worker(self, "-url=" + srv.url("/slow"), "-tick=1s", "-timeout=300ms")
        line = p.wait_line(r"Probe failed: ", timeout=5)
        m = re.search(r"Probe failed: Timeout was reached: Operation timed out after (\d+) milliseconds "
                      r"with 2 out of 100 bytes received$", line)
        self.assertIsNotNone(m, line)
        self.assertGreaterEqual(int(m.group(1)), 300)


class Addresses(unittest.TestCase):
    def test_ipv6_loopback_with_ip_version_6(self):
        try:
            srv = RawServer(self, ok_reply(), host="::1")
        except OSError as e:
            self.skipTest("no IPv6 loopback here: %s" % e)
        p = worker(self, "-url=" + srv.url("/six"), "-tick=200ms", "-ip_version=6", "-status=200")
        wait_for(lambda: len(srv.requests()) >= 2, 5, what="probes over ::1")
        self.assertIn("\r\nHost: [::1]:%d\r\n" % srv.port, srv.requests()[0].decode())
        self.assertEqual(p.lines(), [])

    def test_the_name_localhost_is_resolved(self):
        srv = RawServer(self, ok_reply())
        p = worker(self, "-url=http://localhost:%d/name" % srv.port, "-tick=200ms", "-status=200", "-ip_version=4")
        wait_for(lambda: len(srv.requests()) >= 2, 5, what="probes to localhost")
        req = srv.requests()[0].decode()
        self.assertIn("\r\nHost: localhost:%d\r\n" % srv.port, req)
        self.assertIn("\r\nConnection: close\r\n", req)
        self.assertEqual(p.lines(), [])

    def lookup_shim_env(self, **extra):
        shim = os.environ.get("OBS_TEST_COUNT_LOOKUPS", "")
        if not shim or not os.path.exists(shim):
            self.skipTest("OBS_TEST_COUNT_LOOKUPS not set (run through ctest)")
        asan = os.environ.get("ASAN_OPTIONS", "")
        return clean_env(LD_PRELOAD=shim, ASAN_OPTIONS=(asan + ":" if asan else "") + "verify_asan_link_order=0",
                         **extra)

    def test_a_name_is_looked_up_once_for_many_probes(self):
        # As libcurl's DNS cache: a name's addresses are kept 60 s.
        srv = RawServer(self, ok_reply())
        p = worker(self, "-url=http://localhost:%d/cached" % srv.port, "-tick=200ms", "-status=200",
                   "-ip_version=4", env=self.lookup_shim_env())
        wait_for(lambda: len(srv.requests()) >= 6, 5, what="six probes to localhost")
        lookups = p.stderr_text().count("lookup-shim: getaddrinfo localhost")
        self.assertEqual(lookups, 1, p.stderr_text())
        self.assertEqual(p.lines(), [])

    def test_a_failed_lookup_is_not_kept(self):
        # The shim fails the lookup itself: no query leaves the machine.
        port = closed_port()
        p = worker(self, "-url=http://localhost:%d/" % port, "-tick=200ms", "-ip_version=4",
                   env=self.lookup_shim_env(OBS_TEST_FAIL_LOOKUPS="1"))
        wait_for(lambda: p.count(r"Could not resolve host: localhost") >= 3, 5, what="three failed probes")
        wait_for(lambda: p.stderr_text().count("lookup-shim: getaddrinfo localhost") >= 3, 5,
                 what="a lookup for each probe")

    def test_refused_on_localhost_names_the_host(self):
        port = closed_port()
        p = worker(self, "-url=http://localhost:%d/" % port, "-tick=300ms", "-ip_version=4")
        line = p.wait_line(r"Probe failed: ", timeout=5)
        self.assertRegex(line, r"Probe failed: Couldn't connect to server: Failed to connect to localhost port %d "
                               r"after \d+ ms: Couldn't connect to server \(Connection refused\)$" % port)


def maps_libcurl(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "/libcurl" in f.read()


class LazyLibcurl(unittest.TestCase):
    """The worker loads libcurl only when a target needs it: a plain-http
    configuration never maps it (nor OpenSSL, GnuTLS, … that it pulls in)."""

    def test_plain_http_targets_never_load_libcurl(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/plain"), "-tick=100ms", "-status=200")
        wait_for(lambda: srv.hits("/plain") >= 3, 5, what="three probes")
        self.assertFalse(maps_libcurl(p.pid), "a plain-http worker mapped libcurl")
        self.assertEqual(p.lines(), [])

    def test_a_curl_target_loads_libcurl_at_start(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/viacurl"), "-tick=100ms", "-status=200", "-http_client=curl")
        wait_for(lambda: srv.hits("/viacurl") >= 2, 5, what="two probes")
        self.assertTrue(maps_libcurl(p.pid))
        self.assertEqual(p.lines(), [])

    def test_a_redirect_loads_libcurl_when_it_first_comes(self):
        srv = HttpServer(self)
        srv.set("/later", redirect="/final")
        p = worker(self, "-url=" + srv.url("/later"), "-tick=150ms", "-status=200")
        wait_for(lambda: srv.hits("/later") >= 2, 5, what="two probes")
        self.assertTrue(maps_libcurl(p.pid))
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(5), 0)
        self.assertEqual([l for l in p.lines() if "exiting" not in l], [])


def libcurl_path():
    """Where the dynamic linker finds libcurl.so.4, or None."""
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        if line.strip().startswith("libcurl.so.4 "):  # this machine's ABI comes first
            return line.split("=>")[-1].strip()
    return None


def without_libcurl(argv):
    """argv run in a mount namespace of its own where libcurl.so.4 is an
    empty file, or None when that cannot be set up here."""
    lib = libcurl_path()
    if lib is None:
        return None
    hide = ["unshare", "-m", "sh", "-c", 'mount --bind /dev/null "$0" && exec "$@"', os.path.realpath(lib)]
    try:
        if subprocess.run(hide + ["true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=10).returncode != 0:
            return None
    except (OSError, subprocess.TimeoutExpired):
        return None
    return hide + argv


class MissingLibcurl(unittest.TestCase):
    """libcurl is loaded on first need: without it, plain-http targets are
    still probed, and a target that needs it is an internal error (70: the
    supervisor restarts the worker), not a configuration error (78)."""

    def test_plain_http_runs_without_libcurl(self):
        srv = HttpServer(self)
        argv = without_libcurl([WORKER, "-url=" + srv.url("/nocurl"), "-tick=100ms", "-status=200"])
        if argv is None:
            self.skipTest("needs root for a mount namespace (unshare -m)")
        p = Proc(self, argv)
        wait_for(lambda: srv.hits("/nocurl") >= 3, 5, what="three probes without libcurl")
        self.assertEqual(p.lines(), [])

    def test_a_target_that_needs_libcurl_exits_70(self):
        argv = without_libcurl([WORKER, "-url=https://127.0.0.1:%d/" % closed_port(), "-tick=1s"])
        if argv is None:
            self.skipTest("needs root for a mount namespace (unshare -m)")
        p = Proc(self, argv)
        self.assertEqual(p.wait_exit(10), 70)
        self.assertIn("cannot load libcurl", p.stderr_text())


class Proxy(unittest.TestCase):
    def test_a_proxy_variable_hands_every_probe_to_libcurl(self):
        proxy = RawServer(self, ok_reply())
        target = "http://127.0.0.1:%d/through" % closed_port()  # only the proxy is ever connected to
        p = worker(self, "-url=" + target, "-tick=200ms", "-status=200",
                   env=clean_env(http_proxy="http://127.0.0.1:%d" % proxy.port))
        wait_for(lambda: len(proxy.requests()) >= 2, 5, what="probes through the proxy")
        first = head_lines(proxy.requests()[0])
        # Absolute-form: the request came to the proxy as a proxy request.
        self.assertEqual(first[0], "GET %s HTTP/1.1" % target)
        self.assertNotIn("Connection: close", first)
        self.assertEqual(p.lines(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
