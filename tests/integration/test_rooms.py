#!/usr/bin/env python3
"""Rooms: a message reaches every member of its room and no one else; a
member of several rooms gets each room's traffic tagged with its room; the
registry (LIST, WHO, USERS) reflects who is where."""

import sys
import time

import chatdtest as t
from chatdtest import MESSAGE, PRESENCE


def test_message_reaches_only_room_members(srv):
    a, b, c = srv.client("alice"), srv.client("bob"), srv.client("carol")
    a.join("r1")
    b.join("r1")
    c.join("r2")
    a.expect(PRESENCE, kind=t.P_JOIN, room="r1", nick="bob")

    before = time.time() * 1000
    ack = t.assert_ack(a.say("r1", "hello r1"), "alice's SAY")
    after = time.time() * 1000
    t.assert_eq(ack.seq, 1, "seq of the first message of r1")
    if not before - 5000 <= ack.time_ms <= after + 5000:
        raise AssertionError("ACK time_ms %d is not the current unix time in ms (%d)"
                             % (ack.time_ms, before))

    m = b.expect(MESSAGE)
    t.assert_eq((m.flags, m.room, m.from_, m.seq, m.time_ms, m.text),
                (0, "r1", "alice", ack.seq, ack.time_ms, "hello r1"),
                "bob's MESSAGE (flags, room, from, seq, time_ms, text)")

    # Barrier: once carol's PONG is back, anything queued for her before is here.
    c.sync()
    leaked = [f for f in c.log if f.type in (MESSAGE, PRESENCE)]
    t.assert_eq(leaked, [], "frames carol (in r2 only) received from r1")
    # The sender gets its ACK, never an echo of its own message.
    a.sync()
    t.assert_eq(a.received(MESSAGE), [], "MESSAGE frames echoed to the sender")


def test_member_of_two_rooms_gets_each_rooms_traffic_tagged(srv):
    a, c, d = srv.client("alice"), srv.client("carol"), srv.client("dave")
    d.join("r1")
    d.join("r2")
    a.join("r1")
    c.join("r2")

    ack1 = t.assert_ack(a.say("r1", "one"), "alice's SAY in r1")
    ack2 = t.assert_ack(c.say("r2", "two"), "carol's SAY in r2")
    m1 = d.expect(MESSAGE, text="one")
    m2 = d.expect(MESSAGE, text="two")
    t.assert_eq((m1.room, m1.from_, m1.seq), ("r1", "alice", ack1.seq), "dave's r1 MESSAGE")
    t.assert_eq((m2.room, m2.from_, m2.seq), ("r2", "carol", ack2.seq), "dave's r2 MESSAGE")
    t.assert_eq((ack1.seq, ack2.seq), (1, 1), "each room numbers its own messages")

    a.sync()
    c.sync()
    t.assert_eq(a.received(MESSAGE), [], "MESSAGE frames alice (r1 only) received")
    t.assert_eq(c.received(MESSAGE), [], "MESSAGE frames carol (r2 only) received")


def test_joiner_gets_members_and_members_get_presence_join(srv):
    a, b, c = srv.client("alice"), srv.client("bob"), srv.client("carol")
    a.join("lobby")
    b.join("lobby")
    j = c.join("lobby")
    t.assert_eq((j.joined.room, j.joined.members, j.names),
                ("lobby", 3, ["alice", "bob", "carol"]),
                "carol's JOINED room, members and NAMES (join order)")
    for member in (a, b):
        p = member.expect(PRESENCE, kind=t.P_JOIN, nick="carol")
        t.assert_eq((p.room, p.reason, p.new_nick), ("lobby", 0, ""),
                    "%s's PRESENCE JOIN (room, reason, new_nick)" % member.label)


def test_join_keeps_the_creators_spelling_of_the_room(srv):
    a, b = srv.client("alice"), srv.client("bob")
    a.join("Lobby")
    j = b.join("LOBBY")
    t.assert_eq(j.joined.room, "Lobby", "room name in JOINED for a differently cased JOIN")
    again = b.join("lobby")
    t.assert_error(again.error, t.E_ALREADY_IN_ROOM, "JOIN of a room already joined")
    ack = t.assert_ack(b.say("lobby", "hi"), "SAY with other casing")
    m = a.expect(MESSAGE)
    t.assert_eq((m.room, m.seq), ("Lobby", ack.seq), "MESSAGE room spelling and seq")


def test_registry_lists_rooms_members_and_users(srv):
    a, b, c = srv.client("alice"), srv.client("Bob"), srv.client("carol")
    a.join("zeta")
    a.join("Alpha")
    b.join("zeta")
    c.join("beta")
    t.assert_eq(a.list(), [("Alpha", 1), ("beta", 1), ("zeta", 2)],
                "LIST (case-folded order, member counts)")
    t.assert_eq(c.who("zeta"), ["alice", "Bob"], "WHO zeta (join order, by a non-member)")
    t.assert_eq(c.users(), ["alice", "Bob", "carol"], "USERS (case-folded order)")
    try:
        c.who("nowhere")
    except t.ServerError as e:
        t.assert_error(e.frame, t.E_NO_SUCH_ROOM, "WHO of a room that does not exist")
    else:
        raise AssertionError("WHO of a room that does not exist succeeded")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
