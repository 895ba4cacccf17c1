#!/usr/bin/env python3
"""1 000 targets split over three instances (shard=0/3, 1/3, 2/3) of real
supervisors and workers, one file, one local HTTP server that counts every
hit: each target is probed by exactly one instance, every tick; the three
-check-config ownership lists are disjoint and cover the file; a real
Prometheus with examples/prometheus/rules.yml sees 1 000 targets through
the recording rule, and its shard alerts fire when one shard stops."""
import collections
import os
import signal
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import shard_support as S  # noqa: E402
import metrics_support as ms  # noqa: E402
from harness import HttpServer, wait_for  # noqa: E402

TARGETS = 1000
SHARDS = 3


class Split(unittest.TestCase):
    def test_check_config_ownership_lists_are_disjoint_and_cover_every_target(self):
        srv = HttpServer(self)
        conf = S.write_targets(self, srv, TARGETS)
        owned = {}
        for i in range(SHARDS):
            mine, others, summary = S.ownership(conf, "%d/%d" % (i, SHARDS))
            owned[i] = set(mine)
            self.assertEqual(len(mine), len(owned[i]), "a target listed twice")
            self.assertEqual(summary, "shard %d/%d: %d of %d targets here, %d on other shards" % (
                i, SHARDS, len(mine), TARGETS, TARGETS - len(mine)))
            self.assertEqual(set(others) | owned[i], set(S.names(TARGETS)))
            self.assertFalse(set(others) & owned[i])
            self.assertNotIn(i, set(others.values()))
            # Roughly a third each.
            self.assertGreater(len(mine), TARGETS // SHARDS * 0.8)
            owned[i + 100] = others
        for i in range(SHARDS):
            for j in range(i + 1, SHARDS):
                self.assertEqual(owned[i] & owned[j], set(), "shards %d and %d share targets" % (i, j))
            # Where shard i says a target is, that shard owns it.
            for name, where in owned[i + 100].items():
                self.assertIn(name, owned[where])
        self.assertEqual(set().union(*(owned[i] for i in range(SHARDS))), set(S.names(TARGETS)))

    def test_three_instances_probe_each_target_once_per_tick_and_prometheus_sees_all(self):
        srv = HttpServer(self)
        conf = S.write_targets(self, srv, TARGETS, top="tick=3s\nstatus=200\nstate_file=\n")
        owner = {}
        for i in range(SHARDS):
            for name in S.ownership(conf, "%d/%d" % (i, SHARDS))[0]:
                owner[name] = "shard-%d" % i
        instances = [S.start_instance(self, conf, "%d/%d" % (i, SHARDS), "-user_agent=shard-%d" % i)
                     for i in range(SHARDS)]
        prom = ms.Prometheus(self, ["127.0.0.1:%d" % port for _, port in instances],
                             rule_files=[os.path.join(S.EXAMPLES, "rules.yml")])

        def query(q):
            return prom.api("query", query=q)["result"]

        def scalar(q):
            r = query(q)
            return float(r[0]["value"][1]) if len(r) == 1 else None

        wait_for(lambda: scalar("count(observer:probe_success:by_target)") == TARGETS, 60, interval=0.5,
                 what="count over the recording rule to reach %d" % TARGETS)
        wait_for(lambda: scalar("observer:targets_probed:sum") == TARGETS, 30, interval=0.5,
                 what="the shards' targets to add up")
        self.assertEqual(scalar("observer:targets_configured:max"), TARGETS)
        self.assertEqual(scalar("count(observer:targets:by_shard)"), SHARDS)
        self.assertEqual(query("observer:targets_probed:sum != on () observer:targets_configured:max"), [])
        self.assertEqual(query('up{job="observer"} == 0 or absent(observer_shard_info{job="observer"})'), [])
        for i, (_, port) in enumerate(instances):
            text = ms.scrape(port)
            self.assertEqual(ms.value(text, "observer_shard_info", shard=str(i), shards=str(SHARDS)), 1)
            self.assertEqual(ms.value(text, "observer_targets", scope="config"), TARGETS)
            mine = {l["target"] for n, l, _ in ms.samples(text) if n == "probe_success"}
            self.assertEqual(mine, {n for n, o in owner.items() if o == "shard-%d" % i})

        # Every target probed at least three times (three ticks) before
        # anything stops, however fast Prometheus got there.
        def fewest_hits():
            seen = collections.Counter(path for _, _, path, _ in srv.requests() if path.startswith("/t/"))
            return min(seen["/t/" + n] for n in S.names(TARGETS)) if seen else 0
        wait_for(lambda: fewest_hits() >= 3, 30, interval=0.5, what="three probes of every target")

        # Shard 2 stops: both shard alerts' expressions fire.
        stopped, _ = instances[2]
        stopped.signal(signal.SIGTERM)
        self.assertEqual(stopped.wait_exit(20), 0)
        wait_for(lambda: query("observer:targets_probed:sum != on () observer:targets_configured:max"), 30,
                 interval=0.5, what="the shards' targets no longer adding up")
        wait_for(lambda: query('up{job="observer"} == 0 or absent(observer_shard_info{job="observer"})'), 30,
                 interval=0.5, what="up == 0 for the stopped shard")
        for p, _ in instances[:2]:
            p.signal(signal.SIGTERM)
            self.assertEqual(p.wait_exit(20), 0)

        # Counted at the server: every target by its owner only, and every
        # target of one instance the same number of times (each tick).
        hits = collections.defaultdict(collections.Counter)
        for _, _, path, agent in srv.requests():
            if path.startswith("/t/"):
                hits[path[3:]][agent] += 1
        self.assertEqual(set(hits), set(S.names(TARGETS)), "targets never probed")
        per_instance = collections.defaultdict(list)
        for name, by_agent in hits.items():
            self.assertEqual(list(by_agent), [owner[name]], "%s probed by %s" % (name, dict(by_agent)))
            per_instance[owner[name]].append(by_agent[owner[name]])
        for agent, counts in per_instance.items():
            self.assertGreaterEqual(min(counts), 3, agent)
            self.assertLessEqual(max(counts) - min(counts), 2, "%s: uneven probes per target %s" % (
                agent, collections.Counter(counts)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
