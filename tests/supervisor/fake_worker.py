#!/usr/bin/env python3
"""A scripted stand-in for observer-worker, for the supervisor's tests of
worker failures the real worker cannot be made to show on demand.

supervisor_support.FakeInstall copies the supervisor binary into a temporary
directory and installs this script beside it as `observer-worker`, so the
supervisor finds it exactly as it finds the real one. The file named by
$FAKE_WORKER_PLAN holds one behaviour per line; the Nth spawn takes line N
(the last line repeats):

  ready            send Ready, print "fake <n> tick" every 100 ms; on SIGTERM
                   send StateEnd and exit 0. After a Retire it stops ticking
                   at the Retire's cut-over and waits for the SIGTERM that
                   retires it, as the real worker does
  ready_after=S    the same, but Ready only after S seconds
  exit=N           exit with status N at once, before Ready
  noready          never send Ready
  garbage          send Ready, then a malformed control message
  ignore_term      like ready, but SIGTERM (and Retire) is ignored
  partial          like ready, but on SIGTERM write a last line without its
                   newline, then exit 0
  slow_handover=S  like ready, but on SIGTERM send one TargetState after S
                   seconds, then StateEnd, then exit 0
  cut_over_in=S    like ready, but its cut-over (below) is S seconds ahead

Started with --cut-over (it replaces a running worker), it sends
CutOverReady with an instant 100 ms ahead (CLOCK_MONOTONIC ns) instead of
Ready, as the real worker does.

Once ready it sends a Heartbeat every second, as the real worker's loop
does (the supervisor kills a current worker it does not hear from).

Every control message it receives is printed as "fake <n> got <type>"
(type: target-state, state-end, retire, resume); a Retire's line ends with its
cut-over ("fake <n> got retire <ns>"). Every SIGTERM/SIGINT is printed as
"fake <n> got signal <signum> at <CLOCK_MONOTONIC ns>", after the control
messages the supervisor sent before it.

Every spawn appends "<n> <pid> <monotonic time> <mode>" to $FAKE_WORKER_PLAN.log.
It exits when the control channel reaches EOF (the supervisor died).
"""
import fcntl
import os
import select
import signal
import struct
import sys
import threading
import time

CONTROL_FD = 3
READY, TARGET_STATE, STATE_END, CUT_OVER_READY, RETIRE, HEARTBEAT, RESUME = 1, 2, 3, 5, 6, 8, 9
CUT_OVER_MARGIN_NS = 100 * 1000 * 1000


def msg(kind, payload=b""):
    return struct.pack("<HHI", kind, 0, len(payload)) + payload


def target_state(n):
    def s(text):
        b = text.encode()
        return struct.pack("<H", len(b)) + b
    # name, url, health (2 = DOWN), since_unix_ms, failures and successes in a
    # row, probes, failures, last reason: control.cc's layout.
    return (s("default") + s("http://127.0.0.1:9/") + struct.pack("<BQIIQQ", 2, 1, 3, 0, 10, 3)
            + s("from fake %d" % n))


def take_plan():
    plan = os.environ["FAKE_WORKER_PLAN"]
    with open(plan + ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(plan) as f:
            modes = [l.strip() for l in f if l.strip()]
        try:
            with open(plan + ".log") as f:
                n = sum(1 for _ in f)
        except FileNotFoundError:
            n = 0
        mode = modes[min(n, len(modes) - 1)]
        with open(plan + ".log", "a") as f:
            f.write("%d %d %.6f %s\n" % (n, os.getpid(), time.monotonic(), mode))
    return n, mode


def main():
    n, mode = take_plan()
    assert any(a.startswith("--supervised=") for a in sys.argv[1:]), sys.argv
    if mode.startswith("exit="):
        sys.stderr.write("fake worker: exiting with %s\n" % mode[5:])
        sys.exit(int(mode[5:]))

    out = os.fdopen(1, "wb", buffering=0)
    stop = threading.Event()
    # Reading and printing control messages happen under this lock, and the
    # SIGTERM handler takes it and drains what is left before exiting: a
    # message the supervisor sent before its SIGTERM is always printed (as the
    # real worker always handles it), however loaded the machine is.
    control_lock = threading.Lock()
    buf = [b""]
    names = {TARGET_STATE: b"target-state", STATE_END: b"state-end", RETIRE: b"retire", RESUME: b"resume"}
    retire_at = []  # the cut-over of a Retire (CLOCK_MONOTONIC ns)

    def read_and_print_control():
        """Reads what is there without blocking; False at EOF."""
        try:
            data = os.read(CONTROL_FD, 4096)
        except BlockingIOError:
            return True
        except OSError:
            data = b""
        if not data:
            return False
        buf[0] += data
        while len(buf[0]) >= 8:
            kind, _, size = struct.unpack("<HHI", buf[0][:8])
            if len(buf[0]) < 8 + size:
                break
            payload = buf[0][8:8 + size]
            buf[0] = buf[0][8 + size:]
            name = names.get(kind, b"type-%d" % kind)
            if kind == RETIRE:
                (cut_over,) = struct.unpack("<Q", payload)
                name += b" %d" % cut_over
                if not retire_at:
                    retire_at.append(cut_over)
            os.write(1, b"fake %d got %s\n" % (n, name))
        return True

    def on_term(signum, frame):
        at = time.monotonic_ns()
        with control_lock:
            while select.select([CONTROL_FD], [], [], 0)[0] and read_and_print_control():
                pass
        os.write(1, b"fake %d got signal %d at %d\n" % (n, signum, at))
        retire()

    def retire():
        if mode == "partial":
            out.write(b"fake %d last words without a newline" % n)
        try:
            if mode.startswith("slow_handover="):
                time.sleep(float(mode.split("=", 1)[1]))
                os.write(CONTROL_FD, msg(TARGET_STATE, target_state(n)))
            os.write(CONTROL_FD, msg(STATE_END))
        except OSError:
            pass
        os._exit(0)

    if mode == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)

    def watch_control():
        os.set_blocking(CONTROL_FD, False)
        while True:
            select.select([CONTROL_FD], [], [])
            with control_lock:
                if not read_and_print_control():
                    os._exit(0)

    threading.Thread(target=watch_control, daemon=True).start()
    if mode.startswith("ready_after="):
        time.sleep(float(mode.split("=", 1)[1]))
    if mode != "noready":
        if "--cut-over" in sys.argv[1:]:
            margin = CUT_OVER_MARGIN_NS
            if mode.startswith("cut_over_in="):
                margin = int(float(mode.split("=", 1)[1]) * 1e9)
            os.write(CONTROL_FD, msg(CUT_OVER_READY, struct.pack("<Q", time.monotonic_ns() + margin)))
        else:
            os.write(CONTROL_FD, msg(READY))
    if mode == "garbage":
        os.write(CONTROL_FD, struct.pack("<HHI", 99, 7, 3) + b"bad")
    ticks = 0
    while not stop.is_set():
        ticks += 1
        if mode != "noready" and ticks % 10 == 0:
            try:
                os.write(CONTROL_FD, msg(HEARTBEAT))
            except OSError:
                pass
        # It serves up to a Retire's cut-over, as the real one does, then
        # waits for its SIGTERM.
        if not retire_at or mode == "ignore_term" or time.monotonic_ns() < retire_at[0]:
            out.write(b"fake %d tick\n" % n)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
