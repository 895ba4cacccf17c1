#!/usr/bin/env python3
"""An HA pair: two instances of the same shard probe the same targets and
post identical alerts to a real Alertmanager, which holds one alert; when
one instance is killed (SIGKILL), the alert stays active, refreshed by the
other. The other shard's DOWN target is not alerted by either."""
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import shard_support as S  # noqa: E402
import alertmanager as amsupport  # noqa: E402
from harness import HttpServer, wait_for  # noqa: E402

SHARD = "1/2"


def ours(am):
    return [a for a in am.alerts() if a["labels"].get("alertname") == "ObserverTargetDown"]


class HaPair(unittest.TestCase):
    def test_same_shard_pair_gives_one_alert_that_outlives_one_instance(self):
        srv = HttpServer(self)
        am = amsupport.Alertmanager(self)
        conf = S.write_targets(self, srv, 10, top=(
            "tick=200ms\nstatus=200\nstate_file=\nalertmanager_url=%s\nalert_label.team=web\n" % am.url()))
        mine, others, _ = S.ownership(conf, SHARD)
        self.assertTrue(mine and others, "both shards own some of the 10 targets")
        down, foreign = mine[0], sorted(others)[0]
        a = S.start_instance(self, conf, SHARD, listen=False)[0]
        b = S.start_instance(self, conf, SHARD, listen=False)[0]
        srv.set("/t/" + down, status=503)
        srv.set("/t/" + foreign, status=503)  # another shard's: neither instance probes it
        wait_for(lambda: ours(am), 15, what="the alert in Alertmanager")
        time.sleep(2)  # both instances have posted
        (alert,) = ours(am)
        self.assertEqual(alert["labels"], {"alertname": "ObserverTargetDown", "target": down,
                                           "url": srv.url("/t/" + down), "instance": "127.0.0.1:%d" % srv.port,
                                           "team": "web"})
        self.assertEqual(alert["status"]["state"], "active")
        self.assertEqual(srv.hits("/t/" + foreign), 0)
        ends_before = amsupport.parse_rfc3339(alert["endsAt"])

        a.proc.send_signal(signal.SIGKILL)  # by PID; its worker follows (PR_SET_PDEATHSIG)
        a.proc.wait(10)
        (alert,) = ours(am)
        self.assertEqual(alert["status"]["state"], "active")
        self.assertGreater(amsupport.parse_rfc3339(alert["endsAt"]) - time.time(), 150)

        # The survivor re-sends every minute: endsAt moves on.
        def refreshed():
            alerts = ours(am)
            return len(alerts) == 1 and amsupport.parse_rfc3339(alerts[0]["endsAt"]) > ends_before + 30
        wait_for(refreshed, 90, interval=1, what="the surviving instance to refresh the alert")
        (alert,) = ours(am)
        self.assertEqual(alert["status"]["state"], "active")
        self.assertEqual(alert["labels"]["target"], down)
        b.signal(signal.SIGTERM)
        self.assertEqual(b.wait_exit(20), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
