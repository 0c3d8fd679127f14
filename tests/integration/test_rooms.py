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


def test_part_is_announced_to_members_and_the_leaver_gets_no_more_traffic(srv):
    a, b, c = srv.client("alice"), srv.client("bob"), srv.client("carol")
    for x in (a, b, c):
        x.join("r")
    p = b.part("r")
    t.assert_eq((p.type, p.kind, p.room, p.nick), (PRESENCE, t.P_PART, "r", "bob"),
                "the leaver's own PRESENCE PART")
    for x in (a, c):
        x.expect(PRESENCE, kind=t.P_PART, room="r", nick="bob")
    t.assert_room_works(a, c, "r")
    b.sync()
    t.assert_eq(b.received(MESSAGE), [], "MESSAGEs the leaver received after PART")
    t.assert_error(b.part("r"), t.E_NOT_IN_ROOM, "PART of a room left already", req_type=t.PART)
    t.assert_error(b.say("r", "hi", ref=8), t.E_NOT_IN_ROOM, "SAY to a room left already",
                   ref=8, req_type=t.SAY)
    t.assert_eq(a.who("r"), ["alice", "carol"], "WHO after the PART")


@t.server_args("--max-rooms", "2")
def test_joining_more_than_max_rooms_is_refused_with_212(srv):
    a = srv.client("alice")
    t.assert_eq(a.welcome.max_rooms, 2, "WELCOME max_rooms")
    a.join("r1")
    a.join("r2")
    t.assert_error(a.join("r3").error, t.E_TOO_MANY_ROOMS, "third JOIN with --max-rooms 2",
                   req_type=t.JOIN)
    a.part("r1")
    t.assert_eq(a.join("r3").joined.room, "r3", "JOIN after leaving a room")


def test_quit_and_drop_are_announced_in_every_room_of_the_user(srv):
    a, b, c = srv.client("alice"), srv.client("bob"), srv.client("carol")
    for x in (a, b, c):
        x.join("r1")
        x.join("r2")
    b.quit()
    c.reset_close()
    for room in ("r1", "r2"):
        a.expect(PRESENCE, kind=t.P_QUIT, room=room, nick="bob", timeout=2)
        a.expect(PRESENCE, kind=t.P_DROP, room=room, nick="carol", reason=t.R_RESET, timeout=2)
    t.assert_eq(a.list(), [("r1", 1), ("r2", 1)], "LIST after both left")


def test_long_lists_are_split_into_frames_of_64(srv):
    a = srv.client("a000")
    others = [srv.client("u%03d" % i) for i in range(69)]
    for i, x in enumerate([a] + others):
        x.join("big")
        x.join("room%03d" % i)
    everyone = ["a000"] + ["u%03d" % i for i in range(69)]
    t.assert_eq(a.who("big"), everyone, "WHO of a room with 70 members")
    t.assert_eq([len(f.nicks) for f in a.last_reply], [64, 6], "NAMES frame sizes")
    t.assert_eq([f.flags for f in a.last_reply], [0, t.LIST_LAST], "NAMES frame flags")
    rooms = a.list()
    t.assert_eq(rooms, [("big", 70)] + [("room%03d" % i, 1) for i in range(70)], "LIST")
    t.assert_eq([len(f.rooms) for f in a.last_reply], [64, 7], "ROOMS frame sizes")
    t.assert_eq(a.users(), everyone, "USERS")
    t.assert_eq([len(f.nicks) for f in a.last_reply], [64, 6], "USERS NAMES frame sizes")
    j = srv.client("zed").join("big")
    t.assert_eq(j.names, everyone + ["zed"], "NAMES of a JOIN reply to a room of 71")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
