#!/usr/bin/env python3
"""A local webhook receiver on 127.0.0.1 for observer's alert tests
(python3 stdlib only).

In a test:

  rx = WebhookReceiver(test)              # a subprocess, ended by PID at cleanup
  rx.url("/hook")                         # http://127.0.0.1:PORT/hook
  rx.set_behaviour("/hook", statuses=[500, 500, 200])  # then 200 forever
  rx.set_behaviour("/slow", delay=2.5)    # wait 2.5 s before every answer
  rx.set_behaviour("/stuck", hang=True)   # read the request, never answer
  rx.set_behaviour(statuses=["hang", 200])  # every other path: hang once, then 200
  rx.wait_for_requests(3, timeout=10, path="/hook")  # -> the requests
  rx.requests("/hook")                    # [{...}] in arrival order, see below

A behaviour is a sequence of steps, one step per request that falls to it,
the last step repeated forever; a step is a status code or "hang" (hold the
connection open without answering until the receiver ends). `delay` is
waited before every answer. A path's own behaviour comes first, then the
global one (path None); the default answers 200. Setting a behaviour starts
its sequence again.

Every request is recorded as a dict:
  time       unix time the request's head arrived
  method     "POST", ...
  path       the request target, query included
  headers    {lower-case name: value} (repeated names joined with ", ")
  raw_headers  [[name, value], ...] as sent
  text       the body as text (UTF-8, undecodable bytes replaced; chunked
             bodies are decoded)
  is_json    whether the body parses as JSON
  body       the decoded JSON when is_json, else the text
  client_port  the client's port (tells connections apart)
  answer     what was answered: a status code, or "hang"

The subprocess: webhook_receiver.py --port-file F --log L; it writes its
port to F once it listens, appends each request to L as one JSON line, takes
behaviours from POST /__behaviour (not recorded), and exits on SIGTERM/SIGINT.
"""
import argparse
import json
import os
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler

from harness import end_process, start_with_port_file, tempdir, wait_for
from http_server import Server, serve

CONTROL = "/__behaviour"


class Behaviour:
    def __init__(self, statuses=None, delay=0.0, hang=False):
        steps = list(statuses) if statuses else [200]
        if hang:
            steps = ["hang"]
        for s in steps:
            if s != "hang" and not (isinstance(s, int) and 100 <= s <= 999):
                raise ValueError("a step is a status code or \"hang\", not %r" % (s,))
        self.steps = steps
        self.delay = float(delay)
        self.used = 0

    def next_step(self):
        step = self.steps[min(self.used, len(self.steps) - 1)]
        self.used += 1
        return step


class State:
    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.behaviours = {None: Behaviour()}
        self.log = open(log_path, "a")

    def step_for(self, path):
        with self.lock:
            b = self.behaviours.get(path) or self.behaviours[None]
            return b.next_step(), b.delay

    def record(self, entry):
        line = json.dumps(entry) + "\n"
        with self.lock:
            self.log.write(line)
            self.log.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "webhook-receiver"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet: the log file is the record
        pass

    def _body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        arrived = time.time()
        raw = self._body()
        path = self.path.split("?", 1)[0]
        state = self.server.state
        if path == CONTROL:
            try:
                spec = json.loads(raw)
                b = Behaviour(spec.get("statuses"), spec.get("delay", 0), spec.get("hang", False))
            except (ValueError, TypeError, AttributeError) as e:
                self._answer(400, str(e).encode())
                return
            with state.lock:
                state.behaviours[spec.get("path")] = b
            self._answer(200, b"set\n")
            return
        step, delay = state.step_for(path)
        text = raw.decode("utf-8", "replace")
        try:
            body, is_json = json.loads(text), True
        except ValueError:
            body, is_json = text, False
        headers = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = headers[key] + ", " + value if key in headers else value
        state.record({"time": arrived, "method": self.command, "path": self.path, "headers": headers,
                      "raw_headers": [[n, v] for n, v in self.headers.items()], "text": text,
                      "is_json": is_json, "body": body, "client_port": self.client_address[1],
                      "answer": step})
        if step == "hang":
            while True:  # until the receiver ends
                time.sleep(3600)
        if delay:
            time.sleep(delay)
        self._answer(step, b"ok\n" if step < 300 else b"error\n")

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except OSError:
            self.close_connection = True

    do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = do_HEAD = _handle


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(args.log)
    serve(srv, args.port_file)


class WebhookReceiver:
    """The receiver as a subprocess of the test, ended by PID at cleanup.
    The constructor's arguments are the global behaviour (see set_behaviour)."""

    def __init__(self, test, statuses=None, delay=0.0, hang=False):
        d = tempdir(test)
        self.log_path = os.path.join(d, "requests.jsonl")
        self.proc, self.port = start_with_port_file(
            test, [sys.executable, os.path.abspath(__file__), "--log", self.log_path], d, "webhook receiver")
        if statuses or delay or hang:
            self.set_behaviour(None, statuses, delay, hang)

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def set_behaviour(self, path=None, statuses=None, delay=0.0, hang=False):
        """How requests to `path` (None: any path without its own) are
        answered from now on: `statuses` in turn, the last one forever (a
        step may be "hang"); `delay` seconds before each answer; hang=True is
        statuses=["hang"]. No arguments: 200 at once."""
        spec = json.dumps({"path": path, "statuses": statuses, "delay": delay, "hang": hang}).encode()
        req = urllib.request.Request(self.url(CONTROL), data=spec, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            r.read()

    def requests(self, path=None):
        """The recorded requests (dicts, see the module's doc) in arrival
        order; only those to `path` (query ignored) if given."""
        out = []
        with open(self.log_path) as f:
            for line in f:
                if line.endswith("\n"):  # a line being written is not a request yet
                    r = json.loads(line)
                    if path is None or r["path"].split("?", 1)[0] == path:
                        out.append(r)
        return out

    def wait_for_requests(self, n, timeout, path=None):
        """The requests (to `path`) once there are at least `n`; fails the
        test after `timeout` seconds."""
        try:
            return wait_for(lambda: (lambda rs: rs if len(rs) >= n else None)(self.requests(path)),
                            timeout, interval=0.05)
        except AssertionError:
            got = self.requests(path)
            raise AssertionError("webhook receiver: %d request(s)%s within %.1fs, wanted %d: %s" % (
                len(got), " to " + path if path else "", timeout, n,
                [(r["method"], r["path"], r["answer"]) for r in got]))

    def stop(self):
        end_process(self.proc)


if __name__ == "__main__":
    main()
