#!/usr/bin/env python3
"""Room linger: when the last member leaves, the room's history stays for
--room-linger seconds (same epoch, same sequence); after that the room is
freed and a later join creates a fresh one.  LIST only shows rooms that
have members."""

import sys
import time

import chatdtest as t

LINGER = 0.5
SERVER_ARGS = ["--room-linger", str(LINGER)]


def room_with_history(srv, room):
    """alice creates room, says three things and leaves; returns (epoch,
    monotonic time of the leave)."""
    a = srv.client("alice")
    j = a.join(room)
    for i in range(1, 4):
        t.assert_eq(t.assert_ack(a.say(room, "m%d" % i), "SAY").seq, i, "seq of message %d" % i)
    left = a.part(room)
    t.assert_eq(left.type, t.PRESENCE, "PART reply")
    return j.joined.epoch, time.monotonic()


def test_joiner_within_linger_sees_history_and_same_epoch(srv):
    epoch, left_at = room_with_history(srv, "L")
    b = srv.client("bob")
    j = b.join("L")
    if time.monotonic() - left_at >= LINGER:
        raise AssertionError("test too slow: the rejoin came %.2fs after the leave"
                             % (time.monotonic() - left_at))
    t.assert_eq((j.joined.epoch, j.joined.last_seq, j.joined.members, j.names),
                (epoch, 3, 1, ["bob"]), "JOINED within the linger (epoch, last_seq, members), NAMES")
    t.assert_eq([(m.seq, m.text) for m in j.history], [(1, "m1"), (2, "m2"), (3, "m3")],
                "history within the linger")
    t.assert_eq(t.assert_ack(b.say("L", "m4"), "SAY").seq, 4, "seq continues after the linger")


def test_room_is_fresh_after_linger(srv):
    epoch, left_at = room_with_history(srv, "L")
    # Nothing a client can see changes when the linger ends (an empty room is
    # not listed either way), so let the time pass, with a margin.
    t.pause(max(0.0, left_at + LINGER + 0.5 - time.monotonic()))
    b = srv.client("bob")
    j = b.join("L")
    fresh = j.joined.epoch
    if fresh in (0, epoch):
        raise AssertionError("JOINED after the linger has epoch %d (old epoch %d): "
                             "not a fresh room" % (fresh, epoch))
    t.assert_eq((j.joined.last_seq, j.history, j.end.count, j.end.flags), (0, [], 0, 0),
                "fresh room (last_seq, history, HISTORY_END count, flags)")
    ack = t.assert_ack(b.say("L", "first again"), "SAY in the fresh room")
    t.assert_eq(ack.seq, 1, "seq in the fresh room")

    # A cursor from the freed incarnation is recognised as such.
    j = srv.client("carol").join("L", epoch=epoch, since=3)
    t.assert_eq((j.joined.epoch, j.seqs, j.end.flags),
                (fresh, [1], t.HIST_TRUNCATED | t.HIST_EPOCH_CHANGED),
                "JOIN with the old room's cursor (epoch, history seqs, flags)")
    m = j.history[0]
    t.assert_eq((m.from_, m.text), ("bob", "first again"), "history of the fresh room")


def test_list_shows_only_rooms_with_members(srv):
    a, b = srv.client("alice"), srv.client("bob")
    a.join("L1")
    a.join("L2")
    b.join("L2")
    t.assert_eq(b.list(), [("L1", 1), ("L2", 2)], "LIST with two rooms")
    a.part("L1")
    t.assert_eq(b.list(), [("L2", 2)], "LIST after L1's last member left (L1 lingers)")
    try:
        b.who("L1")
    except t.ServerError as e:
        t.assert_error(e.frame, t.E_NO_SUCH_ROOM, "WHO of a lingering room")
    else:
        raise AssertionError("WHO of a lingering room (no members) succeeded")
    a.part("L2")
    t.assert_eq(b.list(), [("L2", 1)], "LIST after alice left L2")
    b.part("L2")
    t.assert_eq(b.list(), [], "LIST with no members anywhere")
    t.assert_eq([(f.flags, f.rooms) for f in b.last_reply], [(t.LIST_LAST, [])],
                "the empty LIST reply (one frame, LAST, no entries)")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
