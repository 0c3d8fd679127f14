#!/usr/bin/env python3
"""Resource budgets (issue 17): what one client or one host can make chatd
hold is bounded, and the bounds are the documented ones.

- history: one room's messages (--room-history-bytes) and every room's
  history with its stored renderings (--history-bytes), lingering rooms
  forgotten first; rooms only one connection used linger less
  (--room-linger-solo)."""

import sys

import chatdtest as t
from chatdtest import ACK, ERROR, PRESENCE

TEXT = 4000


def fill(c, room, n, text):
    refs = [c.say(room, text, wait=False) for _ in range(n)]
    for ref in refs:
        t.assert_ack(c.expect((ACK, ERROR), 10, ref=ref), "SAY in %s" % room)


@t.server_args("--flood-rate", "0", "--room-history-bytes", "20000")
def test_room_history_bytes_keeps_the_newest_messages_that_fit(srv):
    a, b = srv.client("alice"), srv.client("bob")
    a.join("r")
    fill(a, "r", 20, "x" * TEXT)
    j = b.join("r")
    # Four 4000-byte messages and their headers fit in 20000, five do not.
    t.assert_eq(j.seqs, [17, 18, 19, 20], "history replayed under a 20000-byte room budget")


@t.server_args("--flood-rate", "0", "--history-bytes", "400000")
def test_history_bytes_bound_every_room_and_lingering_rooms_go_first(srv):
    a, b = srv.client("alice"), srv.client("bob")
    # A lingering room with history, made first.
    a.join("old")
    fill(a, "old", 10, "o" * TEXT)
    old = b.join("old")
    b.part("old")
    a.part("old")
    # 15 rooms x 20 messages of 4000 bytes: 1.2 MB, three times the budget.
    for k in range(15):
        a.join("r%d" % k)
        fill(a, "r%d" % k, 20, chr(0x41 + k) * TEXT)
    srv.wait_for_line(r"history over its budget of 400000 bytes: forgot 1 lingering room", 5)
    kept = 0
    for k in range(15):
        j = b.join("r%d" % k)
        kept += len(j.history)
        if j.history and j.history[-1].seq != 20:
            raise AssertionError("r%d lost its newest message: %r" % (k, j.seqs))
        if j.history and j.seqs != list(range(j.seqs[0], 21)):
            raise AssertionError("r%d replays a gap: %r" % (k, j.seqs))
    # Framed renderings of what bob was just replayed count too: what is
    # kept is at most the budget's worth of messages.
    if not 40 <= kept <= 100:
        raise AssertionError("%d messages of 4000 bytes kept under a 400000-byte budget" % kept)
    j = b.join("old")
    if j.epoch == old.epoch:
        raise AssertionError("the lingering room outlived the budget")
    print("    %d of 300 messages kept in 15 rooms" % kept)


@t.server_args("--room-linger", "60", "--room-linger-solo", "0.2", "--log-level", "debug")
def test_room_only_one_connection_used_lingers_the_solo_time(srv):
    a, b = srv.client("alice"), srv.client("bob")
    solo = a.join("solo")
    t.assert_ack(a.say("solo", "note to self"), "SAY")
    a.part("solo")
    shared = a.join("shared")
    b.join("shared")
    b.part("shared")
    a.part("shared")
    # The solo room goes after 0.2 s; the shared one keeps its epoch.
    srv.wait_for_line(r"room solo freed after its linger", 3)
    if a.join("solo").epoch == solo.epoch:
        raise AssertionError("the solo room kept its epoch past its linger")
    t.assert_eq(a.join("shared").epoch, shared.epoch, "epoch of the shared room")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
