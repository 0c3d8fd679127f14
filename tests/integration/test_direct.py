#!/usr/bin/env python3
"""Direct messages: delivered by nickname and acknowledged to the sender,
or refused with a clear error when no such user is online."""

import sys

import chatdtest as t
from chatdtest import MESSAGE


def test_direct_message_reaches_recipient_and_is_acked(srv):
    a, b, c = srv.client("alice"), srv.client("bob"), srv.client("carol")
    ack = a.msg("bob", "psst", ref=77)
    t.assert_ack(ack, "alice's MSG to bob")
    t.assert_eq((ack.ref, ack.seq), (77, 0), "ACK of a direct message (ref, seq)")
    m = b.expect(MESSAGE)
    t.assert_eq((m.flags, m.room, m.from_, m.seq, m.text),
                (t.MSG_DIRECT, "", "alice", 0, "psst"),
                "bob's direct MESSAGE (flags, room, from, seq, text)")
    t.assert_eq(m.time_ms, ack.time_ms, "MESSAGE time_ms vs ACK time_ms")
    c.sync()
    a.sync()
    t.assert_eq(c.received(MESSAGE), [], "MESSAGE frames a third user received")
    t.assert_eq(a.received(MESSAGE), [], "MESSAGE frames echoed to the sender")


def test_direct_message_to_unknown_nick_is_refused_and_connection_goes_on(srv):
    a, b = srv.client("alice"), srv.client("bob")
    err = a.msg("nobody", "hello?", ref=5)
    t.assert_error(err, t.E_NO_SUCH_USER, "MSG to an unknown nick", ref=5, req_type=t.MSG)
    a.join("r")
    b.join("r")
    t.assert_room_works(a, b, "r")
    t.assert_ack(a.msg("bob", "after the error"), "MSG to bob after the error")
    m = b.expect(MESSAGE, flags=t.MSG_DIRECT)
    t.assert_eq((m.from_, m.text), ("alice", "after the error"), "bob's direct MESSAGE")


def test_direct_message_finds_the_recipient_regardless_of_case(srv):
    a, b = srv.client("alice"), srv.client("Bob")
    t.assert_ack(a.msg("bOB", "case"), "MSG to bOB for Bob")
    m = b.expect(MESSAGE)
    t.assert_eq((m.flags, m.from_, m.text), (t.MSG_DIRECT, "alice", "case"), "Bob's MESSAGE")


def test_direct_message_to_oneself_is_delivered(srv):
    a = srv.client("alice")
    ack = t.assert_ack(a.msg("alice", "note to self", ref=9), "MSG to oneself")
    m = a.expect(MESSAGE)
    t.assert_eq((ack.ref, m.flags, m.from_, m.text), (9, t.MSG_DIRECT, "alice", "note to self"),
                "(ACK ref, MESSAGE flags, from, text)")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
