#!/usr/bin/env python3
"""Hostile input (issue 13): configuration that used to hang, spin, inject or
leak, and a server whose bytes are not UTF-8. Real processes, real signals,
servers on 127.0.0.1 only. Every wait is bounded, so a regression fails here
instead of hanging CI, and every process is ended by PID at cleanup.

  1. the config is read only from a bounded regular file: /dev/zero, a FIFO,
     a directory and a 64 MiB+ file are refused at once, at start, in
     -check-config and on SIGHUP (the running worker keeps going); and
     -check-config dies of SIGTERM/SIGINT like any command;
  2. user_agent, method and url cannot carry a line break onto the wire or
     into -check-config's output;
  3. tick and timeout have a 10ms minimum; a worker at that minimum, kept
     busy, still exits 0 by itself on SIGTERM;
  6. a Server header of bytes that are not UTF-8 leaves every json and
     logfmt line valid UTF-8 (json.loads accepts them); text keeps the bytes;
  7. secret query values and header values are masked in -check-config and
     in every log line's url;
  8. values that pass a loose check but could never probe exit 78 with
     file:line, before any request is sent.
"""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT", os.path.join(HERE, "..", "support")))

from harness import (SUPERVISOR, WORKER, HttpServer, Proc, RawServer, clean_env, tempdir,  # noqa: E402
                     wait_for, write_file)

TS = r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d "


def run(argv, env=None, timeout=20):
    """Runs to the end; subprocess.run kills the child (by PID) on timeout,
    and the TimeoutExpired fails the test."""
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env or clean_env(),
                          timeout=timeout)


def proc_io_wchar(pid):
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


class ConfigFileIsBounded(unittest.TestCase):
    """Item 1."""

    def assert_refused(self, path, why):
        for argv in ([SUPERVISOR, "-check-config", "-config", path], [SUPERVISOR, "-config", path],
                     [WORKER, "-config", path]):
            r = run(argv)
            self.assertEqual(r.returncode, 78, (argv, r.stderr))
            self.assertIn(("%s: %s" % (path, why)).encode(), r.stderr)
            self.assertEqual(r.stdout, b"")

    def test_dev_zero_fifo_and_directory_are_refused_at_once(self):
        d = tempdir(self)
        fifo = os.path.join(d, "observer.conf")
        os.mkfifo(fifo)  # no writer ever opens it: a blocking open() would hang
        self.assert_refused(fifo, "not a regular file (a FIFO)")
        self.assert_refused("/dev/zero", "not a regular file (a character device)")
        self.assert_refused(d, "not a regular file (a directory)")

    def test_a_file_over_64_mib_is_refused_naming_the_limit(self):
        d = tempdir(self)
        path = write_file(d, "big.conf", "url=http://127.0.0.1:9/\n")
        os.truncate(path, 64 * 1024 * 1024 + 1)  # sparse: nothing written
        self.assert_refused(path, "config file is larger than 64 MiB, the limit")

    def check_config_dies_of(self, sig):
        # 300 targets print far more than a pipe holds: with nobody reading,
        # -check-config blocks in write(). It must still die of the signal.
        d = tempdir(self)
        conf = write_file(d, "observer.conf", "tick=1h\n" + "".join(
            "[t%d]\nurl=http://127.0.0.1:9/%d\n" % (i, i) for i in range(300)))
        p = subprocess.Popen([SUPERVISOR, "-check-config", "-config", conf], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=clean_env())
        self.addCleanup(p.stdout.close)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait(5)))
        # The pipe is full: the worker (exec'd in the supervisor's place) is
        # in the middle of its output.
        wait_for(lambda: proc_io_wchar(p.pid) >= 60000, 20, what="-check-config to fill its stdout pipe")
        p.send_signal(sig)
        try:
            rc = p.wait(10)
        except subprocess.TimeoutExpired:
            self.fail("-check-config ignored %s" % sig.name)
        self.assertEqual(rc, -sig)

    def test_check_config_dies_of_sigterm(self):
        self.check_config_dies_of(signal.SIGTERM)

    def test_check_config_dies_of_sigint(self):
        self.check_config_dies_of(signal.SIGINT)

    def test_sighup_with_the_file_replaced_by_a_fifo_or_dev_zero_keeps_the_worker(self):
        srv = HttpServer(self)
        d = tempdir(self)
        conf = os.path.join(d, "observer.conf")
        text = "url=%s\nstatus=500\ntick=200ms\n" % srv.url("/up")
        write_file(d, "observer.conf", text)
        p = Proc(self, [SUPERVISOR, "-config", conf])
        p.wait_line(TS + r"Worker \(pid \d+\) is ready\.")
        p.wait_line(TS + r"Status code mismatch, got: 200")
        for replace, why in ((lambda: os.mkfifo(conf), r"not a regular file \(a FIFO\)"),
                             (lambda: os.symlink("/dev/zero", conf), r"not a regular file \(a character device\)")):
            os.unlink(conf)
            replace()
            start = len(p.lines())
            p.signal(signal.SIGHUP)
            p.wait_line(TS + r"Reload failed: .*observer\.conf: " + why +
                        r".*; the running worker keeps the previous configuration\.", start=start)
            # Output is still forwarded: the old worker's next lines arrive.
            after = len(p.lines())
            p.wait_line(TS + r"Status code mismatch, got: 200", start=after)
        self.assertEqual(p.count(r"Started worker"), 1)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(15), 0)


class NoLineInjection(unittest.TestCase):
    """Item 2."""

    INJECTED = "a\r\nX-Injected: 1"

    def test_user_agent_with_a_line_break_is_refused_from_flag_env_and_file(self):
        srv = RawServer(self, lambda req: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        d = tempdir(self)
        conf = write_file(d, "observer.conf", "url=%s\nuser_agent=a\rX-Injected: 1\n" % srv.url("/"))
        cases = [([SUPERVISOR, "-url=" + srv.url("/"), "-user_agent=" + self.INJECTED], None, b"flag -user_agent"),
                 ([SUPERVISOR, "-url=" + srv.url("/")], clean_env(OBSERVER_USER_AGENT=self.INJECTED),
                  b"OBSERVER_USER_AGENT"),
                 ([SUPERVISOR, "-config", conf], None, conf.encode() + b":2: user_agent")]
        for argv, env, where in cases:
            for check in ([], ["-check-config"]):
                r = run(argv + check, env=env)
                self.assertEqual(r.returncode, 78, (argv, check, r.stderr))
                self.assertIn(where, r.stderr)
                self.assertIn(b"X-Injected: 1\" contains a control character or line break", r.stderr)
                self.assertEqual(r.stderr.count(b"\n"), 1, r.stderr)
                self.assertNotIn(b"\r", r.stderr)
                self.assertNotIn(b"\nX-Injected", r.stderr)
                self.assertEqual(r.stdout, b"")
        self.assertEqual(srv.requests(), [])

    def test_method_and_url_with_a_line_break_are_refused(self):
        srv = RawServer(self, lambda req: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        for args in (["-url=" + srv.url("/"), "-method=GET\r\nX-Injected: 1"],
                     ["-url=" + srv.url("/") + "\r\nX-Injected: 1"]):
            r = run([WORKER] + args)
            self.assertEqual(r.returncode, 78, r.stderr)
            self.assertNotIn(b"\nX-Injected", r.stderr)
            self.assertIn(b"\\r\\nX-Injected: 1", r.stderr)
        self.assertEqual(srv.requests(), [])


class TickHasAMinimum(unittest.TestCase):
    """Item 3."""

    def test_nanosecond_and_microsecond_ticks_are_refused(self):
        for tick in ("1ns", "1us", "9ms"):
            for argv in ([SUPERVISOR, "-url=http://127.0.0.1:9/", "-tick=" + tick],
                         [SUPERVISOR, "-check-config", "-url=http://127.0.0.1:9/", "-tick=" + tick],
                         [WORKER, "-url=http://127.0.0.1:9/", "-tick=" + tick]):
                r = run(argv)
                self.assertEqual(r.returncode, 78, (argv, r.stderr))
                self.assertIn(("flag -tick: %s is below the minimum of 10ms" % tick).encode(), r.stderr)
        r = run([WORKER, "-url=http://127.0.0.1:9/", "-tick=1s", "-timeout=1us"])
        self.assertEqual(r.returncode, 78)
        self.assertIn(b"flag -timeout: 1us is below the minimum of 10ms", r.stderr)

    def test_a_busy_worker_at_the_minimum_tick_exits_by_itself_on_sigterm(self):
        # Every probe outlives its 10ms tick: the loop logs a result or a
        # skipped tick a hundred times a second, and must still see SIGTERM.
        # The worker runs alone: no supervisor would SIGKILL it.
        srv = HttpServer(self)
        p = Proc(self, [WORKER, "-url=" + srv.url("/slow?delay_ms=40"), "-tick=10ms", "-status=200"])
        wait_for(lambda: len(p.lines()) >= 30, 20, what="30 lines from a busy worker")
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(15), 0, p.stderr_text())


class NotUtf8FromAServer(unittest.TestCase):
    """Item 6."""

    HOSTILE = b"\xff\xfe\xc0\xaf"

    def run_worker(self, fmt):
        reply = (b"HTTP/1.1 200 OK\r\nServer: " + self.HOSTILE + b"\r\nContent-Type: text/plain\r\n"
                 b"Content-Length: 2\r\nConnection: close\r\n\r\nok")
        srv = RawServer(self, lambda req: reply)
        d = tempdir(self)
        out_path = os.path.join(d, "out")
        with open(out_path, "wb") as out:
            p = subprocess.Popen([WORKER, "-url=" + srv.url("/"), "-tick=200ms", "-server=nginx",
                                  "-log_format=" + fmt], stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.DEVNULL, env=clean_env())
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait(5)))

        def lines():
            with open(out_path, "rb") as f:
                return f.read().splitlines()
        wait_for(lambda: sum(1 for l in lines() if b"Server header mismatch" in l) >= 2, 15,
                 what="two Server mismatch lines")
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(15), 0)
        return lines()

    def test_json_lines_stay_valid_json(self):
        lines = self.run_worker("json")
        seen = set()
        for raw in lines:
            obj = json.loads(raw)  # bytes: decoded as strict UTF-8
            if obj.get("check") == "server" or obj.get("state") == "down":
                seen.add(obj.get("check") or "down")
                self.assertIn("\ufffd", json.dumps(obj, ensure_ascii=False))
        self.assertIn("server", seen, lines)
        self.assertIn("down", seen, lines)

    def test_logfmt_lines_stay_utf8(self):
        lines = self.run_worker("logfmt")
        for raw in lines:
            raw.decode("utf-8")  # strict: raises on an invalid byte
            self.assertNotIn(self.HOSTILE, raw)
        self.assertTrue(any(b'got="\\ufffd\\ufffd\\ufffd\\ufffd"' in l for l in lines), lines)

    def test_text_keeps_the_bytes(self):
        lines = self.run_worker("text")
        self.assertTrue(any(l.endswith(b"Server header mismatch, got: " + self.HOSTILE) for l in lines), lines)


class SecretsAreMasked(unittest.TestCase):
    """Item 7."""

    def test_query_secrets_are_masked_in_log_lines_and_check_config(self):
        srv = HttpServer(self)
        url = srv.url("/q?api_key=K1secret&page=2&token=T2secret&X-Amz-Signature=S3secret")
        p = Proc(self, [WORKER, "-url=" + url, "-tick=200ms", "-status=500", "-log_format=logfmt"])
        line = p.wait_line(r"msg=\"Status code mismatch, got: 200\"")
        self.assertIn('url="' + srv.url("/q?api_key=****&page=2&token=****&X-Amz-Signature=****") + '"', line)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(15), 0)
        text = "".join(p.lines())
        for secret in ("K1secret", "T2secret", "S3secret"):
            self.assertNotIn(secret, text)
        # The server got the real values: only what is shown is masked.
        self.assertTrue(any("api_key=K1secret" in r[2] for r in srv.requests()))

        headers = ["-request_header.%s=V%dsecret" % (h, i) for i, h in
                   enumerate(("X-Passwd", "X-PW", "X-Credentials", "X-Signature", "X-Api-Tok", "Authorization"))]
        r = run([SUPERVISOR, "-check-config", "-url=" + url, "-request_header.Accept=text/plain"] + headers)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn(srv.url("/q?api_key=****&page=2&token=****&X-Amz-Signature=****"), out)
        self.assertIn("text/plain", out)
        for secret in ["K1secret", "T2secret", "S3secret"] + ["V%dsecret" % i for i in range(6)]:
            self.assertNotIn(secret, out)


class ValuesThatNeverWork(unittest.TestCase):
    """Item 8."""

    def test_each_is_refused_at_load_with_file_and_line_before_any_request(self):
        srv = HttpServer(self)
        d = tempdir(self)
        u = srv.url("/")
        cases = [
            ("url=%s\x1b[31m\n" % u, 1, "contains a control character"),
            ("url=%s\x07\n" % u, 1, "contains a control character"),
            ("url=%s\nmethod=CONNECT\n" % u, 2, "method: CONNECT opens a tunnel"),
            ("url=%s\nca_file=%s\n" % (u, d), 2, "ca_file: \"%s\" is not a regular file" % d),
            ("url=%s\nrequest_header.Content-Length=0\n" % u, 2, "Content-Length is set by observer"),
            ("url=%s\nrequest_header.Transfer-Encoding=chunked\n" % u, 2, "Transfer-Encoding is set by observer"),
            ("url=%s\nrequest_header.Host=example.test\n" % u, 2, "Host is set by observer"),
        ]
        for i, (text, line, why) in enumerate(cases):
            conf = write_file(d, "c%d.conf" % i, text)
            for argv in ([SUPERVISOR, "-config", conf], [SUPERVISOR, "-check-config", "-config", conf]):
                r = run(argv)
                self.assertEqual(r.returncode, 78, (text, r.stderr))
                err = r.stderr.decode()
                self.assertIn("%s:%d: " % (conf, line), err)
                self.assertIn(why, err)
                self.assertNotIn("\x1b", err)
                self.assertNotIn("\x07", err)
        r = run([SUPERVISOR, "-url=" + u, "-method=" + "A" * 5000])
        self.assertEqual(r.returncode, 78)
        self.assertIn(b"flag -method: invalid method", r.stderr)
        self.assertLess(len(r.stderr), 300)
        self.assertEqual(srv.hits(), 0)

    def test_unknown_environment_variable_name_is_escaped(self):
        name = "OBSERVER_\x1b]0;pwned\x07\x1b[2J"
        r = run([SUPERVISOR, "-check-config", "-url=http://127.0.0.1:9/"], env=clean_env(**{name: "1"}))
        self.assertEqual(r.returncode, 78)
        self.assertIn(b"unknown environment variable OBSERVER_\\x1b]0;pwned\\x07\\x1b[2J", r.stderr)
        self.assertNotIn(b"\x1b", r.stderr)
        self.assertNotIn(b"\x07", r.stderr)


if __name__ == "__main__":
    unittest.main()
