"""Helpers of the shard tests: a file of many targets on one local server,
instances of observer with a shard each, and -check-config's ownership
lists (python3 stdlib only)."""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "metrics"))

from harness import SUPERVISOR, Proc, clean_env, closed_port, tempdir, write_file  # noqa: E402

EXAMPLES = os.path.join(HERE, "..", "..", "examples", "prometheus")
TARGET_LINE = re.compile(r"^target \[(.*)\]:$")
ELSEWHERE_LINE = re.compile(r"^  \[(.*)\] shard (\d+)$")


def names(n):
    return ["site-%04d" % i for i in range(n)]


def write_targets(test, srv, count, top="tick=2s\nstatus=200\nstate_file=\n"):
    """A file of `count` sections, each probing its own path /t/NAME on `srv`."""
    body = top + "".join("[%s]\nurl=%s\n" % (n, srv.url("/t/" + n)) for n in names(count))
    return write_file(tempdir(test), "observer.conf", body)


def ownership(conf, shard, *flags):
    """(owned names, {other name: its shard}, summary line) that
    `observer -check-config` prints for `shard` ("I/N")."""
    r = subprocess.run([SUPERVISOR, "-check-config", "-config", conf, "-shard=" + shard] + list(flags),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env=clean_env())
    assert r.returncode == 0, r.stderr
    owned, elsewhere, summary = [], {}, None
    for line in r.stdout.splitlines():
        m = TARGET_LINE.match(line)
        if m:
            owned.append(m.group(1))
            continue
        m = ELSEWHERE_LINE.match(line)
        if m:
            elsewhere[m.group(1)] = int(m.group(2))
        elif line.startswith("shard "):
            summary = line
    return owned, elsewhere, summary


def start_instance(test, conf, shard, *flags, listen=True):
    """A supervisor running `conf` as `shard` (None: as the file says);
    returns (Proc, metrics port or None)."""
    port = closed_port() if listen else None
    argv = [SUPERVISOR, "-config", conf] + (["-shard=" + shard] if shard else []) + (
        ["-listen=127.0.0.1:%d" % port] if listen else [])
    p = Proc(test, argv + list(flags))
    p.wait_line(r"is ready\.", timeout=30)
    return p, port
