#!/usr/bin/env python3
"""DNS failure, beside a healthy control target, without sending a query off
the machine: the whole case (server, worker, this test's assertions) runs in
a network namespace of its own that has only loopback (`unshare -n`, or
`unshare -rn` without root), so the resolver named in /etc/resolv.conf is
unreachable, and the name is under the reserved .invalid TLD (RFC 6761), so
no real name is looked up anywhere. Where no such namespace can be made the
case is skipped; it never falls back to the real network."""
import errno
import fcntl
import os
import socket
import struct
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hostile_support as hs  # noqa: E402
from harness import HttpServer, Proc  # noqa: E402

IN_NETNS = "OBS_HOSTILE_IN_NETNS"
NAME = "nowhere.invalid"
# Host lookup sources that stay inside the process or its network namespace.
LOCAL_NSS = {"files", "dns", "myhostname", "mdns_minimal", "mdns4_minimal", "mdns6_minimal"}


def nss_hosts_sources():
    try:
        with open("/etc/nsswitch.conf") as f:
            for line in f:
                if line.split("#", 1)[0].strip().startswith("hosts:"):
                    return [w for w in line.split("#", 1)[0].split(":", 1)[1].split() if not w.startswith("[")]
    except OSError:
        pass
    return ["files", "dns"]


def unshare_argv():
    """The unshare invocation that works here, or None."""
    for argv in (["unshare", "-n"], ["unshare", "-rn"]):
        try:
            if subprocess.run(argv + ["true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=10).returncode == 0:
                return argv
        except (OSError, subprocess.TimeoutExpired):
            pass
    return None


def bring_loopback_up():
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def resolvers():
    out = []
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    out.append(parts[1].split("%")[0])
    except OSError:
        pass
    return out


class DnsFailure(unittest.TestCase):
    def test_unresolvable_name_is_one_line_in_a_loopback_only_namespace(self):
        extra = set(nss_hosts_sources()) - LOCAL_NSS
        if extra:
            self.skipTest("hosts lookups in /etc/nsswitch.conf go through %s, which may leave the network "
                          "namespace (a daemon's socket); not risking a lookup" % sorted(extra))
        argv = unshare_argv()
        if argv is None:
            self.skipTest("cannot create a network namespace (unshare -n and unshare -rn both failed); "
                          "the DNS case never runs on the real network")
        p = Proc(self, argv + ["--", sys.executable, "-W", "ignore", os.path.abspath(__file__), "-v", "InNetns"],
                 env=dict(os.environ, **{IN_NETNS: "1"}), stderr=subprocess.STDOUT)
        rc = p.wait_exit(90)
        out = "".join(p.lines())
        self.assertEqual(rc, 0, "the case inside the namespace failed:\n" + out)
        self.assertRegex(out, r"test_dns_failure_beside_control \(.*\) \.\.\. ok")


@unittest.skipUnless(os.environ.get(IN_NETNS) == "1", "runs only inside the namespace DnsFailure makes")
class InNetns(unittest.TestCase):
    def test_dns_failure_beside_control(self):
        bring_loopback_up()
        # Isolated: loopback is the only interface, and every resolver in
        # resolv.conf is unreachable from here (or is loopback, which here is
        # this namespace's own, where nothing listens on port 53).
        self.assertEqual([n for _, n in socket.if_nameindex()], ["lo"])
        for ns in resolvers():
            if ns.startswith("127.") or ns == "::1":
                continue
            fam = socket.AF_INET6 if ":" in ns else socket.AF_INET
            with socket.socket(fam, socket.SOCK_DGRAM) as s:
                with self.assertRaises(OSError) as cm:
                    s.connect((ns, 53))  # UDP connect: a route lookup, nothing sent
                self.assertEqual(cm.exception.errno, errno.ENETUNREACH)
        srv = HttpServer(self)
        r = hs.run_case(self, srv, "http://%s:%d/" % (NAME, srv.port),
                        r"Probe failed: Couldn't resolve host name: Could not resolve host: nowhere\.invalid")
        hs.stop(self, r.proc)


if __name__ == "__main__":
    unittest.main(verbosity=2)
