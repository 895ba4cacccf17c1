#!/usr/bin/env python3
"""Transport faults, each beside a healthy control target (hostile_support):
refused, reset before the answer and during the body, a server that accepts
and never answers, a listener that never even accepts, headers trickled a
byte a second, a body trickled forever. Each gives exactly curl's reason on
one line, frees its slot by the timeout, is probed again at its next tick, and
never delays the control target."""
import os
import socket
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hostile_support as hs  # noqa: E402
from harness import HttpServer, closed_port  # noqa: E402

# curl 7.88 reports an RST as a receive failure or, when poll() sees the
# error first, as a send failure; the worker adds the OS's reason to the latter.
RESET = (r"Probe failed: (Failure when receiving data from the peer: Recv failure: Connection reset by peer"
         r"|Failed sending data to the peer: select/poll returned error \(Connection reset by peer\))")



class TransportFaults(unittest.TestCase):
    def setUp(self):
        self.srv = HttpServer(self)

    def fault(self, path, expect, **kw):
        r = hs.run_case(self, self.srv, self.srv.url(path), expect,
                        fault_hits=lambda: self.srv.hits(path.split("?")[0]), **kw)
        hs.stop(self, r.proc)
        return r

    def test_connection_refused_is_one_line_and_retried(self):
        port = closed_port()
        r = hs.run_case(self, self.srv, "http://127.0.0.1:%d/" % port,
                        r"Probe failed: Couldn't connect to server: Failed to connect to 127\.0\.0\.1 port %d "
                        r"after \d+ ms: Couldn't connect to server \(Connection refused\)" % port)
        hs.stop(self, r.proc)

    def test_reset_before_the_response(self):
        self.fault("/rst?reset=1", RESET)

    def test_reset_during_the_body(self):
        self.fault("/rstmid?reset_mid=1&body_bytes=100000", RESET)

    def test_accept_and_never_answer_times_out(self):
        self.fault("/hang?hang=1", hs.timeout_reason("0"))

    def test_listener_that_never_accepts_times_out(self):
        # The kernel completes the handshake into the backlog; nobody reads.
        s = socket.socket()
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        r = hs.run_case(self, self.srv, "http://127.0.0.1:%d/" % s.getsockname()[1], hs.timeout_reason("0"))
        hs.stop(self, r.proc)

    def test_headers_trickled_one_byte_a_second_time_out(self):
        self.fault("/trh?trickle_headers_ms=1000", hs.timeout_reason("0"))

    def test_body_trickled_forever_times_out(self):
        self.fault("/trb?trickle_body_ms=1000", hs.timeout_reason("1"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
