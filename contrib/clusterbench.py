#!/usr/bin/env python3
"""Cluster benchmarks for docs/benchmarks.md (issue 16): chatd alone, one
chatd node on Redis, and two nodes with the bots split over them, side by
side in one run, under chatd-swarm.

    contrib/clusterbench.py latency --reps 3     # 50,000 deliveries/s, p50/p99/p99.9
    contrib/clusterbench.py publish --reps 3     # publishes/s one shard takes, Redis CPU each

The servers (chatd nodes and redis-server) run on CPU 0 and the swarm on
CPU 1, as in bench.py; Redis runs with no persistence.  Variants alternate
within each repetition; the figures are medians, and every run's line is
printed.  Loopback only; every run is bounded and stops by itself.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (free_port, wait_port, start, stop, scrape, med, proc_cpu_s)

CASES = {
    # bench.py's latency case: 10 rooms of 101, 500 messages/s in all.
    "latency": ["--bots", "1010", "--rooms", "10", "--senders", "10", "--sender-rooms", "1",
                "--total-rate", "500"],
    # As many messages as the senders can get numbered: 40 senders (a say
    # waits for its number), 100 rooms of 10.
    "publish": ["--bots", "1000", "--rooms", "100", "--senders", "40", "--sender-rooms", "1",
                "--rate", "0", "--window", "1"],
}
VARIANTS = ("alone", "node", "2 nodes")


def start_redis():
    port = bench.free_port()
    d = tempfile.mkdtemp(prefix="chatd-bench-redis-")
    p = bench.start([bench.REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", d])
    bench.wait_port(port)
    return p, port


def run(variant, case, warmup, duration):
    redis = None
    nodes = []
    try:
        flags = list(bench.CHATD_FLAGS)
        if variant != "alone":
            redis, rport = start_redis()
            flags += ["--cluster", "redis://127.0.0.1:%d" % rport]
        for i in range(2 if variant == "2 nodes" else 1):
            port = bench.free_port()
            extra = ["--node-name", "n%d" % i] if redis else []
            nodes.append((bench.start([bench.CHATD, "--listen", "127.0.0.1:%d" % port] + flags +
                                      extra), port))
        for _, port in nodes:
            bench.wait_port(port)
        rcpu0 = bench.proc_cpu_s(redis.pid) if redis else 0
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            cmd = ["taskset", "-c", "1", bench.SWARM,
                   "--server", ",".join("127.0.0.1:%d" % p for _, p in nodes),
                   "--warmup", str(warmup), "--duration", str(duration), "--quiet",
                   "--server-pid", ",".join(str(p.pid) for p, _ in nodes),
                   "--json", out.name] + CASES[case]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            with open(out.name) as f:
                r = json.load(f)
        r["exit"] = p.returncode
        r["redis_cpu_s"] = bench.proc_cpu_s(redis.pid) - rcpu0 if redis else 0
        r["published"] = sum(bench.scrape(port).get("chatd_cluster_published_total", 0)
                             for _, port in nodes)
        return r
    finally:
        for p, _ in nodes:
            bench.stop(p)
        if redis:
            bench.stop(redis)


def line(variant, r):
    lat = r["latency_ms"]
    per = r["redis_cpu_s"] / r["published"] * 1e6 if r["published"] else 0
    return ("%-8s publishes/s %8.0f  deliveries/s %9.0f  p50 %6.3f  p99 %6.3f  p99.9 %7.3f ms"
            "  redis CPU %5.1f us/msg  %s" % (variant, r["publishes_per_s"],
                                             r["deliveries_per_s"], lat["p50"], lat["p99"],
                                             lat["p999"], per, r["result"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="+", choices=sorted(CASES))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--duration", type=float, default=8)
    args = ap.parse_args()
    for case in args.cases:
        runs = {v: [] for v in VARIANTS}
        for rep in range(args.reps):
            for v in VARIANTS:
                r = run(v, case, args.warmup, args.duration)
                runs[v].append(r)
                print("%s rep %d: %s" % (case, rep + 1, line(v, r)), flush=True)
        print("\n%s, medians of %d:" % (case, args.reps))
        for v in VARIANTS:
            rs = runs[v]
            med = {k: bench.med([r["latency_ms"][k] for r in rs]) for k in ("p50", "p99",
                                                                             "p999")}
            pub = bench.med([r["publishes_per_s"] for r in rs])
            dlv = bench.med([r["deliveries_per_s"] for r in rs])
            per = bench.med([r["redis_cpu_s"] / r["published"] * 1e6 if r["published"] else 0
                             for r in rs])
            print("  %-8s publishes/s %8.0f  deliveries/s %9.0f  p50 %6.3f  p99 %6.3f  "
                  "p99.9 %7.3f ms  redis CPU %5.1f us/msg" % (v, pub, dlv, med["p50"],
                                                               med["p99"], med["p999"], per))
    return 0


if __name__ == "__main__":
    sys.exit(main())
