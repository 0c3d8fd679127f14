#!/usr/bin/env python3
"""Flood control: a client that sends faster than its budget is slowed
down (the server stops reading it), never refused or dropped, and the
others are not slowed with it."""

import sys
import time

import chatdtest as t
from chatdtest import ACK, ERROR, MESSAGE

RATE, BURST = 50, 5
SERVER_ARGS = ["--flood-rate", str(RATE), "--flood-burst", str(BURST)]


def test_flooder_is_slowed_down_not_dropped_and_others_are_not_slowed(srv):
    a, b, c = srv.client("alice"), srv.client("bob"), srv.client("carol")
    t.assert_eq((a.welcome.flood_rate, a.welcome.flood_burst), (RATE, BURST),
                "WELCOME flood budgets")
    for x in (a, b, c):
        x.join("r")
    n = 30
    t0 = time.monotonic()
    refs = [a.say("r", "f%d" % i, wait=False) for i in range(n)]
    # While alice's SAYs wait in her socket, carol is served at once.
    c0 = time.monotonic()
    t.assert_ack(c.say("r", "not slowed"), "carol's SAY during alice's flood")
    carol_rtt = time.monotonic() - c0
    seqs = []
    for ref in refs:
        f = a.expect((ACK, ERROR), 10, ref=ref)
        seqs.append(t.assert_ack(f, "flooded SAY ref %d" % ref).seq)
    elapsed = time.monotonic() - t0
    if seqs != sorted(seqs) or len(set(seqs)) != n:
        raise AssertionError("flooded SAYs ACKed out of order: %r" % seqs)
    least = (n - BURST) / RATE
    if elapsed < 0.8 * least:
        raise AssertionError("%d SAYs at --flood-rate %d --flood-burst %d were all ACKed in "
                             "%.2fs; the budget allows no less than %.2fs"
                             % (n, RATE, BURST, elapsed, least))
    if carol_rtt > least / 2:
        raise AssertionError("carol's SAY took %.2fs during alice's flood" % carol_rtt)
    print("    flood: %d SAYs took %.3f s (budget floor %.3f s); carol's round trip meanwhile "
          "%.2f ms" % (n, elapsed, least, carol_rtt * 1000))
    got = [b.expect(MESSAGE, from_="alice").text for _ in range(n)]
    t.assert_eq(got, ["f%d" % i for i in range(n)], "bob received every flooded message in order")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
