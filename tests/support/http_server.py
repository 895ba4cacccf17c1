#!/usr/bin/env python3
"""A scriptable HTTP(S) server on 127.0.0.1 for observer's tests.

Behaviour comes from the query string of each request, or from per-path
settings made with /__set (so a test can change what a URL answers without
changing the URL, e.g. to take a target DOWN across a reload):

  status=N            response status (default 200)
  server=S            Server header (default "testserver"); server= sends none
  ctype=S             Content-Type header (default "text/plain")
  header=Name:Value   extra response header (repeatable)
  body=TEXT           body text (default "ok")
  body_bytes=N        body of N bytes of 'x' instead, streamed in 64 KiB chunks
  chunked_forever=1   chunked body that never ends
  delay_ms=N          wait before sending the status line
  trickle_headers_ms=N  send the header block one byte every N ms
  trickle_body_ms=N   send the body one byte every N ms, forever
  redirect=URL        302 to URL (use with status=301..308 to change code)
  reset=1             close the connection with RST before answering
  reset_mid=1         send headers and part of the body, then RST
  hang=1              accept, read the request, never answer
  malformed=1         send a broken status line and header
  echo_header=NAME    body is the value of request header NAME ("-" if absent)
  broken=KIND         send one canned broken response, then close; KIND is
                      status (status line "HTTP/1.1 2x0 OK"), not_http (bytes
                      that are not HTTP at all), header_no_colon, header_nul (a
                      NUL byte in a header value), content_length (not a
                      number), giant_header (one 200 KiB header line, past
                      curl's 100 KiB limit), chunk_size (a chunked body whose
                      size line is not hex)

Control paths:
  /__set/PATH?k=v...  store settings for PATH (empty query clears them)
  /__hits             JSON {"total": N, "by_path": {...}}

Every request is appended to --log as one line:
  <unix time, 6 decimals> <method> <path with query> <User-Agent>

Start: http_server.py --port-file F [--log L] [--tls-cert C --tls-key K]
It writes the chosen port to F once it listens, and exits on SIGTERM/SIGINT.
"""
import argparse
import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.path_settings = {}
        self.total = 0
        self.by_path = {}
        self.log = open(log_path, "a", buffering=1) if log_path else None

    def record(self, method, path, ua):
        with self.lock:
            self.total += 1
            base = path.split("?", 1)[0]
            self.by_path[base] = self.by_path.get(base, 0) + 1
            if self.log:
                self.log.write("%.6f %s %s %s\n" % (time.time(), method, path, ua or "-"))


_OK_HEAD = b"HTTP/1.1 200 OK\r\nServer: testserver\r\nConnection: close\r\n"
BROKEN = {
    "status": b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    "not_http": b"\x16\x03\x01 hello, this is not HTTP\r\n\r\n",
    "header_no_colon": _OK_HEAD + b"Content-Length: 2\r\nBroken header line\r\n\r\nok",
    "header_nul": _OK_HEAD + b"Content-Length: 2\r\nX-Bad: a\x00b\r\n\r\nok",
    "content_length": _OK_HEAD + b"Content-Length: abc\r\n\r\nok",
    "giant_header": _OK_HEAD + b"Content-Length: 2\r\nX-Giant: " + b"a" * (200 * 1024) + b"\r\n\r\nok",
    "chunk_size": _OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "testserver"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet: the --log file is the record
        pass

    def _settings(self):
        parsed = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        with self.server.state.lock:
            stored = dict(self.server.state.path_settings.get(parsed.path, {}))
        for k, v in q.items():
            stored[k] = v
        return parsed.path, {k: v for k, v in stored.items()}

    def _one(self, s, key, default=None):
        v = s.get(key)
        return v[-1] if v else default

    def _rst(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _control(self, path):
        if path == "/__hits":
            with self.server.state.lock:
                body = json.dumps({"total": self.server.state.total,
                                   "by_path": self.server.state.by_path}).encode()
            self._send_simple(200, body, "application/json")
            return True
        if path.startswith("/__set/"):
            target = path[len("/__set"):]
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)
            with self.server.state.lock:
                if q:
                    self.server.state.path_settings[target] = q
                else:
                    self.server.state.path_settings.pop(target, None)
            self._send_simple(200, b"set\n", "text/plain")
            return True
        return False

    def _send_simple(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _handle(self):
        path, s = self._settings()
        if self._control(path):
            return
        self.server.state.record(self.command, self.path, self.headers.get("User-Agent"))
        if self._one(s, "hang"):
            time.sleep(3600)
            return
        if self._one(s, "reset"):
            self._rst()
            return
        delay = int(self._one(s, "delay_ms", "0"))
        if delay:
            time.sleep(delay / 1000.0)
        broken = self._one(s, "broken")
        if broken:
            self.wfile.write(BROKEN[broken])
            self.close_connection = True
            return
        if self._one(s, "malformed"):
            self.wfile.write(b"HTTP/1.1 2x0 \xff\xfe\r\nBroken header line\r\n\r\n")
            self.close_connection = True
            return
        status = int(self._one(s, "status", "200"))
        headers = []
        server = self._one(s, "server", "testserver")
        if server:
            headers.append(("Server", server))
        headers.append(("Content-Type", self._one(s, "ctype", "text/plain")))
        for h in s.get("header", []):
            name, _, value = h.partition(":")
            headers.append((name, value))
        redirect = self._one(s, "redirect")
        if redirect:
            if not 300 <= status < 400:
                status = 302
            headers.append(("Location", redirect))
        headers.append(("Connection", "close"))
        body_bytes = self._one(s, "body_bytes")
        trickle_body = self._one(s, "trickle_body_ms")
        forever = self._one(s, "chunked_forever")
        body = self._one(s, "body", "ok").encode()
        echo = self._one(s, "echo_header")
        if echo:
            body = (self.headers.get(echo) or "-").encode()
        if forever or trickle_body:
            headers.append(("Transfer-Encoding", "chunked"))
        elif body_bytes:
            headers.append(("Content-Length", body_bytes))
        else:
            headers.append(("Content-Length", str(len(body))))
        head = ("HTTP/1.1 %d %s\r\n" % (status, "Status")).encode()
        head += b"".join(("%s: %s\r\n" % hv).encode() for hv in headers) + b"\r\n"
        trickle_h = self._one(s, "trickle_headers_ms")
        if trickle_h:
            for i in range(len(head)):
                self.wfile.write(head[i:i + 1])
                self.wfile.flush()
                time.sleep(int(trickle_h) / 1000.0)
        else:
            self.wfile.write(head)
        self.close_connection = True
        if self.command == "HEAD":
            return
        if self._one(s, "reset_mid"):
            self.wfile.write(b"partial")
            self.wfile.flush()
            self._rst()
            return
        if trickle_body:
            while True:
                self.wfile.write(b"1\r\nx\r\n")
                self.wfile.flush()
                time.sleep(int(trickle_body) / 1000.0)
        if forever:
            chunk = b"x" * 65536
            frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
            while True:
                self.wfile.write(frame)
        if body_bytes:
            left = int(body_bytes)
            chunk = b"x" * 65536
            while left > 0:
                n = min(left, len(chunk))
                self.wfile.write(chunk[:n])
                left -= n
            return
        self.wfile.write(body)

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def do_GET(self):
        self._handle()

    do_HEAD = do_GET
    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        pass


def serve(srv, port_file):
    """Writes the port `srv` listens on to `port_file` (whole, at once), then
    serves until SIGTERM or SIGINT."""
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, port_file)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    srv.serve_forever(poll_interval=0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("refusing to listen anywhere but loopback")
    srv = Server((args.host, args.port), Handler)
    srv.state = State(args.log)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    serve(srv, args.port_file)


if __name__ == "__main__":
    main()
