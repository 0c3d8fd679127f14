#!/usr/bin/env python3
"""Resource budgets (issue 17): what one client or one host can make chatd
hold is bounded, and the bounds are the documented ones.

- history: one room's messages (--room-history-bytes) and every room's
  history with its stored renderings (--history-bytes), lingering rooms
  forgotten first; rooms only one connection used linger less
  (--room-linger-solo);
- output: a reader that stops reading pins no more than about its
  --max-queue however its frames are scattered over shared blocks, and
  past --max-queue-total the largest queues are dropped first;
- large rooms: presence by SUMMARY once a second past --presence-batch,
  a JOIN answer names at most 256 members, and long answers (LIST, WHO,
  USERS) come a frame at a time, charged to the flood budget, each name
  present throughout given exactly once."""

import socket
import struct
import subprocess
import sys
import time

import chatdtest as t
from chatdtest import ACK, ERROR, NAMES, PING, PONG, PRESENCE, ROOMS, SUMMARY

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
    # Were each small frame to keep its 64 KiB block alive: 128 MB.  (A
    # sanitizer's or valgrind's own memory makes RSS mean little.)
    if t.instrumented(srv.pid):
        print("    (sanitizer or valgrind: the RSS bound is not checked)")
    elif grown > 32 * 1024:
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


def test_defaults_cap_rooms_at_1000_members_and_batch_presence_past_100(srv):
    out = subprocess.run([srv.path, "--print-config"], capture_output=True, text=True,
                         timeout=10).stdout
    for line in ("max-members = 1000", "presence-batch = 100", "max-queue-total = 134217728",
                 "history-bytes = 268435456"):
        if line not in out.splitlines():
            raise AssertionError("--print-config lacks %r:\n%s" % (line, out))


@t.server_args("--presence-batch", "3")
def test_large_room_hears_presence_in_one_summary_a_second(srv):
    a = srv.client("alice")
    a.join("big")
    m = [srv.client("m%d" % i) for i in range(5)]
    for x in m:
        x.join("big")
    # Up to 3 members every join is its own PRESENCE; past that, a summary.
    singles = [a.expect(PRESENCE, kind=t.P_JOIN).nick for _ in range(2)]
    t.assert_eq(singles, ["m0", "m1"], "joins announced one by one")
    t0 = time.monotonic()
    s = a.expect(SUMMARY, 3)
    waited = s.at - t0
    t.assert_eq((s.room, s.members, s.joins, s.leaves, s.flags), ("big", 6, 3, 0, 0),
                "SUMMARY (room, members, joins, leaves, flags)")
    t.assert_eq(s.events, [(t.P_JOIN, 0, "m2", ""), (t.P_JOIN, 0, "m3", ""),
                           (t.P_JOIN, 0, "m4", "")], "SUMMARY events")
    if waited > 1.5:
        raise AssertionError("the summary came %.2f s after the joins" % waited)
    t.assert_eq([f for f in a.drain(0) if f.type == PRESENCE], [], "PRESENCE beside the SUMMARY")
    # A part: the leaver hears at once, the rest in the next summary; a
    # nick change and a reset go there too.
    m[4].part("big")
    m[3].nick("m3x")
    m[2].reset_close()
    s = a.expect(SUMMARY, 3)
    t.assert_eq((s.members, s.joins, s.leaves), (4, 0, 2), "second SUMMARY counts")
    t.assert_eq(s.events, [(t.P_PART, 0, "m4", ""), (t.P_NICK, 0, "m3", "m3x"),
                           (t.P_DROP, t.R_RESET, "m2", "")], "second SUMMARY events")
    t.assert_eq(m[4].received(PRESENCE, kind=t.P_PART)[0].room, "big", "the leaver's own PART")
    # Quiet rooms send no summaries.
    t.assert_eq([f for f in a.drain(1.3) if f.type == SUMMARY], [], "SUMMARY with nothing new")


def _text_client(srv, name):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(name.encode() + b"\r\n")
    return s


def _read_text_until(sock, needle, timeout):
    deadline = time.monotonic() + timeout
    data = b""
    while needle.encode() not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no %r within %.1f s; got %r" % (needle, timeout, data[-400:]))
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("closed before %r; got %r" % (needle, data[-400:]))
        data += chunk
    return data.decode()


@t.server_args("--presence-batch", "2")
def test_text_client_reads_a_summary_as_words(srv):
    tc = _text_client(srv, "tess")
    _read_text_until(tc, "/help lists all commands", 5)
    tc.sendall(b"/join big\r\n")
    _read_text_until(tc, "joined #big", 5)
    m = [srv.client("m%d" % i) for i in range(4)]
    for x in m:
        x.join("big")
    m[3].nick("m3x")
    out = _read_text_until(tc, "m3>m3x", 5)
    line = [l for l in out.split("\r\n") if "* #big:" in l][-1]
    if not line.endswith("* #big: 3 joined, 0 left (5 members):"):
        raise AssertionError("summary header %r" % line)
    if "*   +m1 +m2 +m3 m3>m3x" not in out:
        raise AssertionError("summary words: %r" % out[-300:])
    tc.close()


def _rooms_by(srv, n, prefix):
    """n rooms with one member each, made by clients of five rooms each
    (so that each stays within a small flood burst)."""
    makers = []
    for k in range(0, n, 5):
        c = srv.client("%smaker%d" % (prefix, k))
        for i in range(k, min(n, k + 5)):
            c.send(t.JOIN, room="%s%03d" % (prefix, i), epoch=0, since=0)
        makers.append(c)
    for c in makers:
        c.ping(timeout=10)
    return makers


@t.server_args("--max-conns-per-ip", "0", "--flood-rate", "10", "--flood-burst", "5")
def test_long_list_comes_a_frame_at_a_time_charged_to_the_flood_budget(srv):
    _rooms_by(srv, 300, "r")
    a = srv.client("alice")
    a.ping()
    t.pause(0.6)  # a full bucket: the test measures the listing's own cost
    t0 = time.monotonic()
    a.send_raw(t.encode(t.LIST) + t.encode(PING, token=77))
    frames = []
    while not frames or not frames[-1].flags & t.LIST_LAST:
        frames.append(a.expect(ROOMS, 10))
    pong = a.expect(PONG, 5, token=77)
    rooms = [r for f in frames for r, _ in f.rooms]
    t.assert_eq(rooms, ["r%03d" % i for i in range(300)], "LIST over five frames, in order")
    t.assert_eq([len(f.rooms) for f in frames], [64, 64, 64, 64, 44], "entries per ROOMS frame")
    if any(f.at > pong.at for f in frames):
        raise AssertionError("the PONG came before the listing's LAST frame")
    # 2 tokens for the requests, 4 for the frames after the first: one
    # more than the burst of 5, so at least 0.1 s at 10 a second.
    took = pong.at - t0
    print("    LIST of 300 rooms and a PING answered in %.3f s" % took)
    if took < 0.08:
        raise AssertionError("the listing cost no flood budget (%.3f s)" % took)


@t.server_args("--max-conns-per-ip", "0", "--flood-rate", "0")
def test_client_is_read_again_after_a_long_answer_it_read_at_once(srv):
    _rooms_by(srv, 200, "q")
    a = srv.client("alice")
    for _ in range(3):
        t.assert_eq(len(a.list(timeout=5)), 200, "rooms listed")
        a.ping(timeout=5)  # a request of its own, after the answer


@t.server_args("--max-conns-per-ip", "0", "--flood-rate", "20", "--flood-burst", "1",
               "--presence-batch", "0")
def test_who_spread_over_turns_names_each_member_present_throughout_once(srv):
    room = [srv.client("u%03d" % i) for i in range(200)]
    for c in room:
        c.send(t.JOIN, room="hall", epoch=0, since=0)
    for c in room:
        c.expect(t.HISTORY_END, 10)
    # The join order is the order the server read the JOINs in.
    order = srv.client("observer").who("hall", timeout=10)
    a = srv.client("asker")
    t.pause(0.1)  # a token for the WHO itself
    a.send(t.WHO, room="hall")
    first = a.expect(NAMES, 5)
    # Between pages (a token each, 50 ms apart): some leave, some join.
    for i in (5, 150, 199):
        room[i].part("hall")
    late = [srv.client("late%d" % i) for i in range(3)]
    for c in late:
        c.join("hall")
    frames = [first]
    while not frames[-1].flags & t.LIST_LAST:
        frames.append(a.expect(NAMES, 10))
    names = [n for f in frames for n in f.nicks]
    t.assert_eq(len(names), len(set(names)), "WHO names no member twice")
    throughout = [n for n in order if n not in ("u005", "u150", "u199")]
    listed = [n for n in names if n in throughout]
    t.assert_eq(listed, throughout, "members present throughout, once each, in join order")
    if len(frames) < 4:
        raise AssertionError("WHO of 200 answered in %d frames" % len(frames))


@t.server_args("--max-conns-per-ip", "0", "--flood-rate", "0", "--presence-batch", "0")
def test_join_answer_names_at_most_256_members_and_who_names_all(srv):
    crowd = [srv.client("c%03d" % i) for i in range(300)]
    for c in crowd:
        c.send(t.JOIN, room="hall", epoch=0, since=0)
    for c in crowd:
        c.expect(t.HISTORY_END, 10)
    a = srv.client("asker")
    j = a.join("hall")
    t.assert_eq(j.joined.members, 301, "JOINED member count")
    everyone = a.who("hall")
    t.assert_eq(len(everyone), 301, "WHO names every member")
    t.assert_eq(j.names, everyone[:256], "names in the JOIN answer: the first 256 to join")
    t.assert_eq(j.names_flags, t.LIST_LAST | t.LIST_PARTIAL, "flags of the JOIN's last NAMES")
    # A room small enough is named in full, without PARTIAL.
    crowd[0].join("small")
    t.assert_eq(a.join("small").names_flags, t.LIST_LAST, "flags of a small room's NAMES")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
