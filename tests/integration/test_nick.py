#!/usr/bin/env python3
"""Nicknames: unique regardless of ASCII case, validated (refused with 203
and the connection may retry), and a change is announced once to every
user who shares a room with the changer, and to the changer."""

import sys

import chatdtest as t
from chatdtest import MESSAGE, PRESENCE, WELCOME


def test_nick_uniqueness_ignores_case(srv):
    srv.client("alice")
    b = srv.client()
    t.assert_error(b.hello("ALICE"), t.E_NICK_TAKEN, "HELLO ALICE while alice is online",
                   req_type=t.HELLO)
    t.assert_error(b.hello("alice"), t.E_NICK_TAKEN, "HELLO alice while alice is online")
    w = b.hello("bob")
    t.assert_eq((w.type, w.nick), (WELCOME, "bob"), "HELLO bob after the refusals")
    t.assert_error(b.nick("Alice"), t.E_NICK_TAKEN, "NICK Alice while alice is online",
                   req_type=t.NICK)
    t.assert_eq(b.users(), ["alice", "bob"], "USERS after the refused NICK")


def test_invalid_nick_is_refused_and_connection_can_retry(srv):
    c = srv.client()
    bad = [
        ("33 bytes", "n" * 33),
        ("a space", "bad nick"),
        ("an at sign", "b@d"),
        ("a dot", "b.d"),
        ("empty", ""),
        ("a leading digit", "1abc"),
        ("a leading dash", "-abc"),
        ("non-ASCII", "h\u00e9l\u00e8ne"),
    ]
    for what, nick in bad:
        t.assert_error(c.hello(nick), t.E_NICK_INVALID, "HELLO with %s" % what,
                       req_type=t.HELLO)
    w = c.hello("Good_nick-1")
    t.assert_eq((w.type, w.nick), (WELCOME, "Good_nick-1"), "HELLO with a valid nick after")
    longest = srv.client()
    t.assert_eq(longest.hello("_" + "x" * 31).type, WELCOME, "HELLO with a 32-byte nick")
    t.assert_error(c.hello("other"), t.E_ALREADY_REGISTERED, "second HELLO")
    t.assert_error(c.nick("n" * 33), t.E_NICK_INVALID, "NICK with 33 bytes", req_type=t.NICK)


def test_nick_change_is_announced_once_to_each_roommate_and_the_changer(srv):
    a, b, c, d = (srv.client(n) for n in ("alice", "bob", "carol", "dave"))
    for client, rooms in ((a, ("r1", "r2")), (b, ("r1", "r2")), (c, ("r2",)), (d, ("r3",))):
        for room in rooms:
            client.join(room)

    p = a.nick("alex")
    t.assert_eq((p.type, p.kind, p.room, p.nick, p.new_nick), (PRESENCE, t.P_NICK, "", "alice",
                                                              "alex"),
                "alice's own PRESENCE NICK (kind, room, nick, new_nick)")
    for other in (b, c, d):
        other.sync()
    a.sync()
    for other, want in ((a, 1), (b, 1), (c, 1), (d, 0)):
        got = other.received(PRESENCE, kind=t.P_NICK)
        if len(got) != want or any((f.room, f.nick, f.new_nick) != ("", "alice", "alex")
                                   for f in got):
            raise AssertionError("%s: expected %d PRESENCE NICK alice->alex, got %r"
                                 % (other.label, want, got))

    t.assert_eq(c.users(), ["alex", "bob", "carol", "dave"], "USERS after the change")
    t.assert_eq(c.who("r2"), ["alex", "bob", "carol"], "WHO r2 after the change")
    t.assert_ack(a.say("r2", "new name"), "SAY after the change")
    t.assert_eq(c.expect(MESSAGE).from_, "alex", "MESSAGE from after the change")
    # Direct messages follow the new nick; the old one is free again.
    t.assert_error(d.msg("alice", "old name", ref=1), t.E_NO_SUCH_USER, "MSG to the old nick")
    t.assert_ack(d.msg("alex", "new name"), "MSG to the new nick")
    t.assert_eq(a.expect(MESSAGE, flags=t.MSG_DIRECT).text, "new name", "direct MESSAGE to alex")
    t.assert_eq(srv.client().hello("alice").type, WELCOME, "HELLO alice after alice renamed")


def test_case_only_change_of_own_nick_is_allowed(srv):
    a, b = srv.client("alice"), srv.client("bob")
    a.join("r")
    b.join("r")
    p = a.nick("ALICE")
    t.assert_eq((p.type, p.nick, p.new_nick), (PRESENCE, "alice", "ALICE"),
                "PRESENCE NICK for a case-only change")
    p = b.expect(PRESENCE, kind=t.P_NICK)
    t.assert_eq((p.nick, p.new_nick), ("alice", "ALICE"), "bob sees the case-only change")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
