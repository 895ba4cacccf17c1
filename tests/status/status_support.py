"""Helpers of the status tests: an observer (the supervisor) with two local
targets, one UP and one DOWN, and GETs of its status socket."""
import json  # noqa: F401  (the tests use ss.json)
import os
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OBS_TEST_SUPPORT", os.path.join(HERE, "..", "support")))

import harness  # noqa: E402
from harness import SUPERVISOR, HttpServer, Proc, closed_port, tempdir, wait_for, write_file  # noqa: E402,F401

# A name with markup and quotes (escaping), a url with a password (masking).
DOWN_NAME = "down <b>&\"'"
SECRET = "s3cr3t-pw"


def get(port, path, timeout=10):
    """(status, content type, body text); HTTP errors are answers too."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def get_json(port, path):
    status, ctype, body = get(port, path)
    assert ctype == "application/json", (path, ctype)
    return status, json.loads(body)


def start_observer(test, tick="300ms", extra=""):
    """(proc, port, server): `up` answers 200, DOWN_NAME 503; `extra`: more
    sections, with {url} standing for the server's base url."""
    srv = HttpServer(test)
    port = closed_port()
    down_url = srv.url("/down?status=503").replace("http://", "http://user:%s@" % SECRET)
    conf = ("tick=%s\nstatus=200\nlisten=127.0.0.1:%d\n[up]\nurl=%s\n[%s]\nurl=%s\n" %
            (tick, port, srv.url("/up"), DOWN_NAME, down_url) + extra.replace("{url}", srv.url("")))
    path = write_file(tempdir(test), "observer.conf", conf)
    p = Proc(test, [SUPERVISOR, "-config", path])
    p.wait_line(r"is ready\.", timeout=15)
    return p, port, srv


def states(port):
    _, body = get_json(port, "/api/v1/targets")
    return {t["name"]: t["state"] for t in body["targets"]}


def wait_states(port, want, timeout=15):
    wait_for(lambda: states(port) == want, timeout, interval=0.1, what="states %r" % (want,))


def worker_pid(test, proc, port):
    """The current worker's pid, as the API says it, checked against the process table."""
    _, body = get_json(port, "/api/v1/targets")
    pid = body["observer"]["worker_pid"]
    test.assertIn(pid, harness.children_of(proc.pid))
    return pid
