"""The supervisor's side of the worker's control channel, for process tests.

  peer = ControlPeer(test)                      # a socketpair; our end here
  p = peer.spawn([WORKER, "-url=..."])          # worker gets the other end as fd 3,
                                                # run as --supervised=<our pid>
  peer.expect(READY, timeout=5)                 # -> message dict
  peer.send_state(name, url, DOWN, since_ms=...); peer.send_end()

Framing follows common/control.h: u16 type, u16 reserved (0), u32 payload
length (host byte order), then the payload; TargetState's payload is
name, url (u16 length + bytes), u8 health, u64 since_unix_ms,
u32 consecutive_failures, u32 consecutive_successes, u64 probes,
u64 failures, last_reason (u16 length + bytes). CutOverReady, Retire and
CutOverLate carry one u64 (a CLOCK_MONOTONIC instant in ns, or a count).
Heartbeats (every second from the worker's loop) are counted in
self.heartbeats and otherwise skipped by read_message().
"""
import os
import select
import socket
import struct
import subprocess
import time

from harness import Proc, clean_env

READY, TARGET_STATE, STATE_END, CONFIG_ERROR, CUT_OVER_READY, RETIRE, CUT_OVER_LATE = 1, 2, 3, 4, 5, 6, 7
HEARTBEAT, RESUME = 8, 9
UNKNOWN, UP, DOWN = 0, 1, 2


def _str(b):
    return struct.pack("=H", len(b)) + b


def encode(kind, state=None, value=None):
    payload = b"" if value is None else struct.pack("=Q", value)
    if kind == TARGET_STATE:
        s = state
        payload = (_str(s["name"].encode()) + _str(s["url"].encode()) +
                   struct.pack("=BQIIQQ", s.get("health", UNKNOWN), s.get("since_unix_ms", 0),
                               s.get("consecutive_failures", 0), s.get("consecutive_successes", 0),
                               s.get("probes", 0), s.get("failures", 0)) +
                   _str(s.get("last_reason", "").encode()))
    return struct.pack("=HHI", kind, 0, len(payload)) + payload


def decode_state(p):
    off = 0

    def s():
        nonlocal off
        (n,) = struct.unpack_from("=H", p, off)
        off += 2
        v = p[off:off + n].decode()
        off += n
        return v
    name = s()
    url = s()
    health, since, cf, cs, probes, failures = struct.unpack_from("=BQIIQQ", p, off)
    off += struct.calcsize("=BQIIQQ")
    reason = s()
    counters = []
    if off < len(p):  # the target's metric figures (worker/metrics.h)
        (n,) = struct.unpack_from("=H", p, off)
        off += 2
        counters = list(struct.unpack_from("=%dQ" % n, p, off))
        off += 8 * n
    assert off == len(p), "trailing bytes in a TargetState payload"
    return {"name": name, "url": url, "health": health, "since_unix_ms": since,
            "consecutive_failures": cf, "consecutive_successes": cs, "probes": probes,
            "failures": failures, "last_reason": reason, "counters": counters}


class ControlPeer:
    def __init__(self, test):
        self.ours, self.theirs = socket.socketpair()
        test.addCleanup(self.close)
        self.buf = b""
        self.eof = False
        self.late_probes = None
        self.heartbeats = 0

    def spawn(self, test, argv, env=None, journal=False, cut_over=False):
        """Starts the worker as the supervisor would, with our pid as SUPERVISOR_PID."""
        fd = self.theirs.fileno()

        def child():
            os.dup2(fd, 3)  # inheritable; every other fd of ours is close-on-exec

        extra = (["--supervised=%d" % os.getpid()] + (["--journal"] if journal else []) +
                 (["--cut-over"] if cut_over else []))
        p = Proc(test, [argv[0]] + extra + list(argv[1:]), env=env if env is not None else clean_env(),
                 close_fds=False, preexec_fn=child)
        self.theirs.close()
        return p

    def send(self, data):
        self.ours.sendall(data)

    def send_state(self, **state):
        self.send(encode(TARGET_STATE, state))

    def send_end(self):
        self.send(encode(STATE_END))

    def send_retire(self, cut_over_ns):
        self.send(encode(RETIRE, value=cut_over_ns))

    def send_resume(self):
        self.send(encode(RESUME))

    def close(self):
        for s in (self.ours, self.theirs):
            try:
                s.close()
            except OSError:
                pass

    def read_message(self, timeout):
        """The next message as a dict, or None at EOF; fails on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 8:
                kind, reserved, n = struct.unpack_from("=HHI", self.buf)
                assert reserved == 0, "reserved header field must be 0"
                if len(self.buf) >= 8 + n:
                    payload = self.buf[8:8 + n]
                    self.buf = self.buf[8 + n:]
                    if kind == HEARTBEAT:
                        assert n == 0, "a heartbeat must be empty"
                        self.heartbeats += 1
                        continue
                    msg = {"type": kind}
                    if kind == TARGET_STATE:
                        msg.update(decode_state(payload))
                    elif kind == CONFIG_ERROR:
                        (length,) = struct.unpack_from("=H", payload)
                        assert n == 2 + length, "config-error frame must be exactly its text"
                        msg["text"] = payload[2:].decode("utf-8", "replace")
                    elif kind in (CUT_OVER_READY, CUT_OVER_LATE):
                        assert n == 8, "message type %d must be 8 bytes" % kind
                        (msg["value"],) = struct.unpack("=Q", payload)
                    else:
                        assert n == 0, "message type %d must be empty" % kind
                    return msg
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no control message within %.1fs" % timeout)
            r, _, _ = select.select([self.ours], [], [], left)
            if r:
                data = self.ours.recv(65536)
                if not data:
                    self.eof = True
                self.buf += data

    def expect(self, kind, timeout=5):
        msg = self.read_message(timeout)
        assert msg is not None, "control channel closed while expecting type %d" % kind
        assert msg["type"] == kind, "expected message type %d, got %r" % (kind, msg)
        return msg

    def read_until_end(self, timeout=10):
        """TargetState records up to (and consuming) StateEnd. A CutOverLate
        before them is kept in self.late_probes."""
        out = []
        self.late_probes = None
        deadline = time.monotonic() + timeout
        while True:
            msg = self.read_message(max(0.01, deadline - time.monotonic()))
            assert msg is not None, "control channel closed before StateEnd"
            if msg["type"] == STATE_END:
                return out
            if msg["type"] == CUT_OVER_LATE and not out and self.late_probes is None:
                self.late_probes = msg["value"]
                continue
            assert msg["type"] == TARGET_STATE, "unexpected message %r" % msg
            out.append(msg)
