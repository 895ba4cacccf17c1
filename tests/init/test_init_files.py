#!/usr/bin/env python3
"""The init files and man pages, as generated and as installed.

Run one class (CTest does): test_init_files.py InstallTree
$OBS_INIT_LAYOUT names the JSON file tests/init/CMakeLists.txt writes: where
this build installs each file. A tool the checks need that is missing makes
its test skip with the Debian package to install; CI installs them all.
"""
import json
import os
import plistlib
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import init_support as S  # noqa: E402

LAYOUT = S.layout()
GEN = LAYOUT["generated_dir"]
SRC = LAYOUT["source_dir"]
UNIT = os.path.join(GEN, "systemd", "observer.service")
SHUTDOWN_BOUND = S.shutdown_timeout_default_seconds()


def need(tool, package):
    if shutil.which(tool) is None:
        raise unittest.SkipTest("%s is not installed (Debian package: %s)" % (tool, package))


def run(argv, env=None, timeout=60):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, timeout=timeout, text=True)


def stage_path(stage, path):
    return os.path.join(stage, path.lstrip("/"))


class InstallTree(unittest.TestCase):
    """`cmake --install` with DESTDIR puts every file where the platform
    expects it, and systemd accepts the unit as installed there."""

    @classmethod
    def setUpClass(cls):
        cls.stage = tempfile.mkdtemp(prefix="observer-stage-")
        env = dict(os.environ, DESTDIR=cls.stage)
        r = run([LAYOUT["cmake"], "--install", LAYOUT["build_dir"]], env=env, timeout=120)
        if r.returncode != 0:
            shutil.rmtree(cls.stage, ignore_errors=True)
            raise AssertionError("cmake --install failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.stage, ignore_errors=True)

    def staged(self, path):
        return stage_path(self.stage, path)

    def assert_installed(self, path, executable=False):
        p = self.staged(path)
        self.assertTrue(os.path.isfile(p), "not installed: %s" % path)
        if executable:
            self.assertTrue(os.access(p, os.X_OK), "installed without the executable bit: %s" % path)
        return p

    def test_every_file_is_installed_where_its_platform_expects_it(self):
        L = LAYOUT
        self.assert_installed(os.path.join(L["bindir"], "observer"), executable=True)
        self.assert_installed(os.path.join(L["libexecdir"], "observer", "observer-worker"), executable=True)
        if L["install_systemd"]:
            self.assert_installed(os.path.join(L["unit_dir"], "observer.service"))
            self.assert_installed(os.path.join(L["unit_dir"], "observer@.service"))
            self.assert_installed(os.path.join(L["systemd_extras_dir"], "notify-reload.conf"))
        label = L["launchd_label"]
        self.assert_installed(os.path.join(L["launchd_dir"], "LaunchAgents", label + ".plist"))
        self.assert_installed(os.path.join(L["launchd_dir"], "LaunchDaemons", label + ".plist"))
        self.assert_installed(os.path.join(L["openrc_dir"], "observer"), executable=True)
        self.assert_installed(os.path.join(L["openrc_confd_dir"], "observer"))
        for f in ("run", "finish", "log/run"):
            self.assert_installed(os.path.join(L["runit_dir"], "observer", f), executable=True)
        self.assert_installed(os.path.join(L["mandir"], "man8", "observer.8"))
        self.assert_installed(os.path.join(L["mandir"], "man5", "observer.conf.5"))
        self.assert_installed(os.path.join(L["docdir"], "examples", "observer.conf"))

    def test_install_prefix_relocates_every_file(self):
        # `cmake --install --prefix P` must put everything under P: a
        # destination fixed at configure time would land on the host.
        stage = tempfile.mkdtemp(prefix="observer-reloc-")
        self.addCleanup(shutil.rmtree, stage, True)
        prefix = "/opt/observer-relocated"
        r = run([LAYOUT["cmake"], "--install", LAYOUT["build_dir"], "--prefix", prefix],
                env=dict(os.environ, DESTDIR=stage), timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        installed = re.findall(r"^-- (?:Installing|Up-to-date): (.*)$", r.stdout, re.M)
        self.assertGreater(len(installed), 10)
        outside = [p for p in installed if not p.startswith(stage_path(stage, prefix) + "/")]
        self.assertEqual(outside, [], "installed outside the --prefix")

    def test_installed_unit_starts_the_installed_observer(self):
        if not LAYOUT["install_systemd"]:
            self.skipTest("configured with OBSERVER_INSTALL_SYSTEMD=OFF")
        unit = S.parse_unit(self.assert_installed(os.path.join(LAYOUT["unit_dir"], "observer.service")))
        argv = unit["Service"]["ExecStart"][-1].split()
        self.assertEqual(argv[0], os.path.join(LAYOUT["bindir"], "observer"))
        self.assertEqual(argv[1:], ["-config", LAYOUT["config_file"]])
        self.assertTrue(os.access(self.staged(argv[0]), os.X_OK))

    def verify(self, unit_path, dropin=None):
        """systemd-analyze verify in a root made of the staging tree plus what
        the target system provides (systemd's own units, /bin/kill)."""
        need("systemd-analyze", "systemd")
        root = tempfile.mkdtemp(prefix="observer-root-")
        self.addCleanup(shutil.rmtree, root, True)
        shutil.copytree(self.stage, root, symlinks=True, dirs_exist_ok=True)
        for d in ("/usr/lib/systemd/system", "/lib/systemd/system"):
            if os.path.isdir(d):
                shutil.copytree(d, stage_path(root, "/usr/lib/systemd/system"), symlinks=True, dirs_exist_ok=True)
                break
        os.makedirs(stage_path(root, "/bin"), exist_ok=True)
        shutil.copy2(shutil.which("kill") or "/bin/kill", stage_path(root, "/bin/kill"))
        if dropin is not None:
            d = stage_path(root, "/etc/systemd/system/observer.service.d")
            os.makedirs(d)
            shutil.copy2(dropin, d)
        env = dict(os.environ, MANPATH=stage_path(root, LAYOUT["mandir"]), SYSTEMD_LOG_COLOR="0")
        staged_unit = stage_path(root, unit_path)
        return run(["systemd-analyze", "verify", "--root=" + root, staged_unit], env=env), staged_unit, root, env

    def test_systemd_analyze_verify_accepts_the_installed_unit(self):
        if not LAYOUT["install_systemd"]:
            self.skipTest("configured with OBSERVER_INSTALL_SYSTEMD=OFF")
        unit_path = os.path.join(LAYOUT["unit_dir"], "observer.service")
        r, _, _, _ = self.verify(unit_path)
        # verify exits 0 on warnings ("Unknown key ..., ignoring"): any
        # output at all is a failure.
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_systemd_analyze_verify_accepts_an_instance_of_the_shard_template(self):
        # observer@0-3.service, as `systemctl enable observer@0-3` links it
        # to the installed template: shard 0/3.
        if not LAYOUT["install_systemd"]:
            self.skipTest("configured with OBSERVER_INSTALL_SYSTEMD=OFF")
        self.assert_installed(os.path.join(LAYOUT["unit_dir"], "observer@.service"))
        instance = os.path.join(LAYOUT["unit_dir"], "observer@0-3.service")
        os.symlink("observer@.service", self.staged(instance))
        self.addCleanup(os.unlink, self.staged(instance))
        r, _, _, _ = self.verify(instance)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_systemd_analyze_verify_catches_a_broken_unit(self):
        # The check above must be able to fail: the same unit with an unknown
        # key and a missing ExecStart binary does.
        if not LAYOUT["install_systemd"]:
            self.skipTest("configured with OBSERVER_INSTALL_SYSTEMD=OFF")
        unit_path = os.path.join(LAYOUT["unit_dir"], "observer.service")
        need("systemd-analyze", "systemd")
        r, staged_unit, root, env = self.verify(unit_path)
        with open(staged_unit) as f:
            text = f.read()
        with open(staged_unit, "w") as f:
            f.write(text.replace("KillMode=mixed", "KillMode=mixed\nKilMode=mixed"))
        os.unlink(stage_path(root, os.path.join(LAYOUT["bindir"], "observer")))
        r = run(["systemd-analyze", "verify", "--root=" + root, staged_unit], env=env)
        out = r.stdout + r.stderr
        self.assertIn("KilMode", out)
        self.assertIn("is not executable", out)

    def test_notify_reload_dropin_on_systemd_253_or_newer(self):
        if not LAYOUT["install_systemd"]:
            self.skipTest("configured with OBSERVER_INSTALL_SYSTEMD=OFF")
        need("systemd-analyze", "systemd")
        version = S.systemd_version()
        dropin = self.assert_installed(os.path.join(LAYOUT["systemd_extras_dir"], "notify-reload.conf"))
        conf = S.parse_unit(dropin)["Service"]
        self.assertEqual(conf["Type"], ["notify-reload"])
        self.assertEqual(conf["ReloadSignal"], ["SIGHUP"])
        self.assertEqual(conf["ExecReload"], [""], "must clear ExecReload= so SIGHUP is sent once")
        if version < 253:
            self.skipTest("systemd %d predates Type=notify-reload (253); the drop-in was checked "
                          "statically only" % version)
        r, _, _, _ = self.verify(os.path.join(LAYOUT["unit_dir"], "observer.service"), dropin)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))


class SystemdUnit(unittest.TestCase):
    """The unit's life-cycle settings match observer's contract, and its
    hardening keeps the exposure score at or below 2.0."""

    def setUp(self):
        self.unit = S.parse_unit(UNIT)
        self.svc = self.unit["Service"]

    def one(self, key):
        values = self.svc.get(key)
        self.assertIsNotNone(values, "%s= missing" % key)
        return values[-1]

    def test_life_cycle_settings(self):
        self.assertEqual(self.one("Type"), "notify")
        self.assertEqual(self.one("KillMode"), "mixed")
        self.assertEqual(self.one("KillSignal"), "SIGTERM")
        self.assertEqual(self.one("Restart"), "on-failure")
        self.assertIn("78", self.one("RestartPreventExitStatus").split())
        self.assertEqual(self.one("ExecReload"), "/bin/kill -HUP $MAINPID")
        self.assertEqual(self.one("StandardOutput"), "journal")
        self.assertIn("network-online.target", self.unit["Unit"]["After"][-1].split())

    def test_stop_timeout_is_above_observers_shutdown_bound(self):
        stop = S.systemd_seconds(self.one("TimeoutStopSec"))
        self.assertGreater(stop, SHUTDOWN_BOUND,
                           "TimeoutStopSec=%ss must exceed shutdown_timeout's default %ss" % (stop, SHUTDOWN_BOUND))
        # And with room for the supervisor's own SIGKILL and flush after it.
        self.assertGreaterEqual(stop, SHUTDOWN_BOUND + 5)

    def test_hardening_settings(self):
        for key, want in [("DynamicUser", "yes"), ("NoNewPrivileges", "yes"), ("CapabilityBoundingSet", ""),
                          ("AmbientCapabilities", ""), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                          ("PrivateTmp", "yes"), ("PrivateDevices", "yes"), ("SystemCallArchitectures", "native"),
                          ("MemoryDenyWriteExecute", "yes"), ("RestrictNamespaces", "yes"),
                          ("ProtectProc", "invisible"), ("UMask", "0077")]:
            self.assertEqual(self.one(key), want, key)
        self.assertIn("@system-service", self.svc["SystemCallFilter"][0].split())
        self.assertNotIn("PrivateNetwork", self.svc, "observer must reach the network")
        self.assertNotIn("IPAddressDeny", self.svc, "observer must reach any address")
        families = self.one("RestrictAddressFamilies").split()
        for family in ("AF_UNIX", "AF_INET", "AF_INET6"):
            self.assertIn(family, families)

    def test_security_exposure_is_at_most_2_0(self):
        need("systemd-analyze", "systemd")
        # --threshold= is on systemd's 0..100 scale (10 times the printed
        # exposure): 20 means 2.0. It fails the command above it.
        r = run(["systemd-analyze", "security", "--offline=true", "--threshold=20", "--no-pager", UNIT])
        m = re.search(r"Overall exposure level for observer\.service: (\d+\.\d)", r.stdout)
        self.assertIsNotNone(m, r.stdout[-2000:] + r.stderr)
        self.assertEqual(r.returncode, 0, "exposure %s above 2.0:\n%s" % (m.group(1), r.stdout))
        self.assertLessEqual(float(m.group(1)), 2.0)

    def test_security_threshold_fails_a_weaker_unit(self):
        # The threshold must bite: without the hardening block the score is
        # far above 2.0 and the command fails.
        need("systemd-analyze", "systemd")
        d = tempfile.mkdtemp(prefix="observer-weak-")
        self.addCleanup(shutil.rmtree, d, True)
        weak = os.path.join(d, "observer.service")
        with open(UNIT) as f:
            text = f.read()
        text = re.sub(r"(?m)^(?:DynamicUser|ProtectSystem|CapabilityBoundingSet|SystemCallFilter|"
                      r"RestrictAddressFamilies|PrivateDevices|NoNewPrivileges)=.*$", "", text)
        with open(weak, "w") as f:
            f.write(text)
        r = run(["systemd-analyze", "security", "--offline=true", "--threshold=20", "--no-pager", weak])
        self.assertNotEqual(r.returncode, 0, r.stdout[-500:])


class SystemdShardTemplate(unittest.TestCase):
    """observer@.service is observer.service with the instance as the shard:
    the same life cycle and hardening, OBSERVER_SHARD from %I, a state
    directory and a journal identifier of its own."""

    INSTANCE_KEYS = {"Description", "Environment", "SyslogIdentifier", "StateDirectory"}

    def setUp(self):
        self.template = S.parse_unit(os.path.join(GEN, "systemd", "observer@.service"))
        self.plain = S.parse_unit(UNIT)

    def test_instance_is_the_shard_and_has_its_own_state_and_journal_name(self):
        svc = self.template["Service"]
        self.assertEqual(svc["Environment"], ["OBSERVER_SHARD=%I"])
        self.assertEqual(svc["StateDirectory"], ["observer/%i"])
        self.assertEqual(svc["SyslogIdentifier"], ["observer@%i"])
        self.assertIn("%I", self.template["Unit"]["Description"][-1])
        # systemd escapes "/" as "-": observer@0-3 is shard 0/3.
        if shutil.which("systemd-escape"):
            self.assertEqual(run(["systemd-escape", "0/3"]).stdout.strip(), "0-3")
            self.assertEqual(run(["systemd-escape", "-u", "0-3"]).stdout.strip(), "0/3")

    def test_every_other_setting_is_observer_services(self):
        for section in ("Unit", "Service", "Install"):
            want = {k: v for k, v in self.plain.get(section, {}).items() if k not in self.INSTANCE_KEYS}
            got = {k: v for k, v in self.template.get(section, {}).items() if k not in self.INSTANCE_KEYS}
            self.assertEqual(got, want, section)

    def test_security_exposure_is_at_most_2_0(self):
        need("systemd-analyze", "systemd")
        d = tempfile.mkdtemp(prefix="observer-template-")
        self.addCleanup(shutil.rmtree, d, True)
        instance = os.path.join(d, "observer@0-3.service")
        shutil.copy2(os.path.join(GEN, "systemd", "observer@.service"), instance)
        r = run(["systemd-analyze", "security", "--offline=true", "--threshold=20", "--no-pager", instance])
        m = re.search(r"Overall exposure level for observer@0-3\.service: (\d+\.\d)", r.stdout)
        self.assertIsNotNone(m, r.stdout[-2000:] + r.stderr)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertLessEqual(float(m.group(1)), 2.0)


class LaunchdPlists(unittest.TestCase):
    """Both plists parse, name the installed observer and its config, keep it
    alive, and wait longer than observer's shutdown bound before SIGKILL."""

    def check(self, kind):
        path = os.path.join(GEN, "launchd", kind, LAYOUT["launchd_label"] + ".plist")
        with open(path, "rb") as f:
            p = plistlib.load(f)
        self.assertEqual(p["Label"], LAYOUT["launchd_label"])
        self.assertEqual(p["ProgramArguments"],
                         [os.path.join(LAYOUT["bindir"], "observer"), "-config", LAYOUT["launchd_config_file"]])
        self.assertIs(p["RunAtLoad"], True)
        keep = p["KeepAlive"]
        self.assertTrue(keep is True or keep == {"SuccessfulExit": False}, keep)
        self.assertIsInstance(p["ExitTimeOut"], int)
        self.assertGreaterEqual(p["ExitTimeOut"], SHUTDOWN_BOUND + 5)
        self.assertIsInstance(p["ThrottleInterval"], int)
        self.assertGreaterEqual(p["ThrottleInterval"], 10, "a crash loop must not spin")
        for key in ("StandardOutPath", "StandardErrorPath"):
            self.assertTrue(os.path.isabs(p[key]), key)
        self.assertNotIn("@", json.dumps(p), "an unsubstituted template variable")
        return p

    def test_agent(self):
        p = self.check("LaunchAgents")
        self.assertNotIn("UserName", p, "an agent runs as the logged-in user")

    def test_daemon_runs_unprivileged(self):
        p = self.check("LaunchDaemons")
        self.assertNotIn(p.get("UserName", "root"), ("root", ""))

    def test_comments_tell_how_to_reload_and_unload(self):
        for kind in ("LaunchAgents", "LaunchDaemons"):
            with open(os.path.join(GEN, "launchd", kind, LAYOUT["launchd_label"] + ".plist")) as f:
                text = f.read()
            for words in ("launchctl kill HUP", "launchctl bootstrap", "launchctl bootout"):
                self.assertIn(words, text, kind)


class ShellScripts(unittest.TestCase):
    """The OpenRC and runit scripts pass shellcheck and wire reload to SIGHUP
    with stop timeouts above observer's bound."""

    def scripts(self):
        return [os.path.join(GEN, "openrc", "observer"),
                os.path.join(GEN, "runit", "observer", "run"),
                os.path.join(SRC, "init", "runit", "finish"),
                os.path.join(SRC, "init", "runit", "log", "run"),
                os.path.join(SRC, "init", "openrc", "observer.confd")]

    def test_shellcheck(self):
        need("shellcheck", "shellcheck")
        r = run(["shellcheck", "--shell=sh", "--severity=style"] + self.scripts())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_shellcheck_catches_a_broken_script(self):
        need("shellcheck", "shellcheck")
        d = tempfile.mkdtemp(prefix="observer-sc-")
        self.addCleanup(shutil.rmtree, d, True)
        bad = os.path.join(d, "run")
        with open(os.path.join(GEN, "runit", "observer", "run")) as f:
            text = f.read()
        with open(bad, "w") as f:
            f.write(text + "\nfor f in $(ls /etc); do echo $f; done\n")
        self.assertNotEqual(run(["shellcheck", "--shell=sh", bad]).returncode, 0)

    def test_openrc_reload_sends_sighup_and_stop_waits_past_the_bound(self):
        with open(os.path.join(GEN, "openrc", "observer")) as f:
            text = f.read()
        self.assertTrue(text.startswith("#!/sbin/openrc-run\n"))
        self.assertRegex(text, r'extra_started_commands="[^"]*\breload\b')
        reload_body = re.search(r"(?ms)^reload\(\) \{$(.*?)^\}$", text).group(1)
        self.assertIn('start-stop-daemon --signal HUP --pidfile "${pidfile}"', reload_body)
        m = re.search(r'observer_stop_timeout:=(\d+)', text)
        self.assertGreaterEqual(int(m.group(1)), SHUTDOWN_BOUND + 5)
        self.assertIn('retry="TERM/${observer_stop_timeout}/KILL/5"', text)
        self.assertIn('command_background="yes"', text)
        self.assertIn(os.path.join(LAYOUT["bindir"], "observer"), text)

    def test_runit_run_execs_observer_so_sv_signals_reach_it(self):
        # sv reload sends SIGHUP and sv stop SIGTERM to the pid runsv
        # started: observer must be that pid, so run must exec it.
        with open(os.path.join(GEN, "runit", "observer", "run")) as f:
            lines = [l for l in f.read().splitlines() if l and not l.startswith("#")]
        self.assertRegex(lines[-1], r"^exec chpst -u \S+ %s -config %s$" % (
            re.escape(os.path.join(LAYOUT["bindir"], "observer")), re.escape(LAYOUT["config_file"])))
        with open(os.path.join(SRC, "init", "runit", "finish")) as f:
            self.assertIn('"$1" = 78', f.read())


class ManPages(unittest.TestCase):
    """observer(8) and observer.conf(5) render without a warning, and
    observer.conf(5) lists exactly the keys of common/keys.cc with their
    defaults."""

    PAGES = [os.path.join(GEN, "man", "observer.8"), os.path.join(GEN, "man", "observer.conf.5")]

    def render_warnings(self, page):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_STDERR="1")
        r = run(["man", "--warnings", "-l", page], env=env)
        g = run(["groff", "-man", "-ww", "-z", page])
        return r.returncode, r.stderr + g.stderr, r.stdout

    def test_pages_render_without_warnings(self):
        need("man", "man-db")
        need("groff", "groff-base")
        for page in self.PAGES:
            rc, warnings, text = self.render_warnings(page)
            self.assertEqual((rc, warnings), (0, ""), page)
            self.assertIn("SEE ALSO", text)

    def test_no_template_variable_left(self):
        for page in self.PAGES:
            with open(page) as f:
                self.assertNotRegex(f.read(), r"@[A-Z_]+@", page)

    def test_render_check_catches_a_broken_page(self):
        need("man", "man-db")
        need("groff", "groff-base")
        d = tempfile.mkdtemp(prefix="observer-man-")
        self.addCleanup(shutil.rmtree, d, True)
        bad = os.path.join(d, "observer.8")
        with open(self.PAGES[0]) as f:
            text = f.read()
        with open(bad, "w") as f:
            f.write(text.replace(".SH OPTIONS", ".SH OPTIONS\n.BOGUS macro"))
        self.assertNotEqual(self.render_warnings(bad)[1], "")

    def test_conf_page_lists_every_key_with_its_default(self):
        keys = S.known_keys()
        documented = S.documented_keys(self.PAGES[1])
        self.assertEqual(sorted(documented), sorted(k["name"] for k in keys),
                         "observer.conf(5) and common/keys.cc list different keys")
        for k in keys:
            text = documented[k["name"]]
            if k["default"] is None:
                self.assertNotIn("Default:", text, k["name"])
            elif k["default"] == "":
                self.assertIn("Default: empty", text, k["name"])
            else:
                self.assertRegex(text, r"Default:\s+%s\b" % re.escape(k["default"]), k["name"])
            section = "PROCESS-WIDE KEYS" if k["global"] else "TARGET KEYS"
            self.assertEqual(S.key_section(self.PAGES[1], k["name"]), section, k["name"])

    def test_page_mentions_every_exit_code_and_signal(self):
        with open(self.PAGES[0]) as f:
            text = f.read()
        for word in ("SIGHUP", "SIGTERM", "SIGINT", ".B 0", ".B 78", ".B 70", "RELOADING=1", "STOPPING=1",
                     "READY=1", "KillMode=mixed"):
            self.assertIn(word, text)


class ExampleConfig(unittest.TestCase):
    """The example config installed for /etc passes observer -check-config."""

    def test_example_passes_check_config(self):
        sup = os.environ.get("OBS_TEST_SUPERVISOR", "")
        self.assertTrue(os.access(sup, os.X_OK), "OBS_TEST_SUPERVISOR not set to the built observer")
        example = os.path.join(SRC, "examples", "observer.conf")
        r = run([sup, "-config", example, "-check-config"], env=S.clean_env())
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr)
        self.assertRegex(r.stdout, r"\b3 targets, configuration OK")

    def test_every_url_in_the_example_is_a_placeholder(self):
        with open(os.path.join(SRC, "examples", "observer.conf")) as f:
            urls = re.findall(r"(?m)^url=(\S+)$", f.read())
        self.assertTrue(urls)
        for u in urls:
            self.assertRegex(u, r"^https?://([a-z0-9-]+\.)*example\.(com|org|net)(/|$)", u)


if __name__ == "__main__":
    unittest.main(verbosity=2)
