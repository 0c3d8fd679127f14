#!/usr/bin/env python3
"""Dropped peers: a reset or closed connection is announced at once, a
silent one after the ping interval plus timeout, one that does not read
its output when its queue passes the bound, each with its reason, and the
server's memory stays bounded while that happens."""

import sys
import time

import chatdtest as t
from chatdtest import ACK, BYE, ERROR, PING, PRESENCE


def test_reset_peer_is_announced_as_drop_reset_within_100ms(srv):
    a, b = srv.client("alice"), srv.client("bob")
    a.join("r")
    b.join("r")
    a.expect(PRESENCE, kind=t.P_JOIN, nick="bob")
    t0 = time.monotonic()
    b.reset_close()
    p = a.expect(PRESENCE, kind=t.P_DROP, nick="bob", timeout=2)
    elapsed = p.at - t0
    t.assert_eq((p.room, p.reason), ("r", t.R_RESET), "PRESENCE DROP (room, reason)")
    if elapsed > 0.1:
        raise AssertionError("reset announced after %.0f ms (bound 100 ms)" % (elapsed * 1000))
    t.assert_eq(a.who("r"), ["alice"], "WHO after the drop")
    t.assert_eq(a.users(), ["alice"], "USERS after the drop")


def test_closed_peer_is_announced_as_drop_closed(srv):
    a, b = srv.client("alice"), srv.client("bob")
    a.join("r")
    b.join("r")
    b.finish(timeout=2)
    p = a.expect(PRESENCE, kind=t.P_DROP, nick="bob", timeout=2)
    t.assert_eq((p.room, p.reason), ("r", t.R_CLOSED), "PRESENCE DROP (room, reason)")
    t.assert_eq(srv.client().hello("bob").type, t.WELCOME, "HELLO bob after bob dropped")


def test_quit_is_announced_as_presence_quit(srv):
    a, b = srv.client("alice"), srv.client("bob")
    a.join("r")
    b.join("r")
    bye = b.quit()
    t.assert_eq(bye.reason, t.R_NONE, "BYE reason after QUIT")
    p = a.expect(PRESENCE, nick="bob", pred=lambda f: f.kind != t.P_JOIN)
    t.assert_eq((p.kind, p.room, p.reason), (t.P_QUIT, "r", 0), "PRESENCE (kind, room, reason)")


@t.server_args("--ping-interval", "0.2", "--ping-timeout", "0.3")
def test_silent_peer_is_dropped_for_ping_timeout_and_a_ponging_one_survives(srv):
    a = srv.client("alice")              # answers PINGs while it reads
    s = srv.client("silent", auto_pong=False)
    w = s.welcome
    t.assert_eq((w.ping_interval_ms, w.ping_timeout_ms), (200, 300),
                "WELCOME ping budgets")
    a.join("p")
    s.join("p")
    silent_since = s.last_send

    # Both read (a answering its PINGs, s not) until the drop is announced.
    s_frames, drop = [], None
    deadline = time.monotonic() + 3
    while drop is None:
        if time.monotonic() > deadline:
            raise AssertionError("silent peer not dropped within 3 s; it got %r" % s_frames)
        s_frames += s.drain(0.01)
        drop = next((f for f in a.drain(0.01) if f.type == PRESENCE and f.kind == t.P_DROP),
                    None)
    elapsed = drop.at - silent_since
    t.assert_eq((drop.room, drop.nick, drop.reason), ("p", "silent", t.R_PING_TIMEOUT),
                "PRESENCE DROP (room, nick, reason)")
    if not 0.4 <= elapsed <= 2.0:
        raise AssertionError("silent peer dropped %.2fs after its last byte "
                             "(interval 0.2 + timeout 0.3; accepted 0.4..2.0)" % elapsed)

    if not s.eof:
        s_frames += s.expect_closed(timeout=2)
    pings = [f for f in s_frames if f.type == PING]
    if not pings or not 0.15 <= pings[0].at - silent_since <= 0.5:
        raise AssertionError("silent peer not PINGed about 0.2 s after its last byte: %r at %s"
                             % (pings, [round(f.at - silent_since, 3) for f in pings]))
    byes = [f for f in s_frames if f.type == BYE]
    if byes and byes[-1].reason != t.R_PING_TIMEOUT:
        raise AssertionError("BYE to the silent peer has reason %d, expected 3" % byes[-1].reason)

    # a keeps reading for twice interval+timeout, sending nothing but PONGs.
    a.drain(1.0)
    if a.eof:
        raise AssertionError("the client answering PINGs was disconnected (%s)" % a.eof)
    if a.pings_answered == 0:
        raise AssertionError("the idle client was never PINGed")
    t.assert_ack(a.say("p", "still here"), "SAY from the client that answered PINGs")


@t.server_args("--max-queue", "65536", "--flood-rate", "0")
def test_member_that_stops_reading_is_dropped_as_slow_consumer(srv):
    flooder, obs = srv.client("flooder"), srv.client("obs")
    slow = srv.client("slow", rcvbuf=4096)
    t.assert_eq(slow.welcome.max_queue, 65536, "WELCOME max_queue")
    for c in (slow, flooder, obs):
        c.join("f")
    flooder.drain()
    obs.drain()

    text = "x" * 1000
    baseline = peak = srv.rss_kb()
    sent = acked = 0
    drop = flooder_saw = None
    deadline = time.monotonic() + 20
    while drop is None:
        if time.monotonic() > deadline:
            raise AssertionError("slow member not dropped after %d SAYs of 1000 bytes "
                                 "(%d ACKed)" % (sent, acked))
        while sent - acked < 32:
            flooder.say("f", text, wait=False)
            sent += 1
        for f in flooder.drain(0.005 if sent - acked >= 32 else 0):
            if f.type == ERROR:
                raise AssertionError("flooder got %r" % (f,))
            acked += f.type == ACK
            if f.type == PRESENCE and f.kind == t.P_DROP:
                flooder_saw = f
        for f in obs.drain():
            if f.type == PRESENCE and f.kind == t.P_DROP:
                if f.nick != "slow":
                    raise AssertionError("unexpected drop during the flood: %r" % (f,))
                drop = f
        if flooder.eof or obs.eof:
            raise AssertionError("a reading member was disconnected during the flood")
        peak = max(peak, srv.rss_kb())

    t.assert_eq((drop.room, drop.reason), ("f", t.R_SLOW_CONSUMER),
                "PRESENCE DROP seen by another member (room, reason)")
    limit = baseline + 64 * 1024
    if peak > limit:
        raise AssertionError("server RSS peaked at %d KiB during the flood (baseline %d KiB, "
                             "bound %d KiB)" % (peak, baseline, limit))
    # The flooder sees the drop too, and the slow member's connection ends.
    if flooder_saw is None:
        flooder_saw = flooder.expect(PRESENCE, kind=t.P_DROP, timeout=5)
    t.assert_eq((flooder_saw.nick, flooder_saw.reason), ("slow", t.R_SLOW_CONSUMER),
                "PRESENCE DROP seen by the flooder (nick, reason)")
    slow.expect_closed(timeout=5)
    t.assert_eq(obs.who("f"), ["flooder", "obs"], "WHO after the drop")
    obs.drain()
    t.assert_room_works(flooder, obs, "f", text="after the flood")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
