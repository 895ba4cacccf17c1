#!/usr/bin/env python3
"""observer-worker standalone against a real local server: every check passing
and failing in the seed's words, target names on lines, User-Agent, method,
redirects (file:// refused), TLS verification, ca_file, cert_min_days."""
import json
import os
import re
import signal
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT", os.path.join(HERE, "..", "support")))

from harness import WORKER, HttpServer, Proc, tempdir, wait_for, write_file  # noqa: E402

STAMP = r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d "


def worker(test, *args):
    return Proc(test, [WORKER] + list(args))


class SeedChecks(unittest.TestCase):
    def test_all_seed_checks_pass_silently(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/ok?server=cloudflare&ctype=text/html;+charset%3Dutf-8"), "-tick=200ms",
                   "-status=200", "-server=cloudflare", "-content_type=text/html; charset=utf-8")
        wait_for(lambda: srv.hits("/ok") >= 3, 5, what="three probes")
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(5), 0)
        self.assertEqual([l for l in p.lines() if "exiting" not in l], [])

    def test_status_mismatch_in_seed_words(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/s"), "-tick=200ms", "-status=500")
        p.wait_line(STAMP + r"Status code mismatch, got: 200$", timeout=5)
        p.wait_line(STAMP + r"DOWN: Status code mismatch, got: 200$", timeout=5)

    def test_server_mismatch_in_seed_words(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/s?server=nginx"), "-tick=200ms", "-server=cloudflare")
        p.wait_line(STAMP + r"Server header mismatch, got: nginx$", timeout=5)

    def test_content_type_mismatch_in_seed_words(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/s?ctype=text/html;+charset%3Dutf-8"), "-tick=200ms",
                   "-content_type=application/json")
        p.wait_line(STAMP + r"Content-Type header mismatch, got: text/html; charset=utf-8$", timeout=5)

    def test_status_list_range_and_class(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/c?status=204"), "-tick=200ms", "-status=200,204")
        q = worker(self, "-url=" + srv.url("/d?status=302"), "-tick=200ms", "-status=2xx",
                   "-follow_redirects=false")
        q.wait_line(r"Status code mismatch, got: 302$", timeout=5)
        wait_for(lambda: srv.hits("/c") >= 3, 5, what="probes")
        self.assertEqual(p.count("mismatch"), 0)

    def test_seed_config_file_works_unchanged(self):
        srv = HttpServer(self)
        d = tempdir(self)
        conf = write_file(d, "observer.conf", "status=500\ntick=200ms\nurl=%s\nserver=cloudflare\n"
                          "content_type=text/html; charset=utf-8\nuser_agent=\n" % srv.url("/seed"))
        p = worker(self, "-config", conf)
        p.wait_line(STAMP + r"Status code mismatch, got: 200$", timeout=5)
        p.wait_line(STAMP + r"Server header mismatch, got: testserver$", timeout=5)
        p.wait_line(STAMP + r"Content-Type header mismatch, got: text/plain$", timeout=5)

    def test_more_than_one_target_names_each_line(self):
        srv = HttpServer(self)
        d = tempdir(self)
        conf = write_file(d, "o.conf", "tick=200ms\nstatus=200\n[api]\nurl=%s\n[web]\nurl=%s\n" % (
            srv.url("/api?status=503"), srv.url("/web?status=404")))
        p = worker(self, "-config", conf)
        p.wait_line(STAMP + r"\[api\] Status code mismatch, got: 503$", timeout=5)
        p.wait_line(STAMP + r"\[web\] Status code mismatch, got: 404$", timeout=5)
        p.wait_line(STAMP + r"\[api\] DOWN: Status code mismatch, got: 503$", timeout=5)

    def test_json_lines_carry_fields(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/j"), "-tick=200ms", "-status=500", "-log_format=json")
        line = p.wait_line(r"Status code mismatch", timeout=5)
        rec = json.loads(line)
        self.assertEqual(rec["msg"], "Status code mismatch, got: 200")
        self.assertEqual((rec["got"], rec["expected"], rec["check"]), ("200", "500", "status"))
        self.assertEqual(rec["url"], srv.url("/j"))
        self.assertIsInstance(rec["duration_ms"], int)
        self.assertIsInstance(rec["lag_us"], int)

    def test_url_password_is_never_logged(self):
        srv = HttpServer(self)
        url = "http://alice:s3cr3t@127.0.0.1:%d/pw" % srv.port
        for fmt in ("json", "logfmt", "text"):
            p = worker(self, "-url=" + url, "-tick=200ms", "-status=500", "-log_format=" + fmt)
            p.wait_line(r"DOWN: Status code mismatch", timeout=5)
            p.signal(signal.SIGTERM)
            p.wait_exit()
            out = "".join(p.lines())
            self.assertNotIn("s3cr3t", out, fmt)
            if fmt != "text":
                self.assertIn("alice:****@127.0.0.1", out, fmt)
        self.assertGreaterEqual(srv.hits("/pw"), 3)  # the real password was still sent

    def test_up_after_outage_is_its_own_line(self):
        srv = HttpServer(self)
        srv.set("/flip", status=500)
        p = worker(self, "-url=" + srv.url("/flip"), "-tick=200ms", "-status=200")
        p.wait_line(r"DOWN: Status code mismatch, got: 500$", timeout=5)
        srv.set("/flip", status=200)
        p.wait_line(STAMP + r"UP after \d+s$", timeout=5)
        self.assertEqual(p.count("DOWN:"), 1)

    def test_thresholds_hold_state_changes_back(self):
        srv = HttpServer(self)
        srv.set("/t", status=500)
        p = worker(self, "-url=" + srv.url("/t"), "-tick=200ms", "-status=200", "-failure_threshold=3")
        p.wait_line(r"DOWN:", timeout=5)
        # Three mismatch lines came before the DOWN line.
        idx = next(i for i, l in enumerate(p.lines()) if "DOWN:" in l)
        self.assertEqual(sum(1 for l in p.lines()[:idx] if "Status code mismatch" in l), 3)


class MoreChecks(unittest.TestCase):
    def test_header_exact_and_regex(self):
        srv = HttpServer(self)
        srv.set("/h", header="X-Version:v2.0")
        p = worker(self, "-url=" + srv.url("/h"), "-tick=200ms", "-header.X-Version=v1.0",
                   r"-header_regex.X-Version=^v1\.")
        p.wait_line(STAMP + r"X-Version header mismatch, got: v2.0$", timeout=5)
        p.wait_line(STAMP + r"X-Version header does not match /\^v1\\\./, got: v2.0$", timeout=5)
        srv.set("/h", header="X-Version:v1.0")
        n = len(p.lines())
        wait_for(lambda: srv.hits("/h") >= 6, 5, what="more probes")
        start = len(p.lines())
        wait_for(lambda: srv.hits("/h") >= 9, 5, what="more probes")
        self.assertEqual([l for l in p.lines()[start:] if "mismatch" in l or "does not match" in l], [])
        del n

    def test_body_contains_and_regex(self):
        srv = HttpServer(self)
        srv.set("/b", body="service degraded")
        p = worker(self, "-url=" + srv.url("/b"), "-tick=200ms", "-body_contains=healthy",
                   "-body_regex=status: (ok|fine)")
        p.wait_line(STAMP + r'Body does not contain "healthy"$', timeout=5)
        p.wait_line(STAMP + r"Body does not match /status: \(ok\|fine\)/$", timeout=5)
        srv.set("/b", body="healthy; status: fine")
        p.wait_line(r"UP after", timeout=5)

    def test_body_checks_run_on_capped_prefix(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/big?body_bytes=5000000"), "-tick=300ms", "-max_body=64KiB",
                   "-body_contains=y", "-status=200")
        p.wait_line(r'Body does not contain "y" \(in the first 65536 bytes\)$', timeout=5)
        self.assertEqual(p.count("Probe failed"), 0, "a body over the cap is not a transport failure")

    def test_max_response_time(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/slow?delay_ms=300"), "-tick=1s", "-max_response_time=100ms")
        p.wait_line(STAMP + r"Response time \d+ms over limit 100ms$", timeout=5)

    def test_bad_regex_is_config_error_with_origin(self):
        d = tempdir(self)
        conf = write_file(d, "o.conf", "url=http://127.0.0.1:1/\nbody_regex=([a-\n")
        p = worker(self, "-config", conf)
        self.assertEqual(p.wait_exit(5), 78)
        self.assertRegex(p.stderr_text(), r"^observer: .*o\.conf:2: body_regex: bad regular expression")
        p = worker(self, "-config", conf, "-check-config")
        self.assertEqual(p.wait_exit(5), 78)

    def test_default_user_agent_and_custom(self):
        srv = HttpServer(self)
        worker(self, "-url=" + srv.url("/ua1"), "-tick=200ms")
        worker(self, "-url=" + srv.url("/ua2"), "-tick=200ms", "-user_agent=probe/9")
        wait_for(lambda: srv.hits("/ua1") >= 1 and srv.hits("/ua2") >= 1, 5, what="probes")
        uas = {r[2]: r[3] for r in srv.requests()}
        self.assertRegex(uas["/ua1"], r"^observer/\d+\.\d+\.\d+$")
        self.assertEqual(uas["/ua2"], "probe/9")

    def test_request_headers_are_sent(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/e?echo_header=X-Probe"), "-tick=200ms",
                   "-request_header.X-Probe=hello 42", "-body_contains=hello 42")
        q = worker(self, "-url=" + srv.url("/f?echo_header=X-Probe"), "-tick=200ms", "-body_contains=hello 42")
        q.wait_line(r'Body does not contain "hello 42"$', timeout=5)
        wait_for(lambda: srv.hits("/e") >= 3, 5, what="probes")
        self.assertEqual(p.lines(), [])

    def test_method(self):
        srv = HttpServer(self)
        worker(self, "-url=" + srv.url("/m"), "-tick=200ms", "-method=HEAD")
        wait_for(lambda: srv.hits("/m") >= 1, 5, what="probe")
        self.assertEqual(srv.requests()[0][1], "HEAD")

    def test_redirect_to_file_is_refused(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/r?redirect=file:///etc/passwd"), "-tick=300ms", "-status=200")
        line = p.wait_line(r"Probe failed: ", timeout=5)
        self.assertRegex(line, r'Unsupported protocol.*"file"')
        self.assertEqual(p.count("root:"), 0)

    def test_redirect_followed_and_limited(self):
        srv = HttpServer(self)
        target = srv.url("/final?status=200")
        p = worker(self, "-url=" + srv.url("/r1?redirect=" + target), "-tick=300ms", "-status=200")
        wait_for(lambda: srv.hits("/final") >= 2, 5, what="redirect followed")
        self.assertEqual(p.count("mismatch|failed"), 0)
        srv.set("/loop", redirect=srv.url("/loop"))
        q = worker(self, "-url=" + srv.url("/loop"), "-tick=500ms", "-max_redirects=2")
        q.wait_line(r"Probe failed: Number of redirects hit maximum amount", timeout=5)
        r = worker(self, "-url=" + srv.url("/r2?redirect=" + target), "-tick=300ms", "-status=200",
                   "-follow_redirects=false")
        r.wait_line(r"Status code mismatch, got: 302$", timeout=5)


class Running(unittest.TestCase):
    def test_sigint_exits_0_with_whole_lines(self):
        srv = HttpServer(self)
        p = worker(self, "-url=" + srv.url("/x?status=500"), "-tick=50ms", "-status=200")
        wait_for(lambda: p.count("mismatch") >= 5, 5, what="some lines")
        p.signal(signal.SIGINT)
        self.assertEqual(p.wait_exit(5), 0)
        lines = p.lines()
        self.assertTrue(all(l.endswith("\n") for l in lines))
        self.assertTrue(all(re.match(STAMP, l) for l in lines), "a torn or interleaved line")
        self.assertRegex(lines[-1], STAMP + r"Got SIGINT/SIGTERM, exiting\.$")
        self.assertEqual(p.stderr_text(), "")

    def test_stop_signal_while_exiting_does_not_kill(self):
        # Ctrl-C reaches the worker, then the supervisor's SIGTERM follows
        # while the worker is already draining stdout on its way out.
        srv = HttpServer(self)
        p = subprocess.Popen([WORKER, "-url=" + srv.url("/x"), "-tick=50ms", "-log_format=json",
                              "-body_contains=" + "z" * 8000], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        # Nobody reads stdout: the pipe fills and the exit flush has to wait.
        wait_for(lambda: srv.hits("/x") >= 20, 5, what="probes to fill the pipe")
        p.send_signal(signal.SIGINT)
        import time
        time.sleep(0.5)
        self.assertIsNone(p.poll(), "still flushing stdout")
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(10), 0)
        p.stdout.close()

    def test_help_version_check_config(self):
        p = worker(self, "-version")
        self.assertEqual(p.wait_exit(5), 0)
        self.assertRegex("".join(p.lines()), r"^observer-worker \d+\.\d+\.\d+\n$")
        p = worker(self, "-help")
        self.assertEqual(p.wait_exit(5), 0)
        self.assertIn("-url", "".join(p.lines()))
        p = worker(self, "-url=http://127.0.0.1:1/", "-check-config")
        self.assertEqual(p.wait_exit(5), 0)
        self.assertIn("http://127.0.0.1:1/", "".join(p.lines()))
        p = worker(self, "-urll=http://127.0.0.1:1/")
        self.assertEqual(p.wait_exit(5), 78)
        self.assertRegex(p.stderr_text(), r"^observer: unknown flag -urll")


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="observer-tls-")
        cls.cert = os.path.join(cls.dir, "cert.pem")
        cls.key = os.path.join(cls.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cls.key,
                        "-out", cls.cert, "-days", "10", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.dir])

    def test_verify_failure_is_its_own_clear_result(self):
        srv = HttpServer(self, tls_cert=self.cert, tls_key=self.key)
        p = worker(self, "-url=" + srv.url("/t"), "-tick=500ms", "-cert_min_days=30")
        line = p.wait_line(r"TLS verify failed: ", timeout=5)
        self.assertRegex(line, r"certificate")
        self.assertEqual(p.count("Certificate expires"), 0)

    def test_ca_file_verifies_and_cert_days_checked(self):
        srv = HttpServer(self, tls_cert=self.cert, tls_key=self.key)
        p = worker(self, "-url=" + srv.url("/t"), "-tick=500ms", "-ca_file=" + self.cert, "-cert_min_days=30",
                   "-status=200")
        p.wait_line(STAMP + r"Certificate expires in (9|10) days, fewer than 30$", timeout=5)
        self.assertEqual(p.count("TLS verify failed|Status code"), 0)
        q = worker(self, "-url=" + srv.url("/u"), "-tick=300ms", "-ca_file=" + self.cert, "-cert_min_days=5",
                   "-status=200")
        wait_for(lambda: srv.hits("/u") >= 2, 5, what="probes")
        self.assertEqual([l for l in q.lines() if "Certificate" in l or "fail" in l], [])

    def test_insecure_skips_verification(self):
        srv = HttpServer(self, tls_cert=self.cert, tls_key=self.key)
        p = worker(self, "-url=" + srv.url("/i"), "-tick=300ms", "-insecure", "-status=200")
        wait_for(lambda: srv.hits("/i") >= 2, 5, what="probes")
        self.assertEqual(p.lines(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
