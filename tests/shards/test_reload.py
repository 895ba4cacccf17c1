#!/usr/bin/env python3
"""shard= changed in the file and reloaded (SIGHUP): the targets that leave
the shard stop being probed and hand nothing over, the targets that arrive
start fresh (an arriving DOWN target logs a DOWN of its own)."""
import json
import os
import re
import signal
import sys
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import shard_support as S  # noqa: E402
from harness import HttpServer, wait_for, write_file  # noqa: E402

TARGETS = 40


def target_names(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/targets" % port, timeout=5) as r:
        body = json.loads(r.read().decode())
    return {t["name"] for t in body["targets"]}, body["observer"]["shard"]


class Reload(unittest.TestCase):
    def test_reload_to_another_shard_moves_what_is_probed(self):
        srv = HttpServer(self)
        top = "tick=200ms\nstatus=200\nstate_file=\nshard=%s\n"
        conf = S.write_targets(self, srv, TARGETS, top=top % "0/2")
        before = set(S.ownership(conf, "0/2")[0])
        after = set(S.ownership(conf, "1/2")[0])
        self.assertTrue(before and after and not before & after)
        leaving_down, arriving_down = sorted(before)[0], sorted(after)[0]
        srv.set("/t/" + leaving_down, status=503)
        srv.set("/t/" + arriving_down, status=503)
        # The shard comes from the file: a reload re-reads it (flags and
        # environment stay the supervisor's).
        p, port = S.start_instance(self, conf, None)
        p.wait_line(r"\[%s\] DOWN" % leaving_down, timeout=15)
        wait_for(lambda: all(srv.hits("/t/" + n) > 0 for n in before), 15, what="shard 0's targets probed")
        self.assertEqual(sum(srv.hits("/t/" + n) for n in after), 0, "shard 1's targets probed by shard 0")
        self.assertEqual(p.count(r"\[%s\]" % arriving_down), 0, "another shard's target logged")
        self.assertEqual(target_names(port), (before, {"index": 0, "count": 2}))

        with open(conf) as f:
            text = f.read()
        write_file(os.path.dirname(conf), "observer.conf", text.replace(top % "0/2", top % "1/2", 1))
        mark = len(p.lines())
        p.signal(signal.SIGHUP)
        line = p.wait_line(r"Reloaded: worker", timeout=30, start=mark)
        old_pid = re.search(r"takes over from worker \(pid (\d+)\)", line).group(1)
        retired = p.wait_line(r"Worker \(pid %s\) retired" % old_pid, timeout=30, start=mark)
        since_retired = p.lines().index(retired) + 1
        # The old worker has exited: nothing of shard 0 is probed any more.
        left = {n: srv.hits("/t/" + n) for n in before}
        p.wait_line(r"\[%s\] DOWN" % arriving_down, timeout=15, start=mark)
        wait_for(lambda: all(srv.hits("/t/" + n) >= 3 for n in after), 15, what="shard 1's targets probed")
        self.assertEqual({n: srv.hits("/t/" + n) for n in before}, left, "a target that left is still probed")
        self.assertEqual(target_names(port), (after, {"index": 1, "count": 2}))
        # The leaving DOWN target handed nothing over and is silent now.
        self.assertEqual([l for l in p.lines()[since_retired:] if "[%s]" % leaving_down in l], [])
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(20), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
