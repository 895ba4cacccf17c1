"""Real Prometheus Alertmanagers (Debian's prometheus-alertmanager) on
127.0.0.1 for observer's alert tests (python3 stdlib only).

  am = Alertmanager(test)                      # a lone one, cluster off
  am = Alertmanager(test, webhook_url=rx.url("/am"))  # notifies a WebhookReceiver
  a, b = ha_pair(test)                         # two, gossiping over 127.0.0.1
  am.url()                                     # http://127.0.0.1:PORT  (what observer posts to)
  am.post_alerts([{"labels": {...}, "startsAt": rfc3339(time.time())}])
  am.alerts(); am.groups(); am.silences(); am.status()["cluster"]
  am.received("resolved")                      # alerts received with endsAt in the past

What Alertmanager 0.25 does, which the tests rely on:
- An alert posted without endsAt gets endsAt = arrival + resolve_timeout
  (5m); reposting it (same labels) refreshes it.
- An alert posted with endsAt in the past is resolved: it vanishes at once
  from GET /api/v2/alerts (whatever active=/silenced=/... say) and from
  /api/v2/alerts/groups. Only the counter
  alertmanager_alerts_received_total{status="resolved"} (received()) and a
  webhook notification (send_resolved) show that it came.
- Alerts are NOT gossiped between the members of a cluster: only silences
  and the notification log are. A sender (Prometheus, observer) must post
  every alert to every member; the notification log then makes the pair
  notify once.

Each instance has its own temporary --storage.path and config, listens on
127.0.0.1 only (web and cluster, TCP and UDP), advertises 127.0.0.1, and is
ended by PID at cleanup (SIGTERM, then SIGKILL after 10 s).
"""
import calendar
import json
import os
import shutil
import socket
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from harness import closed_port, end_process, tempdir, wait_for, write_file

BINARIES = ("prometheus-alertmanager", "alertmanager")  # Debian's name, upstream's


def binary(test):
    """The Alertmanager binary; without one the test fails (CI installs it),
    or is skipped if OBS_ALLOW_SKIP is set."""
    for name in BINARIES:
        path = shutil.which(name)
        if path:
            return path
    why = ("prometheus-alertmanager is not installed (Debian package prometheus-alertmanager; "
           "scripts/install-deps.sh installs it)")
    if os.environ.get("OBS_ALLOW_SKIP"):
        raise unittest.SkipTest(why)
    test.fail(why + "; set OBS_ALLOW_SKIP=1 to skip instead")


def rfc3339(unix_time):
    """RFC 3339 UTC with milliseconds, as Alertmanager writes it."""
    ms = int(round(unix_time * 1000))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def parse_rfc3339(text):
    """Unix time of an Alertmanager timestamp ("...Z", any fraction)."""
    base, _, frac = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + (float("0." + frac) if frac else 0.0)


def free_tcp_udp_port():
    """A 127.0.0.1 port free for both TCP and UDP (a cluster member needs both)."""
    for _ in range(50):
        port = closed_port()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
    raise AssertionError("no port free for both TCP and UDP on 127.0.0.1")


class Alertmanager:
    """One Alertmanager. `cluster_port` and `peers` (ports on 127.0.0.1 of
    other members) make it a cluster member; with neither it runs alone
    (--cluster.listen-address=""). `webhook_url` adds a webhook receiver
    with send_resolved; otherwise its one receiver has no integration."""

    def __init__(self, test, peers=(), cluster_port=None, webhook_url=None, group_wait="1s",
                 group_interval="1s", repeat_interval="1h", peer_timeout="2s", wait=True):
        exe = binary(test)
        d = tempdir(test)
        self.port = closed_port()
        self.cluster_port = cluster_port if cluster_port or not peers else free_tcp_udp_port()
        receiver = "  - name: default\n"
        if webhook_url:
            receiver += "    webhook_configs:\n      - url: '%s'\n        send_resolved: true\n" % webhook_url
        conf = ("route:\n  receiver: default\n  group_by: ['alertname', 'target']\n"
                "  group_wait: %s\n  group_interval: %s\n  repeat_interval: %s\nreceivers:\n%s"
                % (group_wait, group_interval, repeat_interval, receiver))
        argv = [exe, "--config.file=" + write_file(d, "alertmanager.yml", conf),
                "--storage.path=" + os.path.join(d, "data"),
                "--web.listen-address=127.0.0.1:%d" % self.port,
                "--web.external-url=" + self.url() + "/", "--log.level=debug"]
        if self.cluster_port:
            addr = "127.0.0.1:%d" % self.cluster_port
            argv += ["--cluster.listen-address=" + addr, "--cluster.advertise-address=" + addr,
                     # Short intervals: members find each other and settle in
                     # about a second instead of a minute.
                     "--cluster.gossip-interval=50ms", "--cluster.pushpull-interval=1s",
                     "--cluster.probe-interval=200ms", "--cluster.reconnect-interval=1s",
                     "--cluster.settle-timeout=10s", "--cluster.peer-timeout=" + peer_timeout]
            argv += ["--cluster.peer=127.0.0.1:%d" % p for p in peers]
        else:
            argv.append("--cluster.listen-address=")
        self.log_path = os.path.join(d, "log")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        test.addCleanup(self.stop)
        if wait:
            self.wait_ready()

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def _fail(self, what):
        raise AssertionError("alertmanager on port %d: %s; its log ends:\n%s" % (
            self.port, what, "".join(self.log().splitlines(True)[-30:])))

    def _request(self, method, path, body=None, timeout=10):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url() + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            self._fail("%s %s answered %d: %s" % (method, path, e.code, e.read().decode(errors="replace")))
        return json.loads(text) if text.strip() else None

    def _ready(self):
        if self.proc.poll() is not None:
            return "exited"
        try:
            with urllib.request.urlopen(self.url() + "/-/ready", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout=30):
        """Waits for GET /-/ready to answer 200."""
        try:
            ready = wait_for(self._ready, timeout, interval=0.1, what="GET /-/ready to answer 200")
        except AssertionError as e:
            self._fail(str(e))
        if ready == "exited":
            self._fail("exited with %s" % self.proc.returncode)

    def status(self):
        """GET /api/v2/status: {"cluster": {"status": "disabled"|"settling"|"ready",
        "peers": [{"name", "address"}], ...}, "config": ..., "versionInfo": ...}."""
        return self._request("GET", "/api/v2/status")

    def wait_cluster(self, members, timeout=30):
        """Waits until this member sees `members` members (itself included)
        and has settled."""
        def settled():
            c = self.status()["cluster"]
            return c["status"] == "ready" and len(c["peers"]) == members
        try:
            wait_for(settled, timeout, interval=0.1, what="%d settled cluster members" % members)
        except AssertionError as e:
            self._fail("%s; cluster: %s" % (e, self.status()["cluster"]))

    def alerts(self, active=None):
        """GET /api/v2/alerts (resolved alerts are never listed); active=True
        or False adds the filter."""
        q = "" if active is None else "?active=" + ("true" if active else "false")
        return self._request("GET", "/api/v2/alerts" + q)

    def groups(self):
        """GET /api/v2/alerts/groups: [{"labels", "receiver", "alerts"}]."""
        return self._request("GET", "/api/v2/alerts/groups")

    def post_alerts(self, alerts):
        """POST /api/v2/alerts (fails the test unless it is accepted)."""
        self._request("POST", "/api/v2/alerts", alerts)

    def silences(self):
        return self._request("GET", "/api/v2/silences")

    def post_silence(self, matchers, seconds=3600, comment="test"):
        """Silences alerts whose labels equal `matchers` ({name: value});
        returns the silence's id."""
        now = time.time()
        return self._request("POST", "/api/v2/silences", {
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
            "startsAt": rfc3339(now), "endsAt": rfc3339(now + seconds), "createdBy": "observer tests",
            "comment": comment})["silenceID"]

    def received(self, status):
        """alertmanager_alerts_received_total{status=`status`} ("firing" or
        "resolved") over all API versions, from /metrics."""
        with urllib.request.urlopen(self.url() + "/metrics", timeout=10) as r:
            text = r.read().decode()
        prefix = "alertmanager_alerts_received_total{"
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(prefix) and 'status="%s"' % status in line)

    def stop(self):
        end_process(self.proc, grace=10)


def ha_pair(test, webhook_url=None, **kw):
    """Two Alertmanagers clustered with each other over 127.0.0.1, started,
    ready and settled (each sees both members). Returns (first, second)."""
    ports = [free_tcp_udp_port(), free_tcp_udp_port()]
    while ports[1] == ports[0]:
        ports[1] = free_tcp_udp_port()
    pair = [Alertmanager(test, peers=[ports[1 - i]], cluster_port=ports[i], webhook_url=webhook_url,
                         wait=False, **kw) for i in range(2)]
    for am in pair:
        am.wait_ready()
    for am in pair:
        am.wait_cluster(2)
    return pair[0], pair[1]
