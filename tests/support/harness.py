"""Shared plumbing for observer's process-level tests (python3 stdlib only).

Every process a test starts is registered and ended by PID when the test
ends, whatever happens; every wait is bounded. Traffic goes to 127.0.0.1 only.

  srv = HttpServer(test)            # scriptable server (http_server.py), stopped at cleanup
  srv.url("/health?status=500")     # http://127.0.0.1:PORT/health?status=500
  srv.set("/health", status=500)    # change what /health answers, same URL
  srv.hits("/health"); srv.requests()  # counts, and (time, method, path, ua) tuples

  p = Proc(test, [SUPERVISOR, "-url=..."], env=...)  # stdout captured line by line
  p.wait_line(r"regex", timeout=5)  # -> the line; fails the test on timeout
  p.lines(); p.signal(signal.SIGHUP); p.wait_exit(timeout=5) -> returncode

  end_process(popen)                # SIGTERM, SIGKILL after a bound, by PID
  inet_sockets(pid)                 # its TCP/UDP sockets: who it listens on, talks to

Alerts: webhook_receiver.WebhookReceiver, alertmanager.Alertmanager and ha_pair.
"""
import collections
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

SUPERVISOR = os.environ.get("OBS_TEST_SUPERVISOR", "")
WORKER = os.environ.get("OBS_TEST_WORKER", "")
SUPPORT = os.environ.get("OBS_TEST_SUPPORT", os.path.dirname(os.path.abspath(__file__)))


# Variables that would send a probe through a proxy (libcurl honours them,
# and any of them makes the worker probe every target with libcurl). A test
# sets one only on purpose: test traffic never leaves the machine.
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                   "no_proxy", "NO_PROXY")


def clean_env(**extra):
    """The environment for an observer process: no OBSERVER_*, NOTIFY_SOCKET,
    JOURNAL_STREAM or proxy variable leaking in from the caller, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OBSERVER_") and k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM", "WATCHDOG_USEC", "WATCHDOG_PID")
           and k not in PROXY_VARIABLES}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def tempdir(test):
    d = tempfile.mkdtemp(prefix="observer-test-")
    test.addCleanup(lambda: subprocess.run(["rm", "-rf", d]))
    return d


def write_file(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def wait_for(predicate, timeout, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


# A target's schedule as -check-config prints it (worker/check_config.h):
# slot k starts at phase_ns + k * tick ns since the Unix epoch, and its
# boundary (by which a reload's cut-over splits slots) is at
# boundary_phase_ns + k * tick.
Schedule = collections.namedtuple("Schedule", "phase_ns boundary_phase_ns grid_ns")
SCHEDULE_LINE = re.compile(r"^  schedule +phase_ns=(\d+) boundary_phase_ns=(\d+) grid_ns=(\d+)$")


def schedules(args, env=None):
    """{target name: Schedule} of every target of `args` (the flags a run
    gets, -config included), from observer-worker -check-config: the phases
    the engine computes and fires at, never a copy of that computation."""
    r = subprocess.run([WORKER, "-check-config"] + list(args), capture_output=True, text=True,
                       env=env if env is not None else clean_env(), timeout=60)
    if r.returncode != 0:
        raise AssertionError("-check-config exited %d: %s" % (r.returncode, r.stderr))
    out, name = {}, None
    for line in r.stdout.splitlines():
        if line.startswith("target [") and line.endswith("]:"):
            name = line[len("target ["):-len("]:")]
        m = SCHEDULE_LINE.match(line)
        if m:
            out[name] = Schedule(*(int(g) for g in m.groups()))
    return out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def closed_port():
    """A 127.0.0.1 port nobody listens on (bound, then released)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def end_process(proc, grace=5):
    """Ends a subprocess.Popen by its PID: SIGTERM, then SIGKILL if it is
    still there after `grace` seconds; reaps it either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def start_with_port_file(test, argv, directory, what):
    """Starts a helper server `argv + ["--port-file", F]` (F in `directory`)
    that writes the port it listens on to F; ends it by PID at cleanup.
    Returns (Popen, port)."""
    port_file = os.path.join(directory, "port")
    proc = subprocess.Popen(argv + ["--port-file", port_file], stdin=subprocess.DEVNULL)
    test.addCleanup(end_process, proc)
    wait_for(lambda: os.path.exists(port_file) or proc.poll() is not None, 10, what=what + " to listen")
    if not os.path.exists(port_file):
        raise AssertionError("%s exited with %s before listening" % (what, proc.returncode))
    with open(port_file) as f:
        return proc, int(f.read())


def inet_sockets(pid):
    """[(proto, (local ip, port), (remote ip, port), state)] of the TCP and
    UDP sockets process `pid` holds, read from /proc (Linux); state is the
    kernel's hex code ("0A" is LISTEN, "07" an unconnected UDP socket)."""
    import ipaddress
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])

    def addr(text):
        hexip, hexport = text.split(":")
        raw = bytes.fromhex(hexip)
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # words in host order (little-endian)
        return str(ipaddress.ip_address(raw)), int(hexport, 16)

    out = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, proto)) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[9] in inodes:
                out.append((proto, addr(fields[1]), addr(fields[2]), fields[3]))
    return out


def _process_table():
    """(pid, state, ppid, pgid) of every process, read from /proc (Linux)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out.append((int(entry), fields[0], int(fields[1]), int(fields[2])))
        except (OSError, IndexError, ValueError):
            pass
    return out


def children_of(pid):
    """Live (non-zombie) children of `pid`."""
    return [p for p, state, ppid, _ in _process_table() if ppid == pid and state != "Z"]


def zombies_of(pid):
    """Children of `pid` that exited and were not reaped."""
    return [p for p, state, ppid, _ in _process_table() if ppid == pid and state == "Z"]


def group_members(pgid):
    """Live processes in process group `pgid`."""
    return [p for p, state, _, g in _process_table() if g == pgid and state != "Z"]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def small_quarantine_env(**extra):
    """clean_env() for tests that read RSS: under AddressSanitizer freed memory
    sits in a quarantine (256 MiB by default) and shows as growth; keep it
    small so RSS means something. Without ASan the variable is ignored."""
    opts = os.environ.get("ASAN_OPTIONS", "")
    return clean_env(ASAN_OPTIONS=(opts + ":" if opts else "") +
                     "quarantine_size_mb=1:thread_local_quarantine_size_kb=64", **extra)


class HttpServer:
    def __init__(self, test, tls_cert=None, tls_key=None):
        d = tempdir(test)
        self.log_path = os.path.join(d, "requests.log")
        open(self.log_path, "w").close()
        cmd = [sys.executable, os.path.join(SUPPORT, "http_server.py"), "--log", self.log_path]
        if tls_cert:
            cmd += ["--tls-cert", tls_cert, "--tls-key", tls_key]
        self.proc, self.port = start_with_port_file(test, cmd, d, "test HTTP server")
        self.scheme = "https" if tls_cert else "http"

    def url(self, path="/"):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

    def set(self, path, **settings):
        """Makes `path` answer with `settings` (no settings: back to defaults)."""
        from urllib.parse import urlencode
        q = urlencode(settings, doseq=True)
        ctl = "http://127.0.0.1:%d/__set%s%s" % (self.port, path, "?" + q if q else "")
        if self.scheme != "http":
            raise AssertionError("set() needs a plain http server")
        urllib.request.urlopen(ctl, timeout=5).read()

    def requests(self):
        """[(unix_time, method, path, user_agent)] in arrival order."""
        out = []
        with open(self.log_path) as f:
            for line in f:
                parts = line.rstrip("\n").split(" ", 3)
                if len(parts) == 4:
                    out.append((float(parts[0]), parts[1], parts[2], parts[3]))
        return out

    def hits(self, path=None):
        return sum(1 for r in self.requests() if path is None or r[2].split("?")[0] == path)

    def stop(self):
        end_process(self.proc)


class Proc:
    """A process with its stdout read line by line on a thread."""

    def __init__(self, test, argv, env=None, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                 read_stdout=True, **popen_kw):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE if read_stdout else None,
                                     stderr=stderr, env=env if env is not None else clean_env(), **popen_kw)
        self.pid = self.proc.pid
        self._lines = []
        self._cond = threading.Condition()
        self._stderr = []
        self._threads = []
        if read_stdout:
            self._threads.append(self._reader(self.proc.stdout, self._lines))
        if stderr == subprocess.PIPE:
            self._threads.append(self._reader(self.proc.stderr, self._stderr))
        test.addCleanup(self.kill)

    def _reader(self, stream, sink):
        def run():
            for raw in iter(stream.readline, b""):
                with self._cond:
                    sink.append(raw.decode("utf-8", "replace"))
                    self._cond.notify_all()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    def lines(self):
        with self._cond:
            return list(self._lines)

    def stderr_text(self):
        with self._cond:
            return "".join(self._stderr)

    def wait_line(self, pattern, timeout=10, start=0):
        """Returns the first line at index >= start matching `pattern`."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines[start:]:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no line matching %r within %.1fs; stdout:\n%s\nstderr:\n%s" % (
                        pattern, timeout, "".join(self._lines[-40:]), "".join(self._stderr[-40:])))
                self._cond.wait(min(left, 0.1))

    def count(self, pattern):
        rx = re.compile(pattern)
        return sum(1 for l in self.lines() if rx.search(l))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=15):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not exit within %.1fs" % (self.argv[0], timeout))
        for t in self._threads:
            t.join(5)
        self._close_pipes()
        return rc

    def _close_pipes(self):
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()

    def kill(self):
        """Cleanup: ends the process and any child it left, by PID."""
        kids = children_of(self.pid) if self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for t in self._threads:
            t.join(5)
        self._close_pipes()


class RawServer:
    """A bare TCP server on 127.0.0.1 (or ::1) that records every request's
    exact bytes and answers each with `reply(request_bytes)` (bytes), then
    closes; `hold=True` keeps the connection open after the reply (until the
    client goes or the server stops). For what http_server.py cannot show:
    the request as sent, and replies it cannot make."""

    def __init__(self, test, reply, host="127.0.0.1", hold=False):
        import socket
        self.reply = reply
        self.hold = hold
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(128)
        self.sock.settimeout(0.1)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self._requests = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        test.addCleanup(self.stop)

    def url(self, path="/"):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d%s" % (host, self.port, path)

    def requests(self):
        with self._lock:
            return list(self._requests)

    def _serve(self):
        import socket
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        import socket
        conn.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            with self._lock:
                self._requests.append(data)
            conn.sendall(self.reply(data))
            if self.hold:
                conn.settimeout(0.1)
                while not self._stop.is_set():
                    try:
                        if not conn.recv(4096):
                            break
                    except socket.timeout:
                        continue
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self._stop.set()
        self.sock.close()
        self._thread.join(5)

