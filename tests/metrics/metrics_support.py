"""Helpers of the /metrics tests: a scrape, the text format parsed into
samples, and a real Prometheus on 127.0.0.1 with its own data directory."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT", os.path.join(HERE, "..", "support")))

from harness import closed_port, tempdir, wait_for, write_file  # noqa: E402,F401

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(port, path="/metrics", timeout=5):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
        return r.read().decode()


def samples(text):
    """[(name, {label: value}, float)] of every sample line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = dict(LABEL.findall(m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def value(text, name, **labels):
    """The one sample of `name` whose labels include `labels`, or None."""
    found = [v for n, l, v in samples(text) if n == name and all(l.get(k) == w for k, w in labels.items())]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def need(tool):
    path = shutil.which(tool)
    if path is None:
        raise unittest_skip("%s is not installed (Debian's prometheus package)" % tool)
    return path


def unittest_skip(why):
    import unittest
    return unittest.SkipTest(why)


class Prometheus:
    """A real Prometheus scraping `targets` (["127.0.0.1:PORT"]) every second."""

    def __init__(self, test, targets, rule_files=()):
        binary = need("prometheus")
        d = tempdir(test)
        self.port = closed_port()
        conf = ("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n" +
                ("rule_files:\n" + "".join("  - %s\n" % r for r in rule_files) if rule_files else "") +
                "scrape_configs:\n  - job_name: observer\n    static_configs:\n      - targets: [%s]\n" %
                ", ".join("'%s'" % t for t in targets))
        path = write_file(d, "prometheus.yml", conf)
        self.log = open(os.path.join(d, "log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--config.file=" + path, "--storage.tsdb.path=" + os.path.join(d, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        test.addCleanup(self.stop)
        wait_for(self._ready, 30, interval=0.2, what="prometheus to be ready")

    def _ready(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s?%s" % (self.port, path, urllib.parse.urlencode(params))
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.loads(r.read().decode())
        assert body["status"] == "success", body
        return body["data"]

    def range(self, query, start, end):
        """{labels-tuple: [(t, value)]} of a range query at 1 s steps."""
        data = self.api("query_range", query=query, start="%.3f" % start, end="%.3f" % end, step="1")
        return {tuple(sorted(s["metric"].items())): [(float(t), float(v)) for t, v in s["values"]]
                for s in data["result"]}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
