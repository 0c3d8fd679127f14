#!/usr/bin/env python3
"""Resource budgets (issue 17): what one client or one host can make chatd
hold is bounded, and the bounds are the documented ones.

- history: one room's messages (--room-history-bytes) and every room's
  history with its stored renderings (--history-bytes), lingering rooms
  forgotten first; rooms only one connection used linger less
  (--room-linger-solo);
- output: a reader that stops reading pins no more than about its
  --max-queue however its frames are scattered over shared blocks, and
  past --max-queue-total the largest queues are dropped first."""

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


@t.server_args("--flood-rate", "0", "--max-queue", str(8 << 20))
def test_stalled_reader_of_scattered_small_frames_pins_little_and_loses_nothing(srv):
    s, b = srv.client("sender"), srv.client("busy")
    r = srv.client("stalled", rcvbuf=4096)
    s.join("busy")
    s.join("quiet")
    b.join("busy")
    r.join("quiet")
    big = "b" * TEXT
    # First fill the kernel's buffers between chatd and the stalled reader
    # (3 to 4 MB here), so that what follows waits in chatd's own queue.
    for k in range(1250):
        s.say("quiet", big, wait=False)
        if k % 50 == 49:
            s.drain(0)
    s.ping(timeout=30)
    base = srv.rss_kb()
    # Sixteen 4000-byte messages fill a 64 KiB render block; between them
    # one small frame for the reader who stopped reading.
    n = 2000
    for k in range(n):
        for _ in range(16):
            s.say("busy", big, wait=False)
        s.say("quiet", "q%04d" % k, wait=False)
        if k % 50 == 49:
            s.drain(0)
            b.drain(0)
    s.ping(timeout=30)
    b.drain(0.2)
    grown = srv.rss_kb() - base
    print("    chatd grew %d KiB while the stalled reader held %d small frames" % (grown, n))
    # Were each small frame to keep its 64 KiB block alive: 128 MB.
    if grown > 32 * 1024:
        raise AssertionError("chatd grew %d KiB for a stalled reader of %d small frames"
                             % (grown, n))
    got = [f.text for f in r.drain(5, max_reads=100000) if f.type == t.MESSAGE]
    t.assert_eq(got, [big] * 1250 + ["q%04d" % k for k in range(n)],
                "the stalled reader's messages")


@t.server_args("--flood-rate", "0", "--max-queue-total", "500000")
def test_output_past_max_queue_total_drops_the_largest_queues_first(srv):
    a, watcher = srv.client("alice"), srv.client("watcher")
    a.join("r")
    watcher.join("r")
    # Stalled readers that ask for more than they read: WHO answers are
    # their own bytes, about 5 MB each, of which the kernel's socket
    # buffers take the first 4 MB or so.
    readers = [srv.client("slow%d" % i + "x" * 25, rcvbuf=4096) for i in range(4)]
    for x in readers:
        x.join("r")
    who = t.encode(t.WHO, room="r")
    for i, x in enumerate(readers):
        x.send_raw(who * 25000)
    drops = []
    t.wait_until(lambda: drops.extend(f for f in watcher.drain(0.05)
                                      if f.type == PRESENCE and f.kind == t.P_DROP)
                 or len(drops) >= 1, 5, what="a slow consumer dropped")
    srv.wait_for_line(r"output over its budget of 500000 bytes \(max-queue-total\): "
                      r"dropped \d+ connection", 5)
    for d in drops:
        t.assert_eq(d.reason, t.R_SLOW_CONSUMER, "reason of %s's drop" % d.nick)
        if not d.nick.startswith("slow"):
            raise AssertionError("%s was dropped, not one of the stalled readers" % d.nick)
    # The reading members are untouched.
    t.assert_ack(a.say("r", "still here"), "alice's SAY after the drops")
    watcher.expect(t.MESSAGE, text="still here")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
