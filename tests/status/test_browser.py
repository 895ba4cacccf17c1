#!/usr/bin/env python3
"""The status page in a real browser: a headless Chromium loads the page a
real observer serves (two local targets, one UP, one DOWN) and the test
reads the DOM it built: one row per target, DOWN first, the state as text.
A screenshot is saved under the build dir (artifacts/status.png). After a
SIGHUP the new worker's page still shows the history the old one gathered.

Chromium only ever loads http://127.0.0.1:PORT/ (no other name is resolved:
--host-resolver-rules; background networking off); every run is bounded and
its process group ended by its PID. Skipped, with the reason, when Chromium
is missing or cannot run here."""
import html.parser
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import status_support as ss  # noqa: E402

STEP_TIMEOUT = 60  # seconds for one Chromium run: it can be slow to start


class Chromium:
    def __init__(self, test):
        self.binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if self.binary is None:
            raise unittest.SkipTest("chromium is not installed (Debian's chromium package; scripts/install-deps.sh)")
        self.profile = tempfile.mkdtemp(prefix="observer-chromium-")
        test.addCleanup(lambda: shutil.rmtree(self.profile, ignore_errors=True))

    def run(self, url, *extra):
        """Chromium's stdout for `url`; raises AssertionError with its stderr on failure."""
        assert url.startswith("http://127.0.0.1:"), url
        argv = [self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + self.profile,
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
                "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--virtual-time-budget=3000"] + list(extra) + [url]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._end(proc)
            raise AssertionError("chromium did not finish within %ds" % STEP_TIMEOUT)
        finally:
            self._end(proc)
        if proc.returncode != 0:
            raise AssertionError("chromium exited with %d: %s" % (proc.returncode, err.decode(errors="replace")[-2000:]))
        return out.decode()

    @staticmethod
    def _end(proc):
        # Its own session: the group is the one we started, named by its PID.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError):
            pass

    def dom(self, url):
        return self.run(url, "--dump-dom")

    def screenshot(self, url, path):
        self.run(url, "--screenshot=" + path, "--window-size=1280,800", "--hide-scrollbars")
        return path


class Rows(html.parser.HTMLParser):
    """The rows of #targets' body: state, name, state text, probes in the sparkline."""

    def __init__(self):
        super().__init__()
        self.rows, self.row, self.in_badge, self.in_table, self.in_body = [], None, False, False, False
        self.header_scopes = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "targets":
            self.in_table = True
        if not self.in_table:
            return
        if tag == "th":
            self.header_scopes.append(a.get("scope"))
        if tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.row = {"state": a.get("data-state"), "name": a.get("data-name"), "text": "", "probes": None}
            self.rows.append(self.row)
        elif tag == "span" and "badge" in (a.get("class") or "").split() and self.row is not None:
            self.in_badge = True
        elif tag == "svg" and self.row is not None:
            self.row["probes"] = int(a["data-probes"])

    def handle_endtag(self, tag):
        if tag == "span":
            self.in_badge = False
        elif tag == "tbody":
            self.in_body = False
        elif tag == "table":
            self.in_table = False

    def handle_data(self, data):
        if self.in_badge and self.row is not None:
            self.row["text"] += data


def rows_of(dom):
    r = Rows()
    r.feed(dom)
    return r


class StatusPageInABrowser(unittest.TestCase):
    def test_chromium_shows_down_first_and_the_history_survives_a_reload(self):
        browser = Chromium(self)
        p, port, srv = ss.start_observer(self, tick="500ms")
        url = "http://127.0.0.1:%d/" % port
        try:
            browser.dom("http://127.0.0.1:%d/healthz" % port)
        except AssertionError as e:
            self.skipTest("chromium cannot run here: %s" % e)
        ss.wait_states(port, {"up": "up", ss.DOWN_NAME: "down"})
        ss.wait_for(lambda: min(len(t["recent_probes"]["ok"]) for t in ss.get_json(port, "/api/v1/targets")[1]["targets"]) >= 8,
                    20, interval=0.1, what="eight probes of each target")
        dom = browser.dom(url)
        # The script ran: it shows the filter box that a page without JavaScript hides.
        self.assertRegex(dom, r'<p id="filter-box"(?![^>]*hidden)')
        page = rows_of(dom)
        rows = page.rows
        self.assertEqual([r["name"] for r in rows], [ss.DOWN_NAME, "up"], rows)
        self.assertEqual([r["state"] for r in rows], ["down", "up"])
        self.assertEqual([r["text"] for r in rows], ["DOWN", "UP"], "the state in words, not colour alone")
        self.assertIn("col", page.header_scopes)
        self.assertIn("row", page.header_scopes)
        before = {r["name"]: r["probes"] for r in rows}
        self.assertGreaterEqual(min(before.values()), 8, before)
        _, api_before = ss.get_json(port, "/api/v1/targets")
        since_before = {t["name"]: t["since_unix_ms"] for t in api_before["targets"]}
        artifacts = os.environ.get("OBS_TEST_ARTIFACTS") or os.path.join(HERE, "..", "..", "build", "default", "artifacts")
        os.makedirs(artifacts, exist_ok=True)
        shot = browser.screenshot(url, os.path.join(os.path.abspath(artifacts), "status.png"))
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        print("\nscreenshot: %s" % shot, flush=True)
        # A reload: the new worker serves the page, with the old one's history.
        old = ss.worker_pid(self, p, port)
        p.signal(signal.SIGHUP)
        p.wait_line(r"Reloaded: worker", timeout=20)
        ss.wait_for(lambda: ss.get_json(port, "/api/v1/targets")[1]["observer"]["worker_pid"] != old, 15,
                    interval=0.1, what="the new worker to serve")
        after_rows = rows_of(browser.dom(url)).rows
        self.assertEqual([r["name"] for r in after_rows], [ss.DOWN_NAME, "up"])
        after = {r["name"]: r["probes"] for r in after_rows}
        for name, n in before.items():
            self.assertGreaterEqual(after[name], n, "the sparkline of %r was reset by the reload" % name)
        _, api_after = ss.get_json(port, "/api/v1/targets")
        self.assertNotEqual(api_after["observer"]["worker_pid"], old)
        for t in api_after["targets"]:
            self.assertEqual(t["since_unix_ms"], since_before[t["name"]], "since of %r" % t["name"])
            self.assertGreaterEqual(len(t["recent_probes"]["ok"]), before[t["name"]])
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(15), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
