#!/usr/bin/env python3
"""Profiles observer under the bench's load: its own nginx on 127.0.0.1,
N targets at a 1s tick, `perf record -e cpu-clock -g` (software clock: works
where hardware counters do not) on the worker and the supervisor for a
bounded time, then prints perf's flat and caller reports.

  python3 bench/profile.py --bins build/bench/bin [--targets 10000] [--seconds 10] [--https]

--https: the targets are https on the bench's TLS nginx (a CA made at run
time, no session resumption: a full handshake per probe).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bins", required=True)
    ap.add_argument("--targets", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--https", action="store_true", help="probe the TLS nginx (full handshakes)")
    ap.add_argument("--out", default=None, help="dir for perf.data files (default: a temp dir)")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="observer-profile-")
    os.chmod(work, 0o755)
    out = a.out or tempfile.mkdtemp(prefix="observer-perf-")
    try:
        tls = bench.Tls(work) if a.https else None
        nginx = bench.Nginx(work, tls=tls)
        nginx.start()
        obs = bench.Observer(a.bins, work, nginx, "prof", a.targets, 1)
        obs.start()
        time.sleep(2)
        recs = []
        for who, pid in (("worker", obs.worker), ("supervisor", obs.proc.pid)):
            data = os.path.join(out, f"perf-{who}.data")
            recs.append((who, data, bench.start(
                ["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000", "-g", "-o", data,
                 "-p", str(pid), "--", "sleep", str(a.seconds)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
        for _, _, p in recs:
            p.wait(a.seconds + 30)
            bench.STARTED.remove(p)
        obs.terminate()
        for who, data, _ in recs:
            print(f"==== {who}: flat (self) ====")
            sys.stdout.flush()
            subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none",
                            "--percent-limit", "0.7", "--sort", "dso,symbol"], stderr=subprocess.DEVNULL)
            print(f"==== {who}: inclusive ====")
            sys.stdout.flush()
            subprocess.run(["perf", "report", "-i", data, "--stdio", "--children", "-g", "none",
                            "--percent-limit", "3", "--sort", "symbol"], stderr=subprocess.DEVNULL)
    finally:
        bench.stop_all()
        subprocess.run(["rm", "-rf", work])
        if not a.out:
            subprocess.run(["rm", "-rf", out])


if __name__ == "__main__":
    main()
