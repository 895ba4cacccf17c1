#!/usr/bin/env python3
"""stdout: lines of the retiring and the new worker never tear or mix
across many reloads, and a reader that stops reading never stops the
probes; what had to be dropped is reported once it reads again."""
import fcntl
import os
import re
import signal
import subprocess
import threading
import time
import unittest
from urllib.parse import urlencode

from supervisor_support import SUPERVISOR_LINE, TS, harness, supervisor_env, wait_workers

SUPERVISOR = harness.SUPERVISOR
F_SETPIPE_SZ = 1031


class Output(unittest.TestCase):
    def test_stdout_lines_stay_intact_across_many_reloads(self):
        srv = harness.HttpServer(self)
        srv.set("/bad", status=500)
        d = harness.tempdir(self)
        conf = harness.write_file(d, "observer.conf", "status=200\ntick=50ms\n" + "".join(
            "[t%d]\nurl=%s\n" % (i, srv.url("/bad")) for i in range(3)))
        p = harness.Proc(self, [SUPERVISOR, "-config", conf], env=supervisor_env())
        p.wait_line(r"is ready\.")
        reloads = 20
        for i in range(reloads):
            n = len(p.lines())
            p.signal(signal.SIGHUP)
            p.wait_line(r"retired: exited with status 0\.", start=n)
            time.sleep(0.1)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 0)
        # A loaded machine may keep a probe past its 50 ms tick (timeout ==
        # tick): its overrun and timeout lines are whole lines too.
        worker_line = re.compile(TS + r"\[t[012]\] ((DOWN: )?(Status code mismatch, got: 500|Probe failed: Timeout .*)|"
                                 r"Probe still running at the next tick .*; skipped this tick|"
                                 r"Skipped \d+ more probes? in the last minute: .*)\n$")
        lines = p.lines()
        for line in lines:
            self.assertTrue(SUPERVISOR_LINE.match(line) or worker_line.match(line), "torn or unknown line %r" % line)
        self.assertEqual(p.count(r"Got SIGHUP, reloading\.$"), reloads)
        self.assertEqual(p.count(r"Reloaded: worker"), reloads)
        self.assertEqual(p.count(r"retired: exited with status 0\.$"), reloads)
        self.assertEqual(p.count(r"\] DOWN: "), 3, "a target went DOWN twice across the reloads")
        self.assertGreater(p.count(r"\] Status code mismatch"), 3 * reloads)

    def test_stopped_stdout_reader_does_not_stop_probing(self):
        srv = harness.HttpServer(self)
        # Every probe writes 31 lines of ~230 bytes: a stalled reader fills
        # the supervisor's bounded backlog within seconds.
        big = [("status", "500")] + [("header", "X-H%d:%s" % (i, "v" * 190)) for i in range(30)]
        urlopen_set = "http://127.0.0.1:%d/__set/big?%s" % (srv.port, urlencode(big))
        import urllib.request
        urllib.request.urlopen(urlopen_set, timeout=5).read()
        d = harness.tempdir(self)
        conf = harness.write_file(d, "observer.conf", "status=200\ntick=100ms\n" +
                                  "".join("header.X-H%d=expected\n" % i for i in range(30)) +
                                  "".join("[t%d]\nurl=%s\n" % (i, srv.url("/big")) for i in range(3)))
        r, w = os.pipe()
        fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
        proc = subprocess.Popen([SUPERVISOR, "-config", conf], stdin=subprocess.DEVNULL, stdout=w,
                                env=supervisor_env())
        os.close(w)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait(5)))
        self.addCleanup(os.close, r)
        [first] = wait_workers(self, proc.pid, 1)
        harness.wait_for(lambda: srv.hits("/big") >= 6, 10, what="probes to start")
        time.sleep(3.0)  # nobody reads: pipe and backlog are full by now
        h1 = srv.hits("/big")
        # The supervisor's own loop stays responsive: a reload still happens.
        proc.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: (lambda k: len(k) == 1 and k[0] != first)(harness.children_of(proc.pid)), 10,
                         what="a reload while stdout is stalled")
        time.sleep(2.0)
        h2 = srv.hits("/big")
        self.assertGreaterEqual(h2 - h1, 30, "probing slowed down while stdout was stalled (%d -> %d)" % (h1, h2))
        self.assertIsNone(proc.poll())

        data = bytearray()
        notice = re.compile(rb"stdout was blocked: dropped (\d+) log lines?\n")

        def drain():
            while not notice.search(data):
                chunk = os.read(r, 65536)
                if not chunk:
                    return
                data.extend(chunk)
        t = threading.Thread(target=drain, daemon=True)
        t.start()
        t.join(15)
        m = notice.search(data)
        self.assertIsNotNone(m, "no dropped-lines notice after the reader came back")
        self.assertGreater(int(m.group(1)), 0)
        worker_line = re.compile((TS + r"\[t[012]\] (DOWN: )?(Status code mismatch, got: 500|X-H\d+ header mismatch,"
                                  r" got: v+(\.\.\.)?)\n$").encode())
        for line in bytes(data).splitlines(keepends=True):
            self.assertTrue(worker_line.match(line) or SUPERVISOR_LINE.match(line.decode()) or notice.search(line),
                            "torn or unknown line %r" % line[:300])
        proc.send_signal(signal.SIGTERM)

        def drain_rest():
            try:
                while os.read(r, 65536):
                    pass
            except OSError:
                pass
        threading.Thread(target=drain_rest, daemon=True).start()
        self.assertEqual(proc.wait(15), 0)

    def test_journald_stdout_gets_priority_prefixes_from_both_processes(self):
        srv = harness.HttpServer(self)
        srv.set("/bad", status=500)
        r, w = os.pipe()
        st = os.fstat(w)
        env = supervisor_env(JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        proc = subprocess.Popen([SUPERVISOR, "-url=" + srv.url("/bad"), "-status=200", "-tick=100ms"],
                                stdin=subprocess.DEVNULL, stdout=w, env=env)
        os.close(w)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait(5)))
        reader = os.fdopen(r, "rb")
        self.addCleanup(reader.close)
        [worker] = wait_workers(self, proc.pid, 1)

        def exec_argv():
            # Right after fork the child still shows the supervisor's argv.
            with open("/proc/%d/cmdline" % worker, "rb") as f:
                argv = f.read().split(b"\0")
            return argv if any(a.startswith(b"--supervised=") for a in argv) else None
        argv = harness.wait_for(exec_argv, 10, what="the worker to exec")
        self.assertIn(b"--journal", argv)
        self.assertIn(b"--supervised=%d" % proc.pid, argv)
        lines = []
        while not any(b"Status code mismatch" in l for l in lines):
            lines.append(reader.readline())
        proc.send_signal(signal.SIGTERM)
        lines += reader.readlines()
        self.assertEqual(proc.wait(10), 0)
        self.assertEqual(lines[0], b"<6>Started worker (pid %d).\n" % worker)
        self.assertIn(b"<4>Status code mismatch, got: 500\n", lines)
        self.assertIn(b"<6>Got SIGINT/SIGTERM, exiting.\n", lines)
        for line in lines:
            self.assertRegex(line, rb"^<[3-7]>[^<]*\n$")


if __name__ == "__main__":
    unittest.main(verbosity=2)
