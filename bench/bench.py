#!/usr/bin/env python3
"""observer benchmark harness (issues 6 and 12). Normally started by bench/run.sh.

Starts its own nginx (the target, one plain-http instance and one TLS
instance whose CA and certificate it makes at run time with openssl), monit
and blackbox_exporter (the peers) and wrk (the floor) on 127.0.0.1 ports of
its own, runs the scenarios against observer, and prints two markdown tables:
the issue's targets (figure, ratio, reached) and every measure behind them.
Every process it starts is recorded by PID and stopped by PID on exit; every
load and every loop is bounded in count and time. Only 127.0.0.1 is used.

Where probes land is counted at nginx (stub_status for rates, the access log
for per-URL arrival times). CPU is utime+stime from /proc/PID/stat of the
supervisor and the worker (peers: their own process; wrk: its rusage).
Memory: VmHWM and RssAnon from /proc/PID/status, Pss from smaps_rollup.
"""
import argparse
import datetime
import http.client
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
STARTED = []  # Popen objects, stopped by pid in reverse order on exit


# ---- processes ----------------------------------------------------------------

def nofile_preexec():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def observer_preexec():
    """observer runs with the usual soft open-file limit (--observer-nofile,
    1024), as a user's shell or systemd gives it: its max_in_flight=auto is
    derived from that limit, (limit - 64) / 4."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(Observer.nofile, hard) if Observer.nofile else hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def start(argv, **kw):
    kw.setdefault("preexec_fn", nofile_preexec)
    p = subprocess.Popen(argv, **kw)
    STARTED.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=15):
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
    if p in STARTED:
        STARTED.remove(p)


def stop_all():
    for p in reversed(list(STARTED)):
        stop(p, timeout=12)


def cpu_s(pid):
    """utime+stime of one process, seconds (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pss_kib(pid):
    """Proportional set size: a shared page counts 1/n in each of the n
    processes mapping it (smaps_rollup; Linux 4.14+)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return float("nan")


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def memory(pids):
    """MiB: VmHWM, RssAnon (status) and Pss (smaps_rollup), summed over pids,
    and each per pid, in the order given."""
    out = {"hwm": 0.0, "anon": 0.0, "pss": 0.0, "each": []}
    for pid in pids:
        m = {"hwm": status_kib(pid, "VmHWM") / 1024, "anon": status_kib(pid, "RssAnon") / 1024,
             "pss": pss_kib(pid) / 1024}
        out["each"].append(m)
        for k in ("hwm", "anon", "pss"):
            out[k] += m[k]
    return out


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


# ---- TLS material, made at run time -------------------------------------------------

class Tls:
    """A CA and a server certificate (CN localhost, SAN DNS:localhost and
    IP:127.0.0.1) signed by it, made with openssl in a temp dir. Nothing of
    the system's trust store is touched: clients are given ca.pem."""

    def __init__(self, workdir, key="ec"):
        self.dir = os.path.join(workdir, "tls")
        os.makedirs(self.dir, exist_ok=True)
        self.ca, self.cert, self.key = (os.path.join(self.dir, n) for n in ("ca.pem", "server.pem", "server.key"))
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key == "ec" else ["-newkey", "rsa:2048"]
        ca_key = os.path.join(self.dir, "ca.key")
        csr = os.path.join(self.dir, "server.csr")
        ext = os.path.join(self.dir, "server.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")

        def ssl(*args):
            subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=60)

        ssl("req", "-x509", *newkey, "-nodes", "-keyout", ca_key, "-out", self.ca, "-days", "3",
            "-subj", "/CN=observer bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        ssl("req", *newkey, "-nodes", "-keyout", self.key, "-out", csr, "-subj", "/CN=localhost")
        ssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", ca_key, "-CAcreateserial",
            "-out", self.cert, "-days", "3", "-extfile", ext)
        os.chmod(self.key, 0o644)  # nginx's master reads it as root; tidy anyway: it is a throw-away key
        self.kind = "ECDSA P-256" if key == "ec" else "RSA 2048"


# ---- nginx (the target) ------------------------------------------------------------

class Nginx:
    """One nginx, 1 worker process. Plain: `return 200 "ok\\n"` with
    keepalive_timeout 0 (nginx closes: every probe is a fresh connection,
    TIME_WAIT on the server's side). With tls: the same over TLS, with the
    session cache and session tickets off, so every probe is a full
    handshake, and stub_status on a plain port of its own."""

    def __init__(self, workdir, tls=None, name="nginx"):
        self.dir = os.path.join(workdir, name)
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.tls = tls
        self.port = free_port()
        self.status_port = free_port() if tls else self.port
        self.access_log = os.path.join(self.dir, "access.log")
        self.scheme = "https" if tls else "http"
        if tls:
            listen = f"""
  server {{ listen 127.0.0.1:{self.status_port}; location = /stub_status {{ stub_status; access_log off; }} }}
  server {{
    listen 127.0.0.1:{self.port} ssl backlog=8192;
    ssl_certificate {tls.cert};
    ssl_certificate_key {tls.key};
    ssl_session_cache off;
    ssl_session_tickets off;"""
        else:
            listen = f"""
  server {{
    listen 127.0.0.1:{self.port} backlog=8192;
    location = /stub_status {{ stub_status; access_log off; }}"""
        conf = f"""
worker_processes 1;
worker_rlimit_nofile 20000;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 16000; multi_accept on; }}
http {{
  client_body_temp_path {self.dir}/tmp/body;
  proxy_temp_path {self.dir}/tmp/proxy;
  fastcgi_temp_path {self.dir}/tmp/fastcgi;
  uwsgi_temp_path {self.dir}/tmp/uwsgi;
  scgi_temp_path {self.dir}/tmp/scgi;
  # $ssl_session_reused: "r" if a TLS session was resumed, "." if not ("" on plain http).
  log_format arrivals '$msec $uri $status $ssl_session_reused';
  keepalive_timeout 0;
  {listen}
    location / {{
      access_log {self.access_log} arrivals buffer=256k flush=1s;
      default_type text/plain;
      return 200 "ok\\n";
    }}
  }}
}}
"""
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self):
        self.proc = start(["nginx", "-p", self.dir, "-c", self.conf, "-g", "daemon off;"],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "stderr"), "w"))
        wait_port(self.port)
        wait_port(self.status_port)

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def requests(self):
        """Requests nginx has served, minus this stub_status call itself."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.status_port}/stub_status", timeout=5) as r:
            lines = r.read().decode().splitlines()
        return int(lines[2].split()[2]) - 1

    def flush_log(self):
        # USR1 reopens the logs, which flushes the buffered access log.
        os.kill(self.proc.pid, signal.SIGUSR1)
        time.sleep(0.3)

    def arrivals(self, prefix, resumed=None):
        """{uri: [unix seconds, ...]} of 200 answers under /prefix/. With a
        list as resumed, appends the count of resumed TLS sessions."""
        self.flush_log()
        out = {}
        pre = "/" + prefix + "/"
        reused = 0
        with open(self.access_log) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[1].startswith(pre):
                    out.setdefault(parts[1], []).append(float(parts[0]))
                    reused += len(parts) > 3 and parts[3] == "r"
        if resumed is not None:
            resumed.append(reused)
        return out

    def count(self, prefix, resumed=None):
        return sum(len(v) for v in self.arrivals(prefix, resumed).values())


# ---- observer ------------------------------------------------------------------------

class Notify:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, workdir, tag):
        self.path = os.path.join(workdir, f"notify-{tag}.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def wait(self, word, timeout):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"no {word} on NOTIFY_SOCKET within {timeout}s")
            self.sock.settimeout(left)
            msg = self.sock.recv(4096).decode()
            if word in msg.split("\n"):
                return time.monotonic()

    def close(self):
        self.sock.close()
        os.unlink(self.path)


class Observer:
    def __init__(self, bins, workdir, nginx, tag, n, tick_s, extra=()):
        self.bins, self.nginx, self.tag, self.n, self.tick_s = bins, nginx, tag, n, tick_s
        self.dir = os.path.join(workdir, tag)
        os.makedirs(self.dir, exist_ok=True)
        self.ini = os.path.join(self.dir, "observer.conf")
        self.urls = {}
        with open(self.ini, "w") as f:
            f.write(f"tick={tick_s}s\nlog_format=json\n")
            if nginx.tls:
                f.write(f"ca_file={nginx.tls.ca}\n")
            for line in extra:
                f.write(line + "\n")
            for i in range(n):
                name = f"t{i}"
                url = nginx.url(f"/{tag}/{i}")
                self.urls[url] = name
                f.write(f"[{name}]\nurl={url}\n")
        self.out = os.path.join(self.dir, "stdout")

    extra_env = {}  # --env KEY=VALUE (experiments, e.g. GLIBC_TUNABLES)
    extra_conf = []  # --conf KEY=VALUE, before the first section of every config
    nofile = 1024  # --observer-nofile

    def start(self):
        self.notify = Notify(self.dir, "n")
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.path, **Observer.extra_env)
        t0 = time.monotonic()
        self.proc = start([self.bins + "/observer", "-config", self.ini], env=env, preexec_fn=observer_preexec,
                          stdout=open(self.out, "w"), stderr=open(self.out + ".err", "w"))
        self.notify.wait("READY=1", 120)
        self.ready_wall = time.time()
        self.start_ms = (time.monotonic() - t0) * 1000
        self.worker = self.worker_pid()

    def worker_pid(self):
        kids = children(self.proc.pid)
        if len(kids) != 1:
            raise RuntimeError(f"expected one worker under {self.proc.pid}, got {kids}")
        return kids[0]

    def cpu(self):
        return cpu_s(self.proc.pid) + cpu_s(self.worker)

    def memory(self):
        """Supervisor + worker; each[0] is the supervisor, each[1] the worker."""
        return memory([self.proc.pid, self.worker])

    def reload(self):
        """SIGHUP -> READY=1 (sent once the new worker said READY), ms."""
        t0 = time.monotonic()
        wall = time.time()
        os.kill(self.proc.pid, signal.SIGHUP)
        self.notify.wait("READY=1", 60)
        ms = (time.monotonic() - t0) * 1000
        return ms, wall

    def phases(self):
        """{url: phase (s)} of every target: its slot k starts at phase + k *
        tick since the epoch. observer-worker -check-config prints each
        target's phase as the engine computes it (snapped to the wake-up
        grid of its tick), for this very config and environment."""
        if not hasattr(self, "_phases"):
            out = subprocess.run([self.bins + "/observer-worker", "-check-config", "-config", self.ini],
                                 env=dict(os.environ, **Observer.extra_env), capture_output=True, text=True,
                                 check=True).stdout
            by_name = dict(re.findall(r"^target \[(.*)\]:\n(?:  .*\n)*?  schedule +phase_ns=(\d+) ", out, re.M))
            self._phases = {url: int(by_name[name]) / 1e9 for url, name in self.urls.items()}
        return self._phases

    def terminate(self):
        self.term_wall = time.time()
        t0 = time.monotonic()
        os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait(60)
        ms = (time.monotonic() - t0) * 1000
        STARTED.remove(self.proc)
        self.notify.close()
        return ms, self.proc.returncode

    def lines(self):
        with open(self.out) as f:
            return f.readlines()


def measure_window(nginx, cpu_fn, window):
    r0, c0, t0, w0 = nginx.requests(), cpu_fn(), time.monotonic(), time.time()
    time.sleep(window)
    r1, c1, t1, w1 = nginx.requests(), cpu_fn(), time.monotonic(), time.time()
    probes = r1 - r0
    return {"rate": probes / (t1 - t0), "cpu_us": (c1 - c0) * 1e6 / max(probes, 1),
            "cpu_pct": (c1 - c0) * 100 / (t1 - t0), "probes": probes, "w0": w0, "w1": w1}


def log_time(rec):
    """Unix seconds of a json log record's "time" (UTC, ms), or None."""
    t = rec.get("time")
    if not isinstance(t, str):
        return None
    try:
        return datetime.datetime.strptime(t.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None


def outcomes(lines, t_from=None, t_to=None):
    """From the worker's json log: transport/TLS failures (by kind) and
    unprobed slots. Every unprobed slot is a "tick_skipped" record: the
    target's own probe still ran (reason "overrun"), or max_in_flight probes
    were in flight (reason "max_in_flight"); the worker logs a target's first
    skip at once and sums later ones into a line a minute ("skipped": N),
    flushed at exit, so the whole log of a stopped worker counts them all.
    Optionally only records whose time is in [t_from, t_to)."""
    kinds, skipped, completed = {}, {}, 0
    for line in lines:
        if ("transport" not in line and "tls_verify" not in line and "tick_skipped" not in line
                and '"check":"status"' not in line):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if t_from is not None:
            t = log_time(rec)
            if t is None or not t_from <= t < t_to:
                continue
        if rec.get("check") == "status":
            completed += 1
        elif rec.get("check") in ("transport", "tls_verify"):
            kind = rec.get("check") if rec["check"] == "tls_verify" else rec.get("error", "?").split(":")[0]
            kinds[kind] = kinds.get(kind, 0) + 1
        elif rec.get("event") == "tick_skipped":
            n = rec.get("skipped", 1)
            reason = rec.get("reason", "overrun")
            skipped[reason] = skipped.get(reason, 0) + (n if isinstance(n, int) else 1)
    return {"completed": completed, "failed": sum(kinds.values()), "kinds": kinds, "skipped": sum(skipped.values()),
            "skip_reasons": skipped, "tick_skipped": skipped.get("overrun", 0),
            "bound_skipped": skipped.get("max_in_flight", 0)}


def failures(lines):
    """Transport failures and skipped ticks over the whole log, with kinds."""
    o = outcomes(lines)
    kinds = dict(o["kinds"])
    for reason, n in o["skip_reasons"].items():
        kinds[f"skipped ({reason})"] = n
    return sum(kinds.values()), kinds


def slots_in(phases, tick_s, t_from, t_to):
    """How many slots of every target's schedule (Observer.phases()) start
    in [t_from, t_to)."""
    n = 0
    for phase in phases.values():
        first = int((t_from - phase) // tick_s) + 1
        if phase + (first - 1) * tick_s >= t_from:
            first -= 1
        last = int((t_to - phase) // tick_s)
        if phase + last * tick_s >= t_to:
            last -= 1
        n += max(0, last - first + 1)
    return n


def missed_ticks(arrivals, phases, tick_s, t_from, t_to):
    """Per target, the slots of its schedule (Observer.phases()) that start
    in [t_from, t_to - tick]: a slot with no arrival in [slot - 10 % tick,
    next slot - 10 % tick) is missed, one with two or more was probed twice.
    Also the latest arrival after its slot. Returns (targets with a missed
    slot, targets probed twice, max late ms)."""
    missed, doubled, late = 0, 0, 0.0
    for url, phase in phases.items():
        path = "/" + url.split("/", 3)[3]
        ts = sorted(arrivals.get(path, []))
        k = int((t_from - phase) // tick_s) + 1
        m = d = False
        while phase + k * tick_s <= t_to - tick_s:
            slot = phase + k * tick_s
            got = [t for t in ts if slot - 0.1 * tick_s <= t < slot + 0.9 * tick_s]
            if not got:
                m = True
            elif len(got) > 1:
                d = True
            else:
                late = max(late, (got[0] - slot) * 1000)
            k += 1
        missed += m
        doubled += d
    return missed, doubled, late


def nginx_side_lag_ms(arrivals, phases, tick_s, t_from, t_to):
    """Arrival (nginx $msec, ms resolution, logged after the answer) minus the
    probe's ideal start on the wall-clock-aligned schedule (Observer.phases()),
    per probe."""
    lags = []
    for url, phase_s in phases.items():
        path = "/" + url.split("/", 3)[3]
        for t in arrivals.get(path, []):
            if t_from <= t <= t_to:
                lag = (t - phase_s) % tick_s
                if lag > tick_s / 2:
                    lag -= tick_s  # early (ms truncation of $msec)
                lags.append(lag * 1000)
    return lags


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


# ---- peers ----------------------------------------------------------------------------

def run_wrk(url, seconds, conns, extra=()):
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{max(1, int(seconds))}s", "--timeout", "5s"] + list(extra)
    argv.append(url)
    p = start(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    out = p.stdout.read().decode()
    STARTED.remove(p)
    return ru.ru_utime + ru.ru_stime, out


def scrape_loop(port, path, rate, seconds, threads=4):
    """Requests http://127.0.0.1:port/path at a fixed rate (slot k at
    t0 + k/rate, k < rate*seconds), from a few threads each holding one
    keep-alive connection; a slot that comes while its thread is still busy
    is sent late, never dropped. Bounded by count and by seconds + 10 s."""
    total = int(rate * seconds)
    t0 = time.monotonic() + 0.05
    deadline = t0 + seconds + 10
    errors = [0]

    def run(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for k in range(i, total, threads):
            if time.monotonic() > deadline:
                break
            wait = t0 + k / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                conn.request("GET", path)
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.close()

    ts = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(seconds + 15)
    return errors[0]


class Blackbox:
    def __init__(self, workdir, tls):
        self.dir = os.path.join(workdir, "blackbox")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "blackbox.yml")
        with open(self.conf, "w") as f:
            f.write("modules:\n"
                    "  http_2xx:\n    prober: http\n    timeout: 5s\n"
                    "    http:\n      preferred_ip_protocol: ip4\n"
                    "  https_2xx:\n    prober: http\n    timeout: 5s\n"
                    "    http:\n      preferred_ip_protocol: ip4\n      fail_if_not_ssl: true\n"
                    f"      tls_config:\n        ca_file: {tls.ca}\n")

    def start(self):
        self.proc = start(["prometheus-blackbox-exporter", f"--config.file={self.conf}",
                           f"--web.listen-address=127.0.0.1:{self.port}"],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "stderr"), "w"))
        wait_port(self.port)

    def path(self, nginx, tag):
        module = "https_2xx" if nginx.tls else "http_2xx"
        return f"/probe?module={module}&target={nginx.url('/' + tag + '/x')}"

    def url(self, nginx, tag):
        return f"http://127.0.0.1:{self.port}" + self.path(nginx, tag)


class Monit:
    def __init__(self, workdir, nginx, tag, n):
        self.dir = os.path.join(workdir, tag)
        os.makedirs(self.dir, exist_ok=True)
        self.rc = os.path.join(self.dir, "monitrc")
        proto = "https" if nginx.tls else "http"
        with open(self.rc, "w") as f:
            f.write(f"set daemon 1\nset pidfile {self.dir}/monit.pid\nset idfile {self.dir}/monit.id\n"
                    f"set statefile {self.dir}/monit.state\nset logfile {self.dir}/monit.log\n")
            if nginx.tls:
                # Verified against the run's CA, as observer and blackbox are.
                f.write(f"set ssl options {{ verify: enable, cacertificatefile: {nginx.tls.ca} }}\n")
            for i in range(n):
                f.write(f"check host m{i} with address 127.0.0.1\n"
                        f"  if failed port {nginx.port} protocol {proto} request \"/{tag}/{i}\""
                        f" with timeout 5 seconds then alert\n")
        os.chmod(self.rc, 0o600)

    def start(self):
        self.proc = start(["monit", "-c", self.rc, "-I"], stdout=subprocess.DEVNULL,
                          stderr=open(os.path.join(self.dir, "stderr"), "w"))

    def failed(self):
        try:
            with open(os.path.join(self.dir, "monit.log")) as f:
                return sum("failed" in line.lower() for line in f)
        except FileNotFoundError:
            return 0


# ---- scenarios: plain http (libcurl) ----------------------------------------------------

def scenario_big(a, bins, work, nginx, run):
    """10 000 targets at a 1s tick: rate, CPU, memory, reload, shutdown."""
    tag = f"big{run}"
    obs = Observer(bins, work, nginx, tag, a.targets, 1, extra=Observer.extra_conf)
    obs.start()
    time.sleep(a.warmup)
    m = measure_window(nginx, obs.cpu, a.window)
    mem = obs.memory()
    m.update(start_ms=obs.start_ms, rss=mem["hwm"], anon=mem["anon"], pss=mem["pss"],
             sup_rss=mem["each"][0]["hwm"], worker_rss=mem["each"][1]["hwm"],
             sup_anon=mem["each"][0]["anon"], worker_anon=mem["each"][1]["anon"],
             sup_pss=mem["each"][0]["pss"], worker_pss=mem["each"][1]["pss"])
    old_worker = obs.worker
    reload_ms, hup_wall = obs.reload()
    time.sleep(3)
    obs.worker = obs.worker_pid()
    m["new_worker_rss"] = status_kib(obs.worker, "VmHWM") / 1024
    m["reload_ms"] = reload_ms
    m["worker_changed"] = obs.worker != old_worker
    term_ms, code = obs.terminate()
    m.update(term_ms=term_ms, exit=code)
    arr = nginx.arrivals(tag)
    m["missed"], m["doubled"], m["late_ms"] = missed_ticks(arr, obs.phases(), 1, hup_wall - 2, hup_wall + 3)
    m["failures"], m["failure_kinds"] = failures(obs.lines())
    return m


def scenario_scrape(a, bins, work, nginx, run):
    """/metrics of --targets targets (issue 15): the worker's CPU with one
    scrape a second against none, and how long a scrape takes. A 30 s tick,
    so that probing costs little in either window, and every target has
    probed once (all its series are there) before anything is measured."""
    tag = f"scrape{run}"
    port = free_port()
    tick = 30 if a.targets >= 10000 else 2
    obs = Observer(bins, work, nginx, tag, a.targets, tick, extra=Observer.extra_conf + [f"listen=127.0.0.1:{port}"])
    obs.start()
    time.sleep(tick + 1)
    urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read()
    c0 = cpu_s(obs.worker)
    time.sleep(a.window)
    base = cpu_s(obs.worker) - c0
    took, size = [], 0
    c0 = cpu_s(obs.worker)
    t_end = time.monotonic() + a.window
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        size = len(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read())
        took.append((time.monotonic() - t0) * 1000)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
    with_scrapes = cpu_s(obs.worker) - c0
    obs.terminate()
    return {"scrape_ms": pct(took, 50), "scrape_ms_max": max(took), "scrapes": len(took), "bytes": size,
            "cpu_pct": max(0.0, with_scrapes - base) / a.window * 100}


def scenario_ramp(a, bins, work, nginx, run):
    """Beyond --targets: more targets at 1s (plain http), to see where the
    rate stops landing whole."""
    out = {}
    for n in a.ramp:
        tag = f"ramp{n}r{run}"
        obs = Observer(bins, work, nginx, tag, n, 1, extra=Observer.extra_conf)
        obs.start()
        time.sleep(a.warmup)
        m = measure_window(nginx, obs.cpu, a.window)
        obs.terminate()
        fails, kinds = failures(obs.lines())
        out[n] = {"rate": m["rate"], "cpu_us": m["cpu_us"], "cpu_pct": m["cpu_pct"], "failures": fails,
                  "kinds": kinds}
    return out


def scenario_low(a, bins, work, nginx, run, tag="low"):
    """200 probes/s (200 targets at 1s), over --low-window."""
    obs = Observer(bins, work, nginx, f"{tag}{run}", a.low, 1, extra=Observer.extra_conf)
    obs.start()
    time.sleep(a.warmup)
    m = measure_window(nginx, obs.cpu, a.low_window)
    m["rss"] = obs.memory()["hwm"]
    obs.terminate()
    m["failures"], m["failure_kinds"] = failures(obs.lines())
    return m


def scenario_lag(a, bins, work, nginx, run):
    """Lag at 1000 probes/s. status=500 makes every probe log a line that
    carries lag_us (the worker's own measure, at the timer callback)."""
    tag = f"lag{run}"
    obs = Observer(bins, work, nginx, tag, a.lag_targets, 1, extra=["status=500"] + Observer.extra_conf)
    obs.start()
    time.sleep(a.warmup)
    skip = len(obs.lines())
    w0 = time.time()
    m = measure_window(nginx, obs.cpu, a.window)
    w1 = time.time()
    lines = obs.lines()[skip:]
    obs.terminate()
    lags = []
    for line in lines:
        if '"lag_us"' in line:
            try:
                lags.append(json.loads(line)["lag_us"] / 1000)
            except (ValueError, KeyError):
                pass
    m["lag_p50"], m["lag_p99"], m["lag_max"] = pct(lags, 50), pct(lags, 99), max(lags or [float("nan")])
    m["lag_n"] = len(lags)
    ng = nginx_side_lag_ms(nginx.arrivals(tag), obs.phases(), 1, w0, w1)
    m["ng_p50"], m["ng_p99"], m["ng_n"] = pct(ng, 50), pct(ng, 99), len(ng)
    return m


def peer_wrk(a, nginx, tag):
    """wrk at its own maximum, one thread, 32 connections, Connection: close:
    a fresh connection (over TLS: a full handshake) per request."""
    cpu, out = run_wrk(nginx.url(f"/{tag}/x"), a.window, 32, extra=["-H", "Connection: close"])
    resumed = []
    n = nginx.count(tag, resumed)
    if n == 0:
        print("bench: wrk landed nothing:\n" + out, file=sys.stderr)
    return {"rate": n / a.window, "cpu_us": cpu * 1e6 / max(n, 1), "resumed": resumed[0]}


def peer_blackbox_max(a, bb, nginx, tag):
    """blackbox driven by wrk (32 connections) at its own maximum."""
    c0 = cpu_s(bb.proc.pid)
    run_wrk(bb.url(nginx, tag), a.window, 32)
    c1 = cpu_s(bb.proc.pid)
    n = nginx.count(tag)
    return {"rate": n / a.window, "cpu_us": (c1 - c0) * 1e6 / max(n, 1),
            "rss": status_kib(bb.proc.pid, "VmHWM") / 1024}


def peer_blackbox_low(a, bb, nginx, tag):
    """blackbox scraped at --low probes/s by a fixed-rate loop, as Prometheus
    would scrape --low targets once a second."""
    c0 = cpu_s(bb.proc.pid)
    t0 = time.monotonic()
    errors = scrape_loop(bb.port, bb.path(nginx, tag), a.low, a.low_window)
    dt = time.monotonic() - t0
    c1 = cpu_s(bb.proc.pid)
    resumed = []
    n = nginx.count(tag, resumed)
    return {"rate": n / dt, "cpu_us": (c1 - c0) * 1e6 / max(n, 1), "errors": errors, "resumed": resumed[0],
            "rss": status_kib(bb.proc.pid, "VmHWM") / 1024, "pss": pss_kib(bb.proc.pid) / 1024}


def peer_monit(a, work, nginx, tag):
    mon = Monit(work, nginx, tag, a.low)
    mon.start()
    time.sleep(a.warmup)
    m = measure_window(nginx, lambda: cpu_s(mon.proc.pid), a.low_window)
    m["rss"] = status_kib(mon.proc.pid, "VmHWM") / 1024
    m["pss"] = pss_kib(mon.proc.pid) / 1024
    stop(mon.proc)
    m["failed"] = mon.failed()
    return m


# ---- scenarios: https --------------------------------------------------------------------

def tls_step(a, bins, work, tnginx, tag, n, window):
    """n https targets at 1s for `window` seconds after --warmup: landed
    rate, CPU per landed probe, memory, and what became of every slot.

    status=500 makes every completed probe log one line (a status mismatch:
    nginx answers 200), so that the worker's own log accounts for every slot;
    a line costs a few µs against the ~1 ms of a full handshake."""
    obs = Observer(bins, work, tnginx, tag, n, 1, extra=["status=500"] + Observer.extra_conf)
    obs.start()
    time.sleep(a.warmup)
    m = measure_window(tnginx, obs.cpu, window)
    mem = obs.memory()
    m.update(n=n, rss=mem["hwm"], anon=mem["anon"], pss=mem["pss"], worker_anon=mem["each"][1]["anon"])
    obs.terminate()
    # Every slot of the worker's life, READY to SIGTERM (replicated from the
    # schedule), must be in the worker's log: a completed probe (its status
    # line), a failed one (transport / tls_verify), or a skipped slot
    # (tick_skipped, with its count). A stopped worker has let its last
    # probes finish and flushed its skip counts, so its log is complete.
    # nginx's count of arrivals is the cross-check: every completed probe
    # landed there (a probe that timed out after nginx answered landed too).
    o = outcomes(obs.lines())
    m.update(completed=o["completed"], failed=o["failed"], kinds=o["kinds"], skipped=o["skipped"],
             skip_reasons=o["skip_reasons"], tick_skipped=o["tick_skipped"], bound_skipped=o["bound_skipped"])
    m["offered"] = slots_in(obs.phases(), 1, obs.ready_wall, obs.term_wall)
    m["landed"] = tnginx.count(tag)
    m["unaccounted"] = m["offered"] - m["completed"] - m["skipped"] - m["failed"]
    m["life_s"] = obs.term_wall - obs.ready_wall
    m["kept_up"] = (m["rate"] >= 0.97 * n and m["completed"] >= 0.97 * m["offered"]
                    and m["skipped"] + m["failed"] <= 0.01 * m["offered"])
    return m


def tls_capacity(a, bins, work, tnginx):
    """Observer's HTTPS maximum: the most targets at 1s whose probes all land
    (≥ 97 % of n a second landed in the window, ≥ 97 % of the slots
    completed, ≤ 1 % skipped or failed). Doubles from
    --tls-start while it keeps up, then bisects; at most --tls-steps steps."""
    steps, good, bad = [], None, None
    n = a.tls_start
    for i in range(a.tls_steps):
        m = tls_step(a, bins, work, tnginx, f"tlscap{i}", n, a.tls_step_window)
        steps.append({k: m[k] for k in ("n", "rate", "cpu_us", "cpu_pct", "offered", "completed", "landed",
                                        "skipped", "failed", "kept_up")})
        print(f"bench: https capacity step {i + 1}: {n} targets, {m['rate']:.0f}/s landed, "
              f"{m['skipped']} skipped, {m['failed']} failed, CPU {m['cpu_pct']:.0f}% "
              f"-> {'kept up' if m['kept_up'] else 'behind'}", file=sys.stderr)
        if m["kept_up"]:
            good = (n, m["rate"]) if good is None or n > good[0] else good
        else:
            bad = n if bad is None or n < bad else bad
        if bad is None:
            n *= 2
        elif good is None:
            n = max(10, n // 2)
        else:
            nxt = (good[0] + bad) // 2
            if bad - good[0] <= max(50, good[0] // 10):
                break
            n = nxt
    if good is None:
        good = (n, float("nan"))
    return {"n": good[0], "rate": good[1], "steps": steps}


def tls_low(a, bins, work, tnginx, run):
    return scenario_low(a, bins, work, tnginx, run, tag="tlslow")


# ---- report -----------------------------------------------------------------------------

def agg(runs, key):
    v = [r[key] for r in runs if isinstance(r, dict) and key in r and r[key] is not None and r[key] == r[key]]
    if not v:
        return None
    return statistics.median(v), min(v), max(v)


def fmt(t, d=1):
    if t is None:
        return "n/a"
    med, lo, hi = t
    if lo == hi:
        return f"{med:.{d}f}"
    return f"{med:.{d}f} [{lo:.{d}f}–{hi:.{d}f}]"


def ratio_of(x, y):
    if x is None or y is None or not y[0]:
        return None
    return x[0] / y[0]


def fr(r, d=2):
    return "n/a" if r is None else f"{r:.{d}f}×"


def yes(ok):
    return "n/a" if ok is None else ("**yes**" if ok else "**no**")


def kinds_sum(runs, key):
    kinds = {}
    for r in runs:
        for k, v in (r.get(key) or {}).items():
            kinds[k] = kinds.get(k, 0) + v
    return ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))


def report(a, R):
    big, low, lag = R["big"], R["low"], R["lag"]
    wrk, bbmax, bblow, mon = R["wrk"], R["bbmax"], R["bblow"], R["monit"]
    wrktls, tmax, tover, tlow, montls, bbtls = (R["wrktls"], R["tlsmax"], R["tlsover"], R["tlslow"],
                                               R["monittls"], R["bbtls"])
    cap = R.get("tlscap") or {}
    T, D = [], []

    def target(what, figure, ratio, ok):
        T.append(f"| {what} | {figure} | {ratio} | {yes(ok)} |")

    def row(scn, metric, obs, peers=""):
        D.append(f"| {scn} | {metric} | {obs} | {peers} |")

    # -- the targets --
    tcpu, wtcpu = agg(tmax, "cpu_us"), agg(wrktls, "cpu_us")
    r = ratio_of(tcpu, wtcpu)
    target("HTTPS: CPU per probe ≤ 1.25× wrk's TLS floor",
           f"{fmt(tcpu)} µs at {fmt(agg(tmax, 'rate'), 0)}/s vs wrk {fmt(wtcpu)} µs", fr(r),
           None if r is None else r <= 1.25)
    tl, bt, mt = agg(tlow, "cpu_us"), agg(bbtls, "cpu_us"), agg(montls, "cpu_us")
    r = ratio_of(tl, bt)
    target(f"HTTPS at {a.low}/s: CPU per probe ≤ 0.7× blackbox_exporter's",
           f"{fmt(tl)} µs vs blackbox {fmt(bt)} µs", fr(r), None if r is None else r <= 0.7)
    r = ratio_of(tl, mt)
    target(f"HTTPS at {a.low}/s: CPU per probe ≤ monit's",
           f"{fmt(tl)} µs vs monit {fmt(mt)} µs", fr(r), None if r is None else r <= 1.0)
    if big:
        whole = all(x["rate"] >= 0.99 * a.targets and x["failures"] == 0 for x in big)
        target(f"HTTP: {a.targets} targets at 1 s land {a.targets}/s, no failure",
               f"{fmt(agg(big, 'rate'), 0)}/s, failures {fmt(agg(big, 'failures'), 0)}",
               fr(ratio_of(agg(big, "rate"), (a.targets, 0, 0))), whole if a.targets >= 10000 else None)
    cpu, wcpu = agg(big, "cpu_us"), agg(wrk, "cpu_us")
    r = ratio_of(cpu, wcpu)
    target("HTTP: CPU per probe ≤ 1.6× wrk's", f"{fmt(cpu)} µs vs wrk {fmt(wcpu)} µs", fr(r),
           None if r is None else r <= 1.6)
    lcpu, mcpu = agg(low, "cpu_us"), agg(mon, "cpu_us")
    r = ratio_of(lcpu, mcpu)
    target(f"HTTP at {a.low}/s: CPU per probe ≤ 1.25× monit's", f"{fmt(lcpu)} µs vs monit {fmt(mcpu)} µs",
           fr(r), None if r is None else r <= 1.25)
    wa = agg(big, "worker_anon")
    target(f"{a.targets} targets: worker RssAnon ≤ 16 MiB", f"{fmt(wa)} MiB",
           fr(ratio_of(wa, (16, 0, 0))), None if wa is None or a.targets < 10000 else wa[0] <= 16)
    pss = agg(big, "pss")
    target(f"{a.targets} targets: supervisor + worker Pss ≤ 24 MiB", f"{fmt(pss)} MiB",
           fr(ratio_of(pss, (24, 0, 0))), None if pss is None or a.targets < 10000 else pss[0] <= 24)
    ocap = agg(tmax, "rate")
    orate, ocpu = agg(tover, "rate"), agg(tover, "cpu_us")
    r = ratio_of(orate, ocap)
    target(f"HTTPS overload at 2× capacity ({2 * cap.get('n', 0)} targets at 1 s): landed ≥ 0.9× capacity",
           f"{fmt(orate, 0)}/s vs {fmt(ocap, 0)}/s at capacity", fr(r), None if r is None else r >= 0.9)
    r = ratio_of(ocpu, tcpu)
    target("HTTPS overload: CPU per landed probe ≤ 1.2× at capacity", f"{fmt(ocpu)} µs vs {fmt(tcpu)} µs",
           fr(r), None if r is None else r <= 1.2)
    if tover:
        frac = [abs(x["unaccounted"]) / max(1, x["offered"]) for x in tover]
        acc = agg([{"u": x["unaccounted"]} for x in tover], "u")
        target("HTTPS overload: every unprobed slot counted (completed + skipped + failed = offered)",
               f"offered {fmt(agg(tover, 'offered'), 0)}, completed {fmt(agg(tover, 'completed'), 0)}, "
               f"skipped {fmt(agg(tover, 'skipped'), 0)}, failed {fmt(agg(tover, 'failed'), 0)}; "
               f"unaccounted {fmt(acc, 0)}",
               f"{max(frac) * 100:.1f} % unaccounted (worst run)", max(frac) <= 0.02)
    rl = agg(big, "reload_ms")
    target(f"Reload, {a.targets} targets: READY ≤ 100 ms", f"{fmt(rl)} ms", fr(ratio_of(rl, (100, 0, 0))),
           None if rl is None else rl[0] <= 100)
    missed, doubled = agg(big, "missed"), agg(big, "doubled")
    target("Reload: 0 slots missed, 0 probed twice", f"{fmt(missed, 0)} missed / {fmt(doubled, 0)} twice", "",
           None if missed is None else missed[2] == 0 and doubled[2] == 0)
    scr = R.get("scrape") or []
    sp, sm = agg(scr, "cpu_pct"), agg(scr, "scrape_ms")
    target(f"/metrics, {a.targets} targets scraped every second: ≤ 5 % of a core", f"{fmt(sp)} % of a core",
           fr(ratio_of(sp, (5, 0, 0))), None if sp is None or a.targets < 10000 else sp[0] <= 5)
    target(f"/metrics, {a.targets} targets: a scrape answered in ≤ 50 ms",
           f"{fmt(sm)} ms (max {fmt(agg(scr, 'scrape_ms_max'))} ms, {fmt(agg(scr, 'bytes'), 0)} bytes)",
           fr(ratio_of(sm, (50, 0, 0))), None if sm is None or a.targets < 10000 else sm[0] <= 50)

    # -- every measure --
    if cap:
        steps = "; ".join(f"{s['n']}: {s['rate']:.0f}/s{'' if s['kept_up'] else ' (behind)'}"
                          for s in cap.get("steps", []))
        row("https capacity", "most https targets at 1 s whose slots all land (search: targets → landed/s)",
            f"{cap.get('n')} targets, {cap.get('rate', float('nan')):.0f}/s", steps)
    row("https at capacity", f"landed/s; µs CPU per probe (supervisor+worker); % of a core",
        f"{fmt(agg(tmax, 'rate'), 0)}/s; {fmt(tcpu)} µs; {fmt(agg(tmax, 'cpu_pct'), 0)} %",
        f"wrk -c32 Connection: close {fmt(agg(wrktls, 'rate'), 0)}/s, {fmt(wtcpu)} µs "
        f"(obs/wrk {fr(ratio_of(tcpu, wtcpu))}; resumed sessions {fmt(agg(wrktls, 'resumed'), 0)})")
    row("https at capacity", "slots READY to SIGTERM: offered = completed + skipped + failed + unaccounted",
        f"{fmt(agg(tmax, 'offered'), 0)} = {fmt(agg(tmax, 'completed'), 0)} + {fmt(agg(tmax, 'skipped'), 0)} + "
        f"{fmt(agg(tmax, 'failed'), 0)} + {fmt(agg(tmax, 'unaccounted'), 0)}",
        kinds_sum(tmax, "kinds"))
    row("https at capacity", "MiB supervisor+worker VmHWM / RssAnon / Pss",
        f"{fmt(agg(tmax, 'rss'))} / {fmt(agg(tmax, 'anon'))} / {fmt(agg(tmax, 'pss'))}")
    row("https overload", "landed/s; µs CPU per landed probe; % of a core",
        f"{fmt(orate, 0)}/s; {fmt(ocpu)} µs; {fmt(agg(tover, 'cpu_pct'), 0)} %",
        f"landed/capacity {fr(ratio_of(orate, ocap))}; CPU vs capacity {fr(ratio_of(ocpu, tcpu))}")
    row("https overload", "slots from READY to SIGTERM: offered = completed + skipped (overrun + max_in_flight) + failed + unaccounted; landed at nginx",
        f"{fmt(agg(tover, 'offered'), 0)} = {fmt(agg(tover, 'completed'), 0)} + "
        f"({fmt(agg(tover, 'tick_skipped'), 0)} + {fmt(agg(tover, 'bound_skipped'), 0)}) + "
        f"{fmt(agg(tover, 'failed'), 0)} + {fmt(agg([{'u': x['unaccounted']} for x in tover], 'u'), 0)}; "
        f"{fmt(agg(tover, 'landed'), 0)}", kinds_sum(tover, "kinds"))
    row("https overload", "MiB supervisor+worker VmHWM / RssAnon / Pss",
        f"{fmt(agg(tover, 'rss'))} / {fmt(agg(tover, 'anon'))} / {fmt(agg(tover, 'pss'))}")
    row(f"https {a.low}/s", f"µs CPU per probe, {a.low} targets at 1 s (landed/s)",
        f"{fmt(tl)} ({fmt(agg(tlow, 'rate'), 0)}/s)",
        f"monit {fmt(mt)} ({fmt(agg(montls, 'rate'), 0)}/s, obs/monit {fr(ratio_of(tl, mt))}); "
        f"blackbox {fmt(bt)} ({fmt(agg(bbtls, 'rate'), 0)}/s, obs/bb {fr(ratio_of(tl, bt))}, "
        f"resumed sessions {fmt(agg(bbtls, 'resumed'), 0)})")
    row(f"https {a.low}/s", "MiB VmHWM",
        f"{fmt(agg(tlow, 'rss'))}", f"monit {fmt(agg(montls, 'rss'))}; blackbox {fmt(agg(bbtls, 'rss'))}")
    row("http max rate", f"probes/s landed, {a.targets} targets at 1 s; % of a core",
        f"{fmt(agg(big, 'rate'), 0)}/s; {fmt(agg(big, 'cpu_pct'), 0)} %",
        f"wrk {fmt(agg(wrk, 'rate'), 0)}/s; blackbox (wrk -c32) {fmt(agg(bbmax, 'rate'), 0)}/s")
    for n in a.ramp:
        runs = [x[n] for x in R["ramp"] if n in x]
        if runs:
            row(f"http ramp {n}", f"probes/s landed, {n} targets at 1 s (% of a core); failures+skips",
                f"{fmt(agg(runs, 'rate'), 0)} ({fmt(agg(runs, 'cpu_pct'), 0)} %); {fmt(agg(runs, 'failures'), 0)}")
    row("http CPU/probe", "µs CPU (supervisor+worker) per probe",
        fmt(cpu), f"wrk {fmt(wcpu)} (obs/wrk {fr(ratio_of(cpu, wcpu))}); blackbox {fmt(agg(bbmax, 'cpu_us'))} "
        f"(obs/bb {fr(ratio_of(cpu, agg(bbmax, 'cpu_us')))})")
    fk = kinds_sum(big, "failure_kinds")
    row("http failures", "transport failures + skipped slots logged per run", fmt(agg(big, "failures"), 0),
        f"all runs: {fk}" if fk else "")
    row(f"http {a.low}/s", f"µs CPU per probe, {a.low} targets at 1 s (landed/s)",
        f"{fmt(lcpu)} ({fmt(agg(low, 'rate'), 0)}/s)",
        f"monit {fmt(mcpu)} ({fmt(agg(mon, 'rate'), 0)}/s, obs/monit {fr(ratio_of(lcpu, mcpu))}); "
        f"blackbox {fmt(agg(bblow, 'cpu_us'))} ({fmt(agg(bblow, 'rate'), 0)}/s, "
        f"obs/bb {fr(ratio_of(lcpu, agg(bblow, 'cpu_us')))})")
    row("memory", f"MiB VmHWM supervisor + worker = total, {a.targets} http targets",
        f"{fmt(agg(big, 'sup_rss'))} + {fmt(agg(big, 'worker_rss'))} = {fmt(agg(big, 'rss'))}",
        f"monit ({a.low} hosts) {fmt(agg(mon, 'rss'))}; blackbox {fmt(agg(bbmax, 'rss'))}")
    row("memory", "MiB RssAnon supervisor + worker = total (heap, no shared-library pages)",
        f"{fmt(agg(big, 'sup_anon'))} + {fmt(agg(big, 'worker_anon'))} = {fmt(agg(big, 'anon'))}")
    row("memory", "MiB Pss supervisor + worker = total (shared pages divided among their users)",
        f"{fmt(agg(big, 'sup_pss'))} + {fmt(agg(big, 'worker_pss'))} = {fmt(agg(big, 'pss'))}",
        f"monit ({a.low} hosts) {fmt(agg(mon, 'pss'))}; blackbox {fmt(agg(bblow, 'pss'))}")
    row("memory", "MiB VmHWM of the worker started by the reload", fmt(agg(big, "new_worker_rss")))
    row("lag", f"ms probe-start lag p50 / p99 / max, worker lag_us, {a.lag_targets} targets at 1 s",
        f"{fmt(agg(lag, 'lag_p50'), 2)} / {fmt(agg(lag, 'lag_p99'), 2)} / {fmt(agg(lag, 'lag_max'), 2)}",
        f"nginx arrival − slot p50 / p99: {fmt(agg(lag, 'ng_p50'), 1)} / {fmt(agg(lag, 'ng_p99'), 1)} ms")
    row("reload", f"ms SIGHUP → READY=1; latest probe after its slot (SIGHUP − 2 s … + 3 s)",
        f"{fmt(rl)}; {fmt(agg(big, 'late_ms'), 0)} ms")
    row("shutdown / start", f"ms SIGTERM → exit; ms start → READY=1, {a.targets} targets",
        f"{fmt(agg(big, 'term_ms'))}; {fmt(agg(big, 'start_ms'))}")
    return ("| target | figure (median [min–max] of runs) | ratio | reached |\n| --- | --- | --- | --- |\n"
            + "\n".join(T) + "\n\n"
            + "| scenario | measure | observer | peers (same run) |\n| --- | --- | --- | --- |\n" + "\n".join(D))


# ---- main ------------------------------------------------------------------------------

KEYS = ["wrk", "big", "ramp", "bbmax", "low", "monit", "bblow", "lag",
        "wrktls", "tlsmax", "tlsover", "tlslow", "monittls", "bbtls", "scrape"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bins", required=True, help="dir holding observer and observer-worker")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--targets", type=int, default=10000)
    ap.add_argument("--low", type=int, default=200)
    ap.add_argument("--lag-targets", type=int, default=1000)
    ap.add_argument("--window", type=float, default=10)
    # /proc counts CPU in 10 ms ticks: over 10 s at 200/s that is 5 us a
    # probe, too coarse to compare observer with monit; 30 s gives 1.7 us.
    ap.add_argument("--low-window", type=float, default=30,
                    help="seconds of the 200 probes/s windows (observer, monit, blackbox)")
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--ramp", default="",
                    help="plain-http target counts above --targets to try at 1s, e.g. 12500,15000")
    ap.add_argument("--tls-key", choices=["ec", "rsa"], default="ec", help="key type of the CA and server")
    ap.add_argument("--tls-capacity", type=int, help="https targets at 1 s taken as capacity (no search)")
    ap.add_argument("--tls-start", type=int, default=500, help="first step of the https capacity search")
    ap.add_argument("--tls-steps", type=int, default=6, help="most steps of the https capacity search")
    ap.add_argument("--tls-step-window", type=float, default=6, help="seconds measured per search step")
    ap.add_argument("--observer-nofile", type=int, default=1024,
                    help="observer's soft RLIMIT_NOFILE (max_in_flight=auto derives from it); 0: the hard limit")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for observer's environment")
    ap.add_argument("--conf", action="append", default=[], help="KEY=VALUE for every observer config")
    ap.add_argument("--only", default=",".join(KEYS))
    ap.add_argument("--json", help="write every run's raw figures here")
    ap.add_argument("--report-only", metavar="JSON", help="print the tables of a --json file (same options) and exit")
    a = ap.parse_args()
    a.ramp = [int(x) for x in a.ramp.split(",") if x]
    Observer.extra_env = dict(kv.split("=", 1) for kv in a.env)
    Observer.extra_conf = list(a.conf)
    Observer.nofile = a.observer_nofile
    only = set(a.only.split(","))

    R = {k: [] for k in KEYS}
    R["tlscap"] = {}
    if a.report_only:
        with open(a.report_only) as f:
            R.update(json.load(f))
        R["ramp"] = [{int(k): v for k, v in r.items()} for r in R["ramp"]]
        print(report(a, R))
        return
    work = tempfile.mkdtemp(prefix="observer-bench-")
    os.chmod(work, 0o755)  # nginx's workers reopen their logs as nobody
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    try:
        tls = Tls(work, a.tls_key)
        nginx = Nginx(work)
        nginx.start()
        tnginx = Nginx(work, tls=tls, name="nginx-tls")
        tnginx.start()
        bb = Blackbox(work, tls)
        bb.start()
        tls_on = only & {"tlsmax", "tlsover"}
        if tls_on:
            if a.tls_capacity:
                R["tlscap"] = {"n": a.tls_capacity, "rate": float("nan"), "steps": []}
            else:
                R["tlscap"] = tls_capacity(a, a.bins, work, tnginx)
            print(f"bench: https capacity {R['tlscap']['n']} targets at 1 s", file=sys.stderr)
        cap_n = R["tlscap"].get("n", 0)
        for run in range(a.runs):
            # Interleaved, so a change in the machine's load hits every party.
            if "wrk" in only:
                R["wrk"].append(peer_wrk(a, nginx, f"wrk{run}"))
            if "big" in only:
                R["big"].append(scenario_big(a, a.bins, work, nginx, run))
            if "wrktls" in only:
                R["wrktls"].append(peer_wrk(a, tnginx, f"wrktls{run}"))
            if "tlsmax" in only:
                R["tlsmax"].append(tls_step(a, a.bins, work, tnginx, f"tlsmax{run}", cap_n, a.window))
            if "tlsover" in only:
                R["tlsover"].append(tls_step(a, a.bins, work, tnginx, f"tlsover{run}", 2 * cap_n, a.window))
            if "ramp" in only and a.ramp:
                R["ramp"].append(scenario_ramp(a, a.bins, work, nginx, run))
            if "bbmax" in only:
                R["bbmax"].append(peer_blackbox_max(a, bb, nginx, f"bbmax{run}"))
            if "low" in only:
                R["low"].append(scenario_low(a, a.bins, work, nginx, run))
            if "monit" in only:
                R["monit"].append(peer_monit(a, work, nginx, f"monit{run}"))
            if "bblow" in only:
                R["bblow"].append(peer_blackbox_low(a, bb, nginx, f"bblow{run}"))
            if "tlslow" in only:
                R["tlslow"].append(tls_low(a, a.bins, work, tnginx, run))
            if "monittls" in only:
                R["monittls"].append(peer_monit(a, work, tnginx, f"monittls{run}"))
            if "bbtls" in only:
                R["bbtls"].append(peer_blackbox_low(a, bb, tnginx, f"bbtls{run}"))
            if "lag" in only:
                R["lag"].append(scenario_lag(a, a.bins, work, nginx, run))
            if "scrape" in only:
                R["scrape"].append(scenario_scrape(a, a.bins, work, nginx, run))
            print(f"bench: run {run + 1}/{a.runs} done, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
        R["meta"] = {"tls_key": tls.kind, "args": {k: v for k, v in vars(a).items() if k != "report_only"}}
        if a.json:
            with open(a.json, "w") as f:
                json.dump(R, f, indent=1)
        print(report(a, R))
    finally:
        stop_all()
        if not os.environ.get("BENCH_KEEP"):
            subprocess.run(["rm", "-rf", work])
        else:
            print(f"kept {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
