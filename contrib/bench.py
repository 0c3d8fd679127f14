#!/usr/bin/env python3
"""Benchmarks for docs/benchmarks.md: chatd under chatd-swarm, and Redis
pub/sub under ../shared/fanbench, side by side in one run.

Every run starts a fresh server pinned to CPU 0 and its load generator
pinned to CPU 1, measures after a warm-up, stops the server by its pid,
and alternates chatd and Redis so that both see the same machine.  The
figures are medians over the runs; every run's line is printed too.

    contrib/bench.py fanout rooms latency --reps 5
    contrib/bench.py idle --bots 5000 10000
    contrib/bench.py fanout --against OLD/chatd --reps 5   # before/after, interleaved

Loopback only; every run is bounded in time and stops by itself.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("CHATD_BUILD", os.path.join(ROOT, "build"))
CHATD = os.path.join(BUILD, "chatd")
SWARM = os.path.join(BUILD, "chatd-swarm")
FANBENCH = os.environ.get("FANBENCH", os.path.join(ROOT, "..", "shared", "fanbench",
                                                   "fanbench"))
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
CHATD_FLAGS = ["--flood-rate", "0", "--max-conns-per-ip", "0", "--log-level", "warning"]

# case: (chatd-swarm arguments, fanbench arguments)
CASES = {
    "fanout": (["--bots", "51", "--rooms", "1", "--senders", "1", "--rate", "0",
                "--window", "128"],
               ["--rooms", "1", "--subs", "50", "--pubs", "1", "--window", "128"]),
    "rooms": (["--bots", "1010", "--rooms", "100", "--senders", "10", "--sender-rooms", "10",
               "--rate", "0", "--window", "128"],
              ["--rooms", "100", "--subs", "1000", "--pubs", "10", "--window", "128"]),
    "latency": (["--bots", "1010", "--rooms", "10", "--senders", "10", "--sender-rooms", "1",
                 "--total-rate", "500"],
                ["--rooms", "10", "--subs", "1000", "--pubs", "10", "--total-rate", "500"]),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nothing listens on port %d" % port)


def start(argv):
    p = subprocess.Popen(["taskset", "-c", "0"] + argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_chatd(case, warmup, duration, extra=(), chatd=None):
    port = free_port()
    srv = start([chatd or CHATD, "--listen", "127.0.0.1:%d" % port] + CHATD_FLAGS)
    try:
        wait_port(port)
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            cmd = ["taskset", "-c", "1", SWARM, "--server", "127.0.0.1:%d" % port,
                   "--warmup", str(warmup), "--duration", str(duration), "--quiet",
                   "--server-pid", str(srv.pid), "--json", out.name] + list(case) + list(extra)
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            with open(out.name) as f:
                r = json.load(f)
        r["exit"] = p.returncode
        r["cmd"] = " ".join(cmd[3:])
        return r
    finally:
        stop(srv)


def run_redis(case, warmup, duration):
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="bench-redis-")
    srv = start([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", tmp, "--maxclients", "15000",
                 "--tcp-backlog", "4096", "--logfile", ""])
    try:
        wait_port(port)
        cmd = ["taskset", "-c", "1", FANBENCH, "--proto", "redis", "--port", str(port),
               "--warmup", str(warmup), "--duration", str(duration), "--pid",
               str(srv.pid)] + list(case)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        m = re.search(r"^RESULT (.*)$", p.stdout, re.M)
        if not m:
            raise RuntimeError("fanbench printed no RESULT:\n" + p.stdout + p.stderr)
        r = dict(kv.split("=", 1) for kv in m.group(1).split())
        r["exit"] = p.returncode
        r["cmd"] = " ".join(cmd[3:])
        return r
    finally:
        stop(srv)
        shutil.rmtree(tmp, ignore_errors=True)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def bench_case(name, reps, warmup, duration):
    swarm_args, fan_args = CASES[name]
    ours, theirs = [], []
    for i in range(reps):
        r = run_chatd(swarm_args, warmup, duration)
        ours.append(r)
        print("  chatd run %d: %.0f deliveries/s, p50 %.3f p99 %.3f p99.9 %.3f ms, "
              "server %.1f ns/delivery (%.0f%% of a core), lost %d, exit %d" % (
                  i + 1, r["deliveries_per_s"], r["latency_ms"]["p50"], r["latency_ms"]["p99"],
                  r["latency_ms"]["p999"], r["server"]["ns_per_delivery"],
                  100 * r["server"]["cpu_s"] / max(r["duration_s"], 1e-9), r["lost"], r["exit"]),
              flush=True)
        if os.path.exists(FANBENCH):
            f = run_redis(fan_args, warmup, duration)
            theirs.append(f)
            d = float(f["deliv_per_s"])
            cpu = float(f["cpu_server"]) / 100  # of a core, over the window
            print("  redis run %d: %.0f deliveries/s, p50 %.3f p99 %.3f p99.9 %.3f ms, "
                  "server %.1f ns/delivery (%s%% of a core), lost %s" % (
                      i + 1, d, float(f["p50_us"]) / 1000, float(f["p99_us"]) / 1000,
                      float(f["p999_us"]) / 1000, 1e9 * cpu / d if d else 0,
                      f["cpu_server"], f["lost"]), flush=True)
    print("%s: chatd median %.0f deliveries/s, p50 %.3f p99 %.3f p99.9 %.3f ms, "
          "%.1f ns/delivery (%d runs)" % (
              name, med([r["deliveries_per_s"] for r in ours]),
              med([r["latency_ms"]["p50"] for r in ours]),
              med([r["latency_ms"]["p99"] for r in ours]),
              med([r["latency_ms"]["p999"] for r in ours]),
              med([r["server"]["ns_per_delivery"] for r in ours]), len(ours)))
    if theirs:
        print("%s: redis median %.0f deliveries/s, p50 %.3f p99 %.3f p99.9 %.3f ms, "
              "%.1f ns/delivery (%d runs)" % (
                  name, med([float(f["deliv_per_s"]) for f in theirs]),
                  med([float(f["p50_us"]) / 1000 for f in theirs]),
                  med([float(f["p99_us"]) / 1000 for f in theirs]),
                  med([float(f["p999_us"]) / 1000 for f in theirs]),
                  med([1e9 * float(f["cpu_server"]) / 100 / float(f["deliv_per_s"])
                       for f in theirs if float(f["deliv_per_s"])]), len(theirs)))
    print("  chatd command: chatd %s; chatd-swarm %s" % (" ".join(CHATD_FLAGS), ours[0]["cmd"]))
    if theirs:
        print("  redis command: %s" % theirs[0]["cmd"])
    sys.stdout.flush()


def bench_against(name, other, reps, warmup, duration):
    """This build's chatd and another's, alternating run by run under the
    same swarm, so that both see the same machine."""
    swarm_args, _ = CASES[name]
    runs = {CHATD: [], other: []}
    for i in range(reps):
        for chatd in (other, CHATD):
            r = run_chatd(swarm_args, warmup, duration, chatd=chatd)
            runs[chatd].append(r)
            print("  %s run %d: %.0f deliveries/s, %.1f ns/delivery, p99 %.3f ms, lost %d" % (
                "this " if chatd == CHATD else "other", i + 1, r["deliveries_per_s"],
                r["server"]["ns_per_delivery"], r["latency_ms"]["p99"], r["lost"]),
                flush=True)
    for label, chatd in (("other", other), ("this", CHATD)):
        rs = runs[chatd]
        print("%s: %s (%s) median %.0f deliveries/s, %.1f ns/delivery (%d runs)" % (
            name, label, chatd, med([r["deliveries_per_s"] for r in rs]),
            med([r["server"]["ns_per_delivery"] for r in rs]), len(rs)), flush=True)


def bench_idle(counts, reps, other=None):
    """Bytes per idle connection; with OTHER, that binary's run follows each of ours."""
    binaries = [("this", CHATD)] + ([("other", other)] if other else [])
    for n in counts:
        per = {label: [] for label, _ in binaries}
        for i in range(reps):
            for label, chatd in binaries:
                rooms = max(1, n // 10)
                extra = ["--bots", str(n), "--rooms", str(rooms), "--idle", "--burst", "512"]
                if n > 9000:
                    extra += ["--sources", "127.0.0.1-127.0.0.8"]
                r = run_chatd([], 3, 1, extra, chatd)
                s = r["server"]
                b = (s["rss_setup_kb"] - s["rss_before_kb"]) * 1024 / n
                per[label].append(b)
                print("  %s idle %d run %d: rss %d KiB before, %d KiB with %d connections: "
                      "%.0f bytes per connection, ready %d, exit %d" % (
                          label, n, i + 1, s["rss_before_kb"], s["rss_setup_kb"], n, b,
                          r["ready"], r["exit"]), flush=True)
        for label, chatd in binaries:
            print("idle %d: %s (%s) median %.0f bytes per connection (%d runs)" % (
                n, label, chatd, med(per[label]), reps), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="+", help="fanout, rooms, latency, idle")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--bots", type=int, nargs="*", default=[5000, 10000])
    ap.add_argument("--against", metavar="CHATD",
                    help="compare with this chatd binary, run for run (no Redis)")
    args = ap.parse_args()
    for c in args.cases:
        if args.against and c in CASES:
            bench_against(c, os.path.abspath(args.against), args.reps, args.warmup,
                          args.duration)
        elif c == "idle":
            bench_idle(args.bots, args.reps,
                       os.path.abspath(args.against) if args.against else None)
        elif c in CASES:
            bench_case(c, args.reps, args.warmup, args.duration)
        else:
            ap.error("unknown case %s" % c)
    return 0


if __name__ == "__main__":
    sys.exit(main())
