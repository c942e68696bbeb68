#!/usr/bin/python3
"""How wsbridge behaves out of descriptors, in figures: the share of new
clients answered within a second, and the server's CPU share meanwhile.

    scripts/bench-saturated.py [--workers=N] [--seconds=S] [--rounds=R]

The integration test (test_faults.py) checks that every client gets an
answer and that none is wrong; how fast, and how little CPU the server burns
while it sheds load, are measured here, where speed belongs, not asserted.
Runs the built server (build/wsbridge, or $WSBRIDGE_BIN) on 127.0.0.1 with
a descriptor limit of 64, fills it with idle connections, then knocks every
50 ms for S seconds (default 5). Prints one line per round and the medians.
"""
import argparse
import os
import socket
import statistics
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import procstat  # noqa: E402
import wsb  # noqa: E402

LIMIT = 64


def knock(port):
    """True when the saturated server answers (anything, or a close) within 1 s."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(wsb.upgrade_request(port))
            s.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except OSError:
        return False
    return True


def one_round(binary, workers, seconds):
    workdir = tempfile.mkdtemp(prefix="wsb-bench-saturated-")
    srv = wsb.Server("/bin/bash", [], [], workdir, argv_fn=lambda port: [
        "-c", f'ulimit -n {LIMIT} && exec "$0" "$@"', binary, f"--port={port}",
        "--address=127.0.0.1", f"--workers={workers}", "cat"])
    srv.start()
    held = []
    try:
        for _ in range(LIMIT + 20):
            held.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
        deadline = time.monotonic() + 10
        while procstat.fd_count(srv.pid) < LIMIT - 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu0, t0 = procstat.cpu_seconds(srv.pid), time.monotonic()
        answered = knocks = 0
        while time.monotonic() - t0 < seconds:
            answered += knock(srv.port)
            knocks += 1
            time.sleep(0.05)
        wall = time.monotonic() - t0
        cpu = procstat.cpu_seconds(srv.pid) - cpu0
        return answered / knocks, cpu / wall
    finally:
        for s in held:
            s.close()
        srv.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    binary = os.environ.get("WSBRIDGE_BIN") or os.path.join(ROOT, "build", "wsbridge")
    if not os.access(binary, os.X_OK):
        sys.exit(f"bench-saturated: {binary} is not built (scripts/build.sh)")
    answered, cpu = [], []
    for n in range(args.rounds):
        a, c = one_round(binary, args.workers, args.seconds)
        answered.append(a)
        cpu.append(c)
        print(f"round {n + 1}: {a:.0%} of knocks answered within 1 s, server CPU {c:.1%} of one core")
    print(f"median over {args.rounds} rounds, {args.workers} worker(s), out of descriptors: "
          f"{statistics.median(answered):.0%} answered within 1 s, "
          f"server CPU {statistics.median(cpu):.1%} of one core")


if __name__ == "__main__":
    main()
