#!/usr/bin/env python3
"""TLS faults, beside a healthy control target, with certificates made at
test time by the openssl command (hostile_support.Pki: a local root, an
intermediate, leaves signed with `openssl ca`): a self-signed certificate, an
expired one, one for another host name, and a valid chain that verifies only
with ca_file, whose cert_min_days check fails with its own line when the
certificate has fewer days left."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hostile_support as hs  # noqa: E402
from harness import HttpServer, tempdir, wait_for  # noqa: E402

VERIFY = r"TLS verify failed: SSL peer certificate or SSH remote key was not OK: "


class Tls(unittest.TestCase):
    def setUp(self):
        self.control = HttpServer(self)
        self.pki = hs.Pki(tempdir(self))

    def tls_server(self, cert_and_key):
        cert, key = cert_and_key
        return HttpServer(self, tls_cert=cert, tls_key=key)

    def fault(self, cert_and_key, expect, extra=(), handshake_fails=True):
        # A failed verification ends the probe before any request reaches
        # the server's log: then the failure lines, one per tick, are the
        # count of probes.
        srv = self.tls_server(cert_and_key)
        r = hs.run_case(self, self.control, srv.url("/t"), expect, fault_extra=extra,
                        fault_hits=None if handshake_fails else (lambda: srv.hits("/t")))
        hs.stop(self, r.proc)
        return r

    def test_self_signed_certificate_fails_verification(self):
        self.fault(self.pki.self_signed_leaf("selfsigned", "IP:127.0.0.1"),
                   VERIFY + r"SSL certificate problem: self-signed certificate")

    def test_expired_certificate_fails_verification(self):
        leaf = self.pki.leaf("expired", "IP:127.0.0.1", ("-startdate", "20200101000000Z", "-enddate", "20200201000000Z"))
        self.fault(leaf, VERIFY + r"SSL certificate problem: certificate has expired",
                   ["ca_file=" + self.pki.root])

    def test_certificate_for_another_host_fails_verification(self):
        leaf = self.pki.leaf("otherhost", "DNS:other.invalid")
        self.fault(leaf, VERIFY + r"SSL: no alternative certificate subject name matches target host name '127\.0\.0\.1'",
                   ["ca_file=" + self.pki.root])

    def test_local_chain_without_ca_file_fails_verification(self):
        self.fault(self.pki.leaf("noca", "IP:127.0.0.1"),
                   VERIFY + r"SSL certificate problem: unable to get local issuer certificate")

    def test_local_chain_with_ca_file_passes(self):
        srv = self.tls_server(self.pki.leaf("good", "IP:127.0.0.1"))
        d = tempdir(self)
        conf = hs.write_file(d, "o.conf", hs.conf_text(self.control.url("/control"), srv.url("/t"),
                                                       ["ca_file=" + self.pki.root, "cert_min_days=10"]))
        p = hs.Proc(self, [hs.WORKER, "-config", conf], env=hs.env())
        wait_for(lambda: srv.hits("/t") >= 1, 5, what="the first probe")
        import time
        t0 = time.time()
        wait_for(lambda: srv.hits("/t") >= hs.ROUNDS, hs.ROUNDS * hs.FAULT_TICK + 3, what="probes at each tick")
        # The result of the last probe is logged (or not) right after it.
        time.sleep(0.3)
        self.assertEqual([l for l in p.lines() if "[fault]" in l or "[control]" in l], [])
        hs.assert_control_on_schedule(self, self.control, t0, time.time())
        hs.stop(self, p)

    def test_an_upper_case_scheme_is_https_for_cert_min_days(self):
        srv = self.tls_server(self.pki.leaf("upper", "IP:127.0.0.1"))
        url = srv.url("/t").replace("https://", "HTTPS://")
        p = hs.Proc(self, [hs.WORKER, "-url=" + url, "-tick=300ms", "-status=200", "-cert_min_days=5",
                           "-ca_file=" + self.pki.root], env=hs.env())
        wait_for(lambda: srv.hits("/t") >= 2, 10, what="two probes")
        p.signal(hs.signal.SIGTERM)
        self.assertEqual(p.wait_exit(10), 0)
        # Nothing logged but the stop: not the "URL is not https" warning,
        # nor "expiry unknown".
        self.assertEqual([l for l in p.lines() if "SIGTERM" not in l], [])

    def test_ca_file_is_read_once_not_for_every_handshake(self):
        # libcurl keeps the parsed CA store only when no CA directory is set
        # (Debian's libcurl sets one by default): without that, every probe
        # parses the whole bundle again. strace counts the opens.
        import shutil
        import subprocess
        import time
        if shutil.which("strace") is None:
            self.skipTest("strace is not installed")
        srv = self.tls_server(self.pki.leaf("cached", "IP:127.0.0.1"))
        d = tempdir(self)
        trace = os.path.join(d, "trace")
        # LeakSanitizer cannot run under ptrace (an ASan build would abort at exit).
        opts = os.environ.get("ASAN_OPTIONS", "")
        env = hs.clean_env(ASAN_OPTIONS=(opts + ":" if opts else "") + "detect_leaks=0")
        p = hs.Proc(self, ["strace", "-f", "-qq", "-e", "trace=openat", "-o", trace, hs.WORKER,
                           "-url=" + srv.url("/t"), "-tick=200ms", "-status=200", "-ca_file=" + self.pki.root],
                    env=env)
        wait_for(lambda: srv.hits("/t") >= 6, 15, what="six probes")
        # The worker, not strace, is stopped; strace exits with it.
        worker = hs.children_of(p.pid)
        self.assertEqual(len(worker), 1, worker)
        os.kill(worker[0], hs.signal.SIGTERM)
        self.assertEqual(p.wait_exit(10), 0)
        with open(trace) as f:
            opens = [l for l in f if self.pki.root in l and "ENOENT" not in l]
        self.assertEqual(len(opens), 1, "the CA file was opened %d times for %d probes" % (len(opens), srv.hits("/t")))
        self.assertEqual([l for l in p.lines() if "failed" in l.lower()], [])

    def test_cert_min_days_over_remaining_validity_fails_with_its_own_line(self):
        # 20 days of validity; the first probe may come within the second the
        # certificate was signed, when exactly 20 days are left.
        self.fault(self.pki.leaf("short", "IP:127.0.0.1"), r"Certificate expires in (19|20) days, fewer than 30",
                   ["ca_file=" + self.pki.root, "cert_min_days=30"], handshake_fails=False)


if __name__ == "__main__":
    unittest.main(verbosity=2)
