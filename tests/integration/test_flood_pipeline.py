#!/usr/bin/env python3
"""Flood control at the defaults against a client that pipelines 10,000
frames: the server works through them at 50 a second (about 200 s), never
drops the client for a ping timeout while doing so (the liveness clock is
paused while reading is), and loses, duplicates or reorders none of them.

This is the long test of the suite (label "long"): it runs in the plain
build only."""

import sys
import threading
import time

import chatdtest as t
from chatdtest import ACK, BYE, MESSAGE, PRESENCE, SAY, encode

FRAMES = 10000
RATE, BURST = 50, 100          # the defaults, checked against WELCOME below
TIME_LIMIT = 290               # (FRAMES - BURST) / RATE = 198 s, and slack


def test_client_pipelining_10000_frames_at_the_defaults_is_served_in_full(srv):
    a = srv.client("alice", timeout=TIME_LIMIT)
    b = srv.client("bob")
    t.assert_eq((a.welcome.flood_rate, a.welcome.flood_burst, a.welcome.ping_interval_ms,
                 a.welcome.ping_timeout_ms), (RATE, BURST, 30000, 30000),
                "WELCOME budgets (the defaults)")
    a.join("r")
    b.join("r")
    a.expect(PRESENCE, kind=t.P_JOIN, nick="bob")
    data = b"".join(encode(SAY, ref=i, room="r", text="m%05d" % i) for i in range(FRAMES))
    # The server stops reading long before the kernel takes all of it, so
    # the write goes on in a thread while both clients read.
    sender = threading.Thread(target=a.send_raw, args=(data,), daemon=True)
    t0 = time.monotonic()
    sender.start()
    deadline = t0 + TIME_LIMIT - 20
    acks = 0
    while time.monotonic() < deadline and not a.eof:
        acks += sum(1 for f in a.drain(0.2) if f.type == ACK)
        b.drain(0)
        if acks == FRAMES:
            break
    took = time.monotonic() - t0
    print("    %d of %d SAYs acknowledged in %.1f s" % (acks, FRAMES, took))
    if a.received(BYE) or a.eof:
        raise AssertionError("alice was closed after %.1f s: %r"
                             % (took, a.received(BYE)))
    t.assert_eq(acks, FRAMES, "ACKs received")
    seqs = [f.seq for f in a.received(ACK)]
    t.assert_eq(seqs, list(range(1, FRAMES + 1)), "ACK seqs in order")
    b.drain(1)
    got = [f.text for f in b.log if f.type == MESSAGE and f.get("from") == "alice"]
    t.assert_eq(len(got), FRAMES, "messages bob received")
    if got != ["m%05d" % i for i in range(FRAMES)]:
        raise AssertionError("bob's messages are not alice's 10,000 in order")
    drops = [f for f in a.log + b.log if f.type == PRESENCE and f.kind == t.P_DROP]
    t.assert_eq(drops, [], "PRESENCE DROP seen")
    least = (FRAMES - BURST) / RATE
    if took < 0.9 * least:
        raise AssertionError("served in %.1f s, faster than the budget allows (%.1f s): flood "
                             "control is not at its defaults" % (took, least))


if __name__ == "__main__":
    sys.exit(t.main(globals()))
