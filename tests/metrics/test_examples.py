#!/usr/bin/env python3
"""examples/prometheus/ passes Prometheus's own checks: the scrape
configuration and the alerting rules."""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import metrics_support as ms  # noqa: E402

EXAMPLES = os.path.join(HERE, "..", "..", "examples", "prometheus")


class Examples(unittest.TestCase):
    def check(self, *args):
        promtool = ms.need("promtool")
        r = subprocess.run([promtool, "check"] + list(args), capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout + r.stderr)

    def test_scrape_config_is_valid(self):
        self.check("config", os.path.join(EXAMPLES, "prometheus.yml"))

    def test_alerting_rules_are_valid(self):
        self.check("rules", os.path.join(EXAMPLES, "rules.yml"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
