#!/usr/bin/env python3
"""examples/prometheus/ passes Prometheus's own checks: the scrape
configuration and the alerting rules; examples/alerts/ passes observer's
-check-config and Alertmanager's amtool."""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import metrics_support as ms  # noqa: E402

EXAMPLES = os.path.join(HERE, "..", "..", "examples", "prometheus")
ALERTS = os.path.join(HERE, "..", "..", "examples", "alerts")


class Examples(unittest.TestCase):
    def check(self, *args):
        promtool = ms.need("promtool")
        r = subprocess.run([promtool, "check"] + list(args), capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout + r.stderr)

    def test_scrape_config_is_valid(self):
        self.check("config", os.path.join(EXAMPLES, "prometheus.yml"))

    def test_shards_scrape_config_is_valid(self):
        self.check("config", os.path.join(EXAMPLES, "prometheus-shards.yml"))

    def test_alerting_rules_are_valid(self):
        self.check("rules", os.path.join(EXAMPLES, "rules.yml"))

    def test_alert_examples_load(self):
        confs = sorted(f for f in os.listdir(ALERTS) if f.endswith(".conf"))
        self.assertEqual(confs, ["alertmanager.conf", "discord.conf", "ntfy.conf", "slack.conf"])
        for conf in confs:
            r = subprocess.run([os.environ["OBS_TEST_WORKER"], "-check-config", "-config", os.path.join(ALERTS, conf)],
                               capture_output=True, text=True, timeout=30, env={"PATH": os.environ.get("PATH", "")})
            self.assertEqual(r.returncode, 0, conf + ": " + r.stderr)
            self.assertIn("configuration OK", r.stdout + r.stderr, conf)
            # The webhook URLs' secret paths are never shown.
            self.assertNotIn("XXXXXXXX", r.stdout, conf)

    def test_alertmanager_example_is_valid(self):
        amtool = ms.need("amtool")
        r = subprocess.run([amtool, "check-config", os.path.join(ALERTS, "alertmanager.yml")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
