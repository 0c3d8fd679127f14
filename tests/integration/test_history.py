#!/usr/bin/env python3
"""History on join: the last 50 messages, oldest first, marked HISTORY, then
live traffic with nothing lost or duplicated at the seam; join cursors
(epoch, since) replay only what is newer and say when some is missing."""

import sys
import threading
import time

import chatdtest as t
from chatdtest import ACK, ERROR, MESSAGE

# Volume tests must not be slowed by flood control (messages are delayed,
# not dropped, so the outcome would be the same, only later).
SERVER_ARGS = ["--flood-rate", "0"]

HISTORY = 50


def fill(client, room, n, first=1):
    """Send n SAYs without waiting for each, then collect all ACKs; returns
    the ACK seqs in ref order (they must be consecutive)."""
    refs = [client.say(room, "m%d" % i, wait=False) for i in range(first, first + n)]
    seqs = []
    for ref in refs:
        f = client.expect((ACK, ERROR), 10, ref=ref)
        seqs.append(t.assert_ack(f, "SAY ref %d" % ref).seq)
    return seqs


def check_history(j, seqs, flags, what):
    """The JOIN reply replays exactly seqs, each MESSAGE marked HISTORY and
    carrying the text it was sent with, then HISTORY_END(count, flags)."""
    t.assert_eq(j.seqs, seqs, "%s: history seqs" % what)
    for m in j.history:
        t.assert_eq((m.flags, m.room, m.from_, m.text), (t.MSG_HISTORY, j.joined.room, "alice",
                                                         "m%d" % m.seq),
                    "%s: history MESSAGE %d (flags, room, from, text)" % (what, m.seq))
    t.assert_eq((j.end.epoch, j.end.last_seq, j.end.count, j.end.flags),
                (j.joined.epoch, j.joined.last_seq, len(seqs), flags),
                "%s: HISTORY_END (epoch, last_seq, count, flags)" % what)


def test_joiner_gets_last_50_oldest_first_then_live_without_gap(srv):
    a, b = srv.client("alice"), srv.client("bob")
    a.join("h")
    t.assert_eq(fill(a, "h", 120), list(range(1, 121)), "ACK seqs of 120 SAYs")

    j = b.join("h")
    if j.joined.epoch == 0:
        raise AssertionError("JOINED epoch is 0; a room's epoch must be nonzero")
    t.assert_eq((j.joined.last_seq, j.joined.members), (120, 2), "JOINED (last_seq, members)")
    check_history(j, list(range(71, 121)), 0, "join without cursor")
    if sorted(m.time_ms for m in j.history) != [m.time_ms for m in j.history]:
        raise AssertionError("history times go backwards: %r" % [m.time_ms for m in j.history])

    t.assert_eq(fill(a, "h", 5, first=121), list(range(121, 126)), "ACK seqs after the join")
    live = [b.expect(MESSAGE, room="h") for _ in range(5)]
    t.assert_eq([(m.seq, m.flags, m.text) for m in live],
                [(s, 0, "m%d" % s) for s in range(121, 126)],
                "live MESSAGEs after the history (seq, flags, text)")


class Sender(threading.Thread):
    """Keeps SAYing into a room, at most `window` unacknowledged, until told
    to stop, then sends `tail` more and collects every ACK."""

    def __init__(self, client, room, first, window=16, tail=20):
        super().__init__(daemon=True)
        self.client, self.room, self.next = client, room, first
        self.window, self.tail = window, tail
        self.started_acks = threading.Event()
        self.stop = threading.Event()
        self.seqs = []
        self.error = None

    def run(self):
        try:
            c, outstanding, extra = self.client, [], None
            deadline = time.monotonic() + 20
            while True:
                if self.stop.is_set() and extra is None:
                    extra = self.tail
                if extra == 0 and not outstanding:
                    return
                if len(outstanding) < self.window and extra != 0:
                    outstanding.append(c.say(self.room, "m%d" % self.next, wait=False))
                    self.next += 1
                    if extra is not None:
                        extra -= 1
                    continue
                f = c.expect((ACK, ERROR), max(0.0, deadline - time.monotonic()),
                             ref=outstanding[0])
                self.seqs.append(t.assert_ack(f, "sender SAY").seq)
                outstanding.pop(0)
                self.started_acks.set()
        except BaseException as e:  # reported by the test thread
            self.error = e
            self.started_acks.set()


def test_history_seam_has_no_gap_or_dup_while_the_room_is_busy(srv):
    a, b = srv.client("alice"), srv.client("bob")
    a.join("h")
    fill(a, "h", 120)

    sender = Sender(a, "h", first=121)
    sender.start()
    try:
        if not sender.started_acks.wait(10) or sender.error:
            raise AssertionError("sender did not get going: %r" % (sender.error,))
        j = b.join("h")
    finally:
        sender.stop.set()
        sender.join(25)
    if sender.is_alive():
        raise AssertionError("sender thread did not finish")
    if sender.error:
        raise sender.error
    last = sender.seqs[-1]
    t.assert_eq(sender.seqs, list(range(121, last + 1)), "sender's ACK seqs")
    if not 120 < j.joined.last_seq < last:
        raise AssertionError("the join did not land while messages flowed (joined at %d, "
                             "flow 121..%d)" % (j.joined.last_seq, last))

    check_history(j, list(range(j.joined.last_seq - HISTORY + 1, j.joined.last_seq + 1)), 0,
                  "join during traffic")
    live = []
    while not live or live[-1].seq < last:
        m = b.expect(MESSAGE, room="h", timeout=10)
        if m.flags != 0:
            raise AssertionError("live MESSAGE %d has flags 0x%02x" % (m.seq, m.flags))
        live.append(m)
    seen = j.seqs + [m.seq for m in live]
    t.assert_eq(seen, list(range(j.seqs[0], last + 1)),
                "seqs seen across history and live (each exactly once, in order)")
    b.sync()
    extra = b.received(MESSAGE, room="h")[len(seen):]
    t.assert_eq(extra, [], "MESSAGEs after the last one sent")


@t.server_args("--history", "5")
def test_history_length_follows_the_history_option(srv):
    a, b = srv.client("alice"), srv.client("bob")
    t.assert_eq(a.welcome.history_len, 5, "WELCOME history_len")
    a.join("h")
    fill(a, "h", 12)
    j = b.join("h")
    check_history(j, list(range(8, 13)), 0, "join with --history 5")


def test_fresh_room_has_no_history(srv):
    j = srv.client("alice").join("new")
    t.assert_eq((j.joined.last_seq, j.joined.members, j.names, j.history),
                (0, 1, ["alice"], []), "JOINED of a fresh room (last_seq, members), NAMES, history")
    t.assert_eq((j.end.count, j.end.flags, j.end.last_seq, j.end.epoch),
                (0, 0, 0, j.joined.epoch), "HISTORY_END of a fresh room")


def cursor_room(srv):
    """alice in room h with 120 messages; returns (alice, epoch)."""
    a = srv.client("alice")
    j = a.join("h")
    fill(a, "h", 120)
    return a, j.joined.epoch


def test_join_with_cursor_in_ring_replays_only_newer_messages(srv):
    a, epoch = cursor_room(srv)
    j = srv.client("bob").join("h", epoch=epoch, since=100)
    t.assert_eq((j.joined.epoch, j.joined.last_seq), (epoch, 120), "JOINED (epoch, last_seq)")
    check_history(j, list(range(101, 121)), 0, "cursor since=100")

    j = srv.client("carol").join("h", epoch=epoch, since=120)
    check_history(j, [], 0, "cursor that is up to date")

    # since=70: everything after it (71..) is still in the ring.
    j = srv.client("dave").join("h", epoch=epoch, since=70)
    check_history(j, list(range(71, 121)), 0, "cursor at the ring's edge")


def test_join_with_cursor_older_than_ring_is_truncated(srv):
    a, epoch = cursor_room(srv)
    j = srv.client("bob").join("h", epoch=epoch, since=10)
    check_history(j, list(range(71, 121)), t.HIST_TRUNCATED, "cursor since=10")
    # Only message 70 is missing: still truncated.
    j = srv.client("carol").join("h", epoch=epoch, since=69)
    check_history(j, list(range(71, 121)), t.HIST_TRUNCATED, "cursor since=69")


def test_join_with_wrong_epoch_gets_last_50_marked_epoch_changed(srv):
    a, epoch = cursor_room(srv)
    other = epoch ^ 0x5A5A5A5A or 1
    j = srv.client("bob").join("h", epoch=other, since=100)
    t.assert_eq(j.joined.epoch, epoch, "JOINED epoch (the room's, not the cursor's)")
    check_history(j, list(range(71, 121)), t.HIST_TRUNCATED | t.HIST_EPOCH_CHANGED,
                  "cursor from another epoch")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
