#!/usr/bin/env python3
"""chatd-swarm over a cluster: two chatd nodes and one redis-server
(Debian's, appendonly with fsync always, on a free loopback port), bots
spread over both nodes (--server A,B), rooms and direct messages across
them, churn, and Redis killed with -9 and started again in the middle of
the run.  The swarm's exact checks must hold across the nodes: nothing
lost, duplicated, reordered or misrouted; while Redis is down the nodes
refuse messages with CLUSTER_UNAVAILABLE, which the swarm counts as
refused, not lost.  Skipped when redis-server is not installed."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import chatdtest as t
from test_cluster_redis import Redis


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chatd", required=True)
    ap.add_argument("--swarm", required=True)
    args = ap.parse_args()
    chatd = os.path.abspath(args.chatd)
    try:
        redis = Redis(appendonly=True)
    except t.Skip as e:
        print("SKIP swarm_cluster: %s" % e)
        return 77
    common = ("--cluster", redis.url, "--flood-rate", "0", "--max-conns-per-ip", "0")
    try:
        with t.Server(chatd, "--node-name", "a", *common) as a, \
                t.Server(chatd, "--node-name", "b", *common) as b, \
                tempfile.TemporaryDirectory() as tmp:
            for n in (a, b):
                n.wait_for_line(r"cluster: shard 0 .* up", 10)
            out = os.path.join(tmp, "swarm.json")
            cmd = [os.path.abspath(args.swarm),
                   "--server", "127.0.0.1:%d,127.0.0.1:%d" % (a.port, b.port),
                   "--bots", "200", "--rooms", "8", "--rooms-per-bot", "2", "--rate", "5",
                   "--direct", "0.1", "--churn", "10", "--warmup", "0.5", "--duration", "6",
                   "--allow-error", "216", "--json", out, "--quiet"]
            swarm = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
            # Redis dies 2.5 s in, and is back 2 s later: long enough for
            # the nodes to catch up every room under full traffic, with
            # states that answer after the channels have moved on.
            outage = threading.Event()

            def restart():
                if not outage.wait(0) and swarm.poll() is None:
                    redis.kill()
                    t.pause(2.0)
                    redis.start()
            timer = threading.Timer(2.5, restart)
            timer.start()
            try:
                stdout, stderr = swarm.communicate(timeout=90)
            finally:
                outage.set()
                timer.cancel()
                timer.join()
            print(stdout)
            if swarm.returncode != 0:
                print(stderr, file=sys.stderr)
                for n in (a, b):  # what the nodes said, but for each client's coming and going
                    print("--- node on port %d:" % n.port, file=sys.stderr)
                    print("\n".join(x for x in n.lines if "conn " not in x), file=sys.stderr)
                raise AssertionError("chatd-swarm exited %d" % swarm.returncode)
            with open(out) as f:
                r = json.load(f)
            t.assert_eq(r["result"], "ok", "JSON result")
            for k in ("lost", "duplicated", "reordered", "misrouted"):
                t.assert_eq(r[k], 0, k)
            t.assert_eq([s["bots"] for s in r["servers"]], [100, 100], "bots per node")
            if r["deliveries_per_s"] < 10 * r["publishes_per_s"]:
                raise AssertionError("deliveries/s %.0f too low" % r["deliveries_per_s"])
            # Both nodes saw Redis go and come back, and knew it had kept
            # every room (appendonly): no room started over.
            for n in (a, b):
                for line in n.lines:
                    if "starts over" in line:
                        raise AssertionError("node %s: %s" % (n.port, line))
                down = n.wait_for_line(r"cluster: shard 0 .* down", 10)
                n.wait_for_line(r"cluster: shard 0 .* up", 10,
                                start=n.lines.index(down.string))
    finally:
        redis.close()
    print("PASS swarm_cluster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
