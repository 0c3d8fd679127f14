#!/usr/bin/env python3
"""chatd-swarm smoke run: a few hundred bots with churn and direct
messages against the real daemon for a few seconds.  The swarm must exit 0
(nothing lost, duplicated, reordered or misrouted, every bot ready, the
target rate met) and its JSON report must hold sane figures."""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import chatdtest as t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chatd", required=True)
    ap.add_argument("--swarm", required=True)
    args = ap.parse_args()
    with t.Server(os.path.abspath(args.chatd), "--flood-rate", "0", "--max-conns-per-ip", "0") as srv, \
            tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "swarm.json")
        cmd = [os.path.abspath(args.swarm), "--server", "127.0.0.1:%d" % srv.port,
               "--bots", "300", "--rooms", "10", "--rooms-per-bot", "2", "--rate", "5",
               "--direct", "0.1", "--churn", "20", "--warmup", "0.5", "--duration", "3",
               "--server-pid", str(srv.pid), "--json", out, "--quiet"]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        print(p.stdout)
        if p.returncode != 0:
            print(p.stderr, file=sys.stderr)
            raise AssertionError("chatd-swarm exited %d" % p.returncode)
        with open(out) as f:
            r = json.load(f)
        t.assert_eq(r["result"], "ok", "JSON result")
        t.assert_eq(r["ready"], 300, "bots ready")
        for k in ("lost", "duplicated", "reordered", "misrouted"):
            t.assert_eq(r[k], 0, k)
        # 300 senders at 5/s; each room message reaches the other members.
        if not 1350 <= r["publishes_per_s"] <= 1650:
            raise AssertionError("publishes/s %.0f, expected about 1500" % r["publishes_per_s"])
        if r["deliveries_per_s"] < 20 * r["publishes_per_s"]:
            raise AssertionError("deliveries/s %.0f too low for rooms of ~60 members"
                                 % r["deliveries_per_s"])
        lat = r["latency_ms"]
        if not 0 < lat["p50"] <= lat["p99"] <= lat["max"] < 1000:
            raise AssertionError("latency figures out of order: %r" % lat)
        if r["churn_parts"] + r["churn_resets"] < 20:
            raise AssertionError("churn barely happened: %r" % r)
        if r["history"] == 0:
            raise AssertionError("no history replayed on rejoin: %r" % r)
    print("PASS swarm_smoke")
    return 0


if __name__ == "__main__":
    sys.exit(main())
