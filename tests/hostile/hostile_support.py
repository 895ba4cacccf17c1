"""The fault catalogue's one shape of test, and test-time certificates.

Every case runs observer (the worker alone, or through the supervisor) with two
targets: `control`, healthy, probed every CONTROL_TICK, and `fault`, which
misbehaves, probed every FAULT_TICK with a FAULT_TIMEOUT shorter than its
tick. `run_case` then proves, from the log and from the server's request log:

  * the fault gives exactly the expected line (curl's reason), every time, and
    one `DOWN:` line carrying it; nothing else about `fault` is logged, and no
    probe overran its tick (the slot was freed by the timeout);
  * the fault is probed again at its next ticks (its count keeps growing);
  * the control target is never logged about and keeps its schedule: no gap
    between two of its requests much larger than its tick while the fault
    happens, and about as many requests as the window holds.

Traffic goes to 127.0.0.1 only; every wait is bounded; every process is ended
by PID (harness.Proc / HttpServer cleanups).
"""
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT", os.path.join(HERE, "..", "support")))

from harness import SUPERVISOR, WORKER, Proc, children_of, clean_env, rss_kib, tempdir, wait_for, write_file  # noqa: E402,F401
from harness import small_quarantine_env as env  # noqa: E402,F401

STAMP = r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d "
CONTROL_TICK = 0.4
FAULT_TICK = 1.0
FAULT_TIMEOUT_MS = 700
# A control request may come this much later than its slot before the test
# calls it a stall (Python's threaded server and a shared CI core add jitter;
# a stalled loop shows up as a whole FAULT_TIMEOUT or more).
CONTROL_SLACK = 0.25
ROUNDS = 3  # fault probes observed per case


def timeout_reason(received=r"\d+"):
    """curl's line for a probe cut by `timeout`; the milliseconds are checked
    separately (assert_timeout_ms)."""
    return (r"Probe failed: Timeout was reached: Operation timed out after (?P<ms>\d+) milliseconds "
            r"with %s bytes received" % received)


def assert_timeout_ms(test, lines):
    """Every timeout fired at FAULT_TIMEOUT, well before the next tick."""
    for line in lines:
        m = re.search(r"timed out after (\d+) milliseconds", line)
        if m:
            ms = int(m.group(1))
            test.assertTrue(FAULT_TIMEOUT_MS <= ms < FAULT_TICK * 1000 - 100,
                            "timeout after %d ms, configured %d ms: %s" % (ms, FAULT_TIMEOUT_MS, line))


def conf_text(control_url, fault_url, fault_extra=()):
    return ("status=200\n"
            "[control]\nurl=%s\ntick=%dms\ntimeout=300ms\n"
            "[fault]\nurl=%s\ntick=%dms\ntimeout=%dms\n%s") % (
                control_url, CONTROL_TICK * 1000, fault_url, FAULT_TICK * 1000, FAULT_TIMEOUT_MS,
                "".join(l + "\n" for l in fault_extra))


class CaseResult:
    def __init__(self, proc, fault_lines, window):
        self.proc = proc
        self.fault_lines = fault_lines
        self.window = window


def run_case(test, control_srv, fault_url, expect, fault_extra=(), fault_hits=None, supervised=False,
             during=None, rounds=ROUNDS):
    """Runs one catalogue case (see the module docstring) and returns its
    CaseResult. `expect` is a regex for the whole message after "[fault] ".
    `fault_hits` is a callable giving the fault target's request count, or
    None where no request can arrive (refused, DNS). `during(proc)` runs once
    per fault line observed (e.g. to sample memory)."""
    d = tempdir(test)
    conf = write_file(d, "observer.conf", conf_text(control_srv.url("/control"), fault_url, fault_extra))
    argv = [SUPERVISOR if supervised else WORKER, "-config", conf]
    p = Proc(test, argv, env=env())
    fault_rx = re.compile(STAMP + r"\[fault\] " + expect + r"\n?$")
    down_rx = re.compile(STAMP + r"\[fault\] DOWN: " + expect + r"\n?$")

    first = p.wait_line(STAMP + r"\[fault\] ", timeout=5 + FAULT_TICK)
    test.assertRegex(first, fault_rx, "the fault's first line is not the expected one")
    t_start = time.time()
    hits_at_first = fault_hits() if fault_hits else None
    seen = 1
    while seen < rounds:
        seen_now = wait_for(lambda: _count(p, fault_rx) if _count(p, fault_rx) > seen else 0,
                            FAULT_TICK * 2 + 2, what="the fault target's next tick (%d lines so far)" % seen)
        seen = seen_now
        if during:
            during(p)
    t_end = time.time()
    if fault_hits:
        # Probed again at its next ticks: the server saw new requests.
        test.assertGreaterEqual(fault_hits() - hits_at_first, rounds - 1,
                                "the fault target was not probed again at its next ticks")
    p.wait_line(STAMP + r"\[fault\] DOWN: ", timeout=2)

    lines = p.lines()
    fault_lines = [l for l in lines if "[fault] " in l]
    odd = [l for l in fault_lines if not fault_rx.match(l) and not down_rx.match(l)]
    test.assertEqual(odd, [], "lines about the fault other than the expected one")
    test.assertEqual(sum(1 for l in fault_lines if down_rx.match(l)), 1, "exactly one DOWN line")
    test.assertEqual([l for l in lines if "skipped this tick" in l], [],
                     "a probe outlived its tick: the slot was not freed")
    test.assertEqual([l for l in lines if "[control] " in l], [], "the healthy target was logged about")
    test.assertEqual([l for l in lines if not re.match(STAMP, l)], [], "a line without the time stamp")
    assert_control_on_schedule(test, control_srv, t_start, t_end)
    assert_timeout_ms(test, fault_lines)
    return CaseResult(p, fault_lines, (t_start, t_end))


def _count(p, rx):
    return sum(1 for l in p.lines() if rx.match(l))


def assert_control_on_schedule(test, control_srv, t_start, t_end):
    times = [r[0] for r in control_srv.requests() if r[2].split("?")[0] == "/control"]
    # The window is widened by one tick each side so its first and last gaps count.
    window = [t for t in times if t_start - CONTROL_TICK <= t <= t_end + CONTROL_TICK]
    test.assertGreaterEqual(len(window), 2, "the control target was not probed while the fault happened")
    gaps = [b - a for a, b in zip(window, window[1:])]
    test.assertLessEqual(max(gaps), CONTROL_TICK + CONTROL_SLACK,
                         "the control target's probes stalled: gaps %s" % ["%.3f" % g for g in gaps])
    expected = (window[-1] - window[0]) / CONTROL_TICK
    test.assertGreaterEqual(len(gaps), round(expected) - 1, "control probes missing from its schedule")


def stop(test, p):
    p.signal(signal.SIGTERM)
    test.assertEqual(p.wait_exit(15), 0)


# ---- certificates ---------------------------------------------------------

CA_CNF = """[ca]
default_ca = local
[local]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}/issued
serial = {d}/serial
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = no
[anything]
commonName = supplied
"""


def _openssl(*args, cwd=None):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))


class Pki:
    """A local CA (root -> intermediate) and leaf certificates, made with the
    openssl command in `directory`. Leaves are signed with `openssl ca`, which
    takes an explicit -startdate/-enddate, so an already-expired certificate
    needs no clock tricks."""

    def __init__(self, directory):
        self.d = directory
        os.makedirs(os.path.join(self.d, "issued"), exist_ok=True)
        open(os.path.join(self.d, "index.txt"), "w").close()
        with open(os.path.join(self.d, "serial"), "w") as f:
            f.write("1000\n")
        self.cnf = write_file(self.d, "ca.cnf", CA_CNF.format(d=self.d))
        self.root, self.root_key = self._self_signed("root", "observer test root CA",
                                                     ["basicConstraints=critical,CA:true",
                                                      "keyUsage=critical,keyCertSign,cRLSign"], days=30)
        self.inter, self.inter_key = self._signed("inter", "observer test intermediate CA", self.root, self.root_key,
                                                  ["basicConstraints=critical,CA:true,pathlen:0",
                                                   "keyUsage=critical,keyCertSign,cRLSign"], ["-days", "30"])

    def _key(self, name):
        key = os.path.join(self.d, name + ".key")
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
        return key

    def _self_signed(self, name, cn, exts, days):
        key = self._key(name)
        cert = os.path.join(self.d, name + ".pem")
        args = ["req", "-x509", "-new", "-key", key, "-out", cert, "-days", str(days), "-subj", "/CN=" + cn]
        for e in exts:
            args += ["-addext", e]
        _openssl(*args)
        return cert, key

    def _signed(self, name, cn, ca_cert, ca_key, exts, validity):
        key = self._key(name)
        csr = os.path.join(self.d, name + ".csr")
        cert = os.path.join(self.d, name + ".pem")
        _openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + cn)
        ext = write_file(self.d, name + ".ext", "\n".join(exts) + "\n")
        _openssl("ca", "-batch", "-notext", "-config", self.cnf, "-cert", ca_cert, "-keyfile", ca_key,
                 "-in", csr, "-out", cert, "-extfile", ext, *validity)
        return cert, key

    def leaf(self, name, san, validity=("-days", "20")):
        """A server certificate under the intermediate, as a chain file
        (leaf + intermediate) for the server, and its key."""
        cert, key = self._signed(name, name, self.inter, self.inter_key,
                                 ["basicConstraints=CA:false", "keyUsage=critical,digitalSignature",
                                  "extendedKeyUsage=serverAuth", "subjectAltName=" + san], list(validity))
        chain = os.path.join(self.d, name + "-chain.pem")
        with open(chain, "w") as out:
            for part in (cert, self.inter):
                with open(part) as f:
                    out.write(f.read())
        return chain, key

    def self_signed_leaf(self, name, san):
        return self._self_signed(name, name, ["subjectAltName=" + san, "basicConstraints=CA:false"], days=20)
