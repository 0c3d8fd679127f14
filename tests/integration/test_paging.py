#!/usr/bin/env python3
"""Paging back through a room's history, with and without the SQLite
store, on every front end, and what retention leaves to page through.

- framed HISTORY (protocol.md 5.12, 6.3): with a store, 300 messages read
  back in pages of 100 to the first one, each page oldest first,
  contiguous, flagged HISTORY, with the sender, text and time each
  message was sent with, HISTORY_END counting it, MORE on every page but
  the last, and the room's epoch and last_seq; limit 0 and limit > 100
  are 100; a before beyond the room's last message is "from the newest";
  208 NOT_IN_ROOM for a room one is not in, 205 ROOM_INVALID for a bad
  name; live messages sent around a HISTORY stay out of its answer, and
  a page asked for right after a burst has no gap;
- without a store, paging stops at the ring (MORE clear there);
- one HISTORY built by hand from the bytes of section 16 gets the
  documented answer, checked byte by byte;
- text mode (17.5): /history N, /back, the usage line, the line for no
  current room, and where /history goes on after switching rooms;
- HTTP (http.md 5.2): ?before=SEQ&limit=N paging with "more" and
  "before", the 400s, ?after= a cursor older than the ring read from the
  store, and a room only the store has read back after a restart;
- chatd.json (websocket.md 4): the history op, not_in_room, bad_request;
- retention: --retention-messages keeps each room's newest N (whole
  chunks), paging and the file agree on what is kept, a join with an
  older cursor is TRUNCATED, the metric counts what went;
  --retention-days deletes the chunks older than that (aged by rewriting
  their time in the file between two runs) and keeps the rest.

Each store test runs its own chatd on a store in a temporary directory.

Run as

    python3 test_paging.py --chatd build/chatd [-k NAME]
"""

import os
import re
import select
import socket
import sqlite3
import struct
import sys
import tempfile
import time

import chatdtest as t
from chatdtest import ACK, ERROR, HISTORY, HISTORY_END, MESSAGE
from test_http import API, Api, api, check_message, expect_error, ok, q, query
from test_websocket_json import MESSAGE_KEYS, assert_error, assert_keys, json_user
from textclient import chat_re, text_client

RING = 50       # --history default
DAY_MS = 86400000


# ---------------------------------------------------------------------------
# Helpers


class Chatd(t.Server):
    """chatd on a store (None: --store none), flood control off so that
    volume is not slowed, a short text detection window.  Leaving it
    stops it with SIGTERM and checks exit 0 and no sanitizer report; a
    failure inside prints its output."""

    def __init__(self, srv, store, *args):
        super().__init__(srv.path, "--store", store or "none", "--flood-rate", "0",
                         "--detect-window", "0.2", *args)
        self.store = store

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not issubclass(exc_type, t.Skip) and self.lines:
            print("    --- chatd on %s (last 25 lines) ---" % self.store)
            for line in self.stderr_tail(25):
                print("    | " + line)
        return super().__exit__(exc_type, exc, tb)


def text_of(i):
    """The text of message i: plain, or with what the store's JSON must
    carry through (non-ASCII, quotes, backslashes, controls)."""
    extra = ("", " \u00e9t\u00e9 \U0001f389", ' "q" \\ /', "\ttab\nline\x01")[i % 4]
    return "m%d%s" % (i, extra)


def say_all(client, items, timeout=10):
    """Send every (room, text) SAY in one write, then collect the ACKs in
    order; returns them."""
    refs = [client.next_ref() for _ in items]
    client.send_raw(b"".join(t.encode(t.SAY, ref=ref, room=room, text=text)
                             for ref, (room, text) in zip(refs, items)))
    return [t.assert_ack(client.expect((ACK, ERROR), timeout, ref=ref),
                         "%s SAY %r" % (client.label, item))
            for ref, item in zip(refs, items)]


def fill(senders, room, n, batch=50, text=text_of, first=1):
    """n messages into room, batch by batch (each one write, its ACKs
    awaited), the senders taking turns; returns what a reader must see
    of them: [(seq, from, text, time)] in seq order."""
    sent = []
    for k, start in enumerate(range(first, first + n, batch)):
        x = senders[k % len(senders)]
        items = [(room, text(i)) for i in range(start, min(start + batch, first + n))]
        for (_, txt), ack in zip(items, say_all(x, items)):
            sent.append((ack.seq, x.name, txt, ack.time_ms))
    sent.sort()
    t.assert_eq([s[0] for s in sent], list(range(sent[0][0], sent[0][0] + n)),
                "ACK seqs of %d messages in %s" % (n, room))
    return sent


def facts(m):
    """What a user sees of a MESSAGE: (seq, from, text, time)."""
    return (m.seq, m.from_, m.text, m.time_ms)


def span(seqs):
    """Seqs as runs: "1..10, 41..90" ("[]" for none)."""
    runs = []
    for x in seqs:
        if runs and x == runs[-1][1] + 1:
            runs[-1][1] = x
        else:
            runs.append([x, x])
    return ", ".join("%d..%d" % (a, b) if a != b else "%d" % a for a, b in runs) or "[]"


def page(client, room, before, limit, what):
    """A HISTORY that must be answered: (messages, HISTORY_END)."""
    msgs, end = client.history(room, before, limit)
    if msgs is None:
        raise AssertionError("%s: HISTORY %s before %d limit %d refused: %r"
                             % (what, room, before, limit, end))
    return msgs, end


def check_page(msgs, end, want, more, room, epoch, last_seq, what):
    """A HISTORY answer is exactly want [(seq, from, text, time)], every
    MESSAGE flagged HISTORY (only) and of the room as its creator spelled
    it, then HISTORY_END(room, epoch, last_seq, count, MORE or 0)."""
    got = [facts(m) for m in msgs]
    if got != want:
        diff = [(g, w) for g, w in zip(got, want) if g != w][:1]
        raise AssertionError("%s: page seqs %s, expected %s%s"
                             % (what, span([g[0] for g in got]), span([w[0] for w in want]),
                                "; first difference: got %r, want %r" % diff[0] if diff else ""))
    t.assert_eq(sorted({(m.flags, m.room) for m in msgs}) or [(t.MSG_HISTORY, room)],
                [(t.MSG_HISTORY, room)], "%s: (flags, room) of the page's MESSAGEs" % what)
    t.assert_eq((end.room, end.epoch, end.last_seq, end.count, end.flags),
                (room, epoch, last_seq, len(want), t.HIST_MORE if more else 0),
                "%s: HISTORY_END (room, epoch, last_seq, count, flags)" % what)


def page_back(client, room, limit, what):
    """HISTORY from the newest back until an answer without MORE, each
    asked before the oldest seq so far; returns the answers."""
    answers, before = [], 0
    for _ in range(100):
        msgs, end = page(client, room, before, limit, what)
        answers.append((msgs, end))
        if not end.flags & t.HIST_MORE:
            return answers
        if not msgs:
            raise AssertionError("%s: an empty page with MORE: %r" % (what, end))
        before = msgs[0].seq
    raise AssertionError("%s: still MORE after 100 pages" % what)


def open_db(path):
    """Python's sqlite3 on a store (chatd stopped, or running: WAL readers
    do not stop it)."""
    return sqlite3.connect(path, timeout=5, isolation_level=None)


def db_query(path, sql, *args):
    db = open_db(path)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def stored_seqs(path):
    """{room name: [seq, ...]} as the messages view shows the file."""
    out = {}
    for room, seq in db_query(path, "SELECT room, seq FROM messages ORDER BY room, seq"):
        out.setdefault(room, []).append(seq)
    return out


def metrics(port):
    """GET /metrics as {name: value} (unlabelled samples only)."""
    a = Api(port)
    try:
        r = a.get("/metrics")
    finally:
        a.close()
    t.assert_eq(r.status, 200, "GET /metrics")
    out = {}
    for line in r.body.decode().splitlines():
        m = re.match(r"^([a-z_]+) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def get_messages(a, room, **params):
    """GET /api/v1/rooms/ROOM/messages?params, no session (public read on
    loopback)."""
    return a.get(API + "/rooms/%s/messages%s" % (q(room), query(**params)))


# ---------------------------------------------------------------------------
# 1. Framed HISTORY with a store


def test_framed_history_pages_back_through_300_stored_messages_to_the_first(srv):
    with tempfile.TemporaryDirectory() as d, Chatd(srv, os.path.join(d, "chatd.db")) as s:
        alice, bob = s.client("alice"), s.client("Bob")
        alice.join("Paging")
        bob.join("paging")
        alice.join("elsewhere")
        sent = fill([alice, bob], "Paging", 300)
        carol = s.client("carol")
        j = carol.join("PAGING")
        t.assert_eq((j.joined.room, j.joined.last_seq, [facts(m) for m in j.history]),
                    ("Paging", 300, sent[-RING:]), "carol's JOIN (room, last_seq, replay)")
        epoch = j.epoch

        def check(before, limit, lo, hi, more, what):
            msgs, end = page(carol, "paging", before, limit, what)
            check_page(msgs, end, sent[lo - 1:hi], more, "Paging", epoch, 300, what)

        # Back from the newest to the first, a page of 100 at a time.
        answers = page_back(carol, "paging", 100, "paging back")
        t.assert_eq([span([m.seq for m in msgs]) for msgs, _ in answers],
                    ["201..300", "101..200", "1..100"], "the pages from before=0")
        for (msgs, end), (lo, more) in zip(answers, ((201, True), (101, True), (1, False))):
            check_page(msgs, end, sent[lo - 1:lo + 99], more, "Paging", epoch, 300,
                       "the page from %d" % lo)
        check(1, 100, 1, 0, False, "before the first message")
        check(2, 100, 1, 1, False, "before the second message")
        check(50, 7, 43, 49, True, "7 before 50")
        check(101, 100, 1, 100, False, "exactly the first 100")
        check(102, 100, 2, 101, True, "100 before 102")
        # limit 0 and limits over 100 mean 100.
        for limit in (0, 101, 1000, 65535):
            check(0, limit, 201, 300, True, "limit %d" % limit)
        # A before beyond the last message means from the newest.
        for before in (301, 302, 10 ** 6, 2 ** 64 - 1):
            check(before, 100, 201, 300, True, "before %d (last_seq 300)" % before)
        check(300, 100, 200, 299, True, "before the last message")

        # Rooms one is not in, and names that are not room names.
        for room, code in (("elsewhere", t.E_NOT_IN_ROOM), ("nowhere", t.E_NOT_IN_ROOM),
                           ("bad room!", t.E_ROOM_INVALID), ("", t.E_ROOM_INVALID),
                           ("x" * 65, t.E_ROOM_INVALID)):
            msgs, err = carol.history(room, 0, 10)
            t.assert_eq(msgs, None, "HISTORY of %r: answered with messages" % room)
            t.assert_error(err, code, "HISTORY of %r" % room, req_type=HISTORY)
        t.assert_eq(carol.part("paging").type, t.PRESENCE, "carol's PART")
        msgs, err = carol.history("paging", 0, 10)
        t.assert_error(err, t.E_NOT_IN_ROOM, "HISTORY after PART", req_type=HISTORY)
        carol.ping()
        t.assert_eq(carol.eof, None, "carol's connection after the refusals")


def test_live_messages_sent_around_a_history_request_stay_out_of_its_answer(srv):
    with tempfile.TemporaryDirectory() as d, Chatd(srv, os.path.join(d, "chatd.db")) as s:
        alice = s.client("alice")
        alice.join("busy")
        sent = fill([alice], "busy", 120)
        carol = s.client("carol")
        epoch = carol.join("busy").epoch
        rounds, burst = 4, 40
        for r in range(rounds):
            # A burst of alice's in flight while carol asks for the newest
            # page: her HISTORY lands before, inside or after it.
            first = 121 + r * burst
            refs = [alice.next_ref() for _ in range(burst)]
            alice.send_raw(b"".join(t.encode(t.SAY, ref=ref, room="busy", text=text_of(i))
                                    for ref, i in zip(refs, range(first, first + burst))))
            carol.send(HISTORY, room="busy", before=0, limit=100)
            for ref, i in zip(refs, range(first, first + burst)):
                ack = t.assert_ack(alice.expect((ACK, ERROR), 10, ref=ref), "alice's SAY")
                sent.append((ack.seq, "alice", text_of(i), ack.time_ms))
        frames = carol.ping()
        carol.inbox = []
        sent.sort()
        t.assert_eq([x[0] for x in sent], list(range(1, 121 + rounds * burst)), "ACK seqs")

        answers, live, block = [], [], None  # live: (facts, answers complete before it)
        for f in frames:
            if f.type == MESSAGE and f.flags & t.MSG_HISTORY:
                block = [] if block is None else block
                block.append(f)
            elif f.type == HISTORY_END:
                answers.append((block or [], f))
                block = None
            elif block is not None:
                raise AssertionError("%r inside the answer to a HISTORY, after %d of its "
                                     "messages" % (f, len(block)))
            elif f.type == MESSAGE:
                t.assert_eq(f.flags, 0, "flags of a live MESSAGE (seq %d)" % f.seq)
                live.append((facts(f), len(answers)))
        t.assert_eq(block, None, "a HISTORY answer without its HISTORY_END")
        t.assert_eq([x[0] for x in live], sent[120:], "live MESSAGEs carol got")
        t.assert_eq(len(answers), rounds, "HISTORY answers")
        for k, (msgs, end) in enumerate(answers):
            n = end.last_seq
            check_page(msgs, end, sent[n - 100:n], True, "busy", epoch, n,
                       "answer %d (last_seq %d)" % (k + 1, n))
            # Its last_seq is the room's when it was answered: the live
            # messages up to it came before the answer, the later ones after.
            newer = [x[0][0] for x in live if x[1] <= k and x[0][0] > n]
            older = [x[0][0] for x in live if x[1] > k and x[0][0] <= n]
            if newer or older:
                raise AssertionError("answer %d says last_seq %d, yet live messages %s came "
                                     "before it and %s after it" % (k + 1, n, newer, older))


def test_a_page_asked_for_right_after_a_burst_has_no_gap(srv):
    """More messages of a room than the ring holds, taken in the same loop
    turn as a HISTORY of that room (one write here: 80 SAYs, then the
    HISTORY): the page must still be every message before the newest,
    though the turn's messages are not yet committed to the store."""
    with tempfile.TemporaryDirectory() as d, Chatd(srv, os.path.join(d, "chatd.db")) as s:
        alice = s.client("alice")
        epoch = alice.join("burst").epoch
        sent = fill([alice], "burst", 10)
        refs = [alice.next_ref() for _ in range(80)]
        alice.send_raw(b"".join(t.encode(t.SAY, ref=ref, room="burst", text=text_of(i))
                                for ref, i in zip(refs, range(11, 91)))
                       + t.encode(HISTORY, room="burst", before=0, limit=100))
        end = alice.expect(HISTORY_END, 10)
        msgs = [f for f in alice.skipped if f.type == MESSAGE and f.flags & t.MSG_HISTORY]
        alice.inbox = [f for f in alice.inbox if f not in msgs]
        for ref, i in zip(refs, range(11, 91)):
            ack = t.assert_ack(alice.expect((ACK, ERROR), 10, ref=ref), "alice's SAY")
            sent.append((ack.seq, "alice", text_of(i), ack.time_ms))
        sent.sort()
        again, end2 = page(alice, "burst", 0, 100, "the same HISTORY a turn later")
        check_page(again, end2, sent, False, "burst", epoch, 90, "the same HISTORY a turn later")
        check_page(msgs, end, sent, False, "burst", epoch, 90,
                   "HISTORY in the turn of 80 SAYs (ring %d)" % RING)


def test_a_join_with_a_cursor_right_after_a_burst_replays_every_missed_message(srv):
    """The same turn as above, for a JOIN with a cursor older than the
    ring (11.3, 11.5): the replay is contiguous, and TRUNCATED only when
    the server no longer has a missed message."""
    with tempfile.TemporaryDirectory() as d, Chatd(srv, os.path.join(d, "chatd.db")) as s:
        alice = s.client("alice")
        epoch = alice.join("burst").epoch
        fill([alice], "burst", 10)
        alice.send_raw(b"".join(t.encode(t.SAY, ref=alice.next_ref(), room="burst",
                                         text=text_of(i)) for i in range(11, 91))
                       + t.encode(t.PART, room="burst")
                       + t.encode(t.JOIN, room="burst", epoch=epoch, since=5))
        end = alice.expect(HISTORY_END, 10)
        replay = [f.seq for f in alice.skipped if f.type == MESSAGE and f.flags & t.MSG_HISTORY]
        later = s.client("bob").join("burst", epoch=epoch, since=5)
        t.assert_eq((span(later.seqs), later.end.flags), ("6..90", 0),
                    "a JOIN with cursor 5 a turn later (replay, flags)")
        t.assert_eq((span(replay), end.count, end.flags), ("6..90", 85, 0),
                    "a JOIN with cursor 5 in the turn of 80 SAYs (replay, count, flags)")


# ---------------------------------------------------------------------------
# 2. Framed HISTORY without a store


@t.server_args("--store", "none", "--flood-rate", "0")
def test_framed_history_without_a_store_stops_at_the_ring(srv):
    alice = srv.client("alice")
    alice.join("ring")
    sent = fill([alice], "ring", 120)
    carol = srv.client("carol")
    j = carol.join("ring")
    epoch = j.epoch
    t.assert_eq([facts(m) for m in j.history], sent[-RING:], "carol's JOIN replay")
    for before, limit, lo, hi, more in ((0, 30, 91, 120, True), (91, 30, 71, 90, False),
                                        (71, 100, 1, 0, False), (0, 100, 71, 120, False),
                                        (0, 0, 71, 120, False), (80, 5, 75, 79, True),
                                        (500, 50, 71, 120, False)):
        msgs, end = page(carol, "ring", before, limit, "without a store")
        check_page(msgs, end, sent[lo - 1:hi], more, "ring", epoch, 120,
                   "without a store: before %d limit %d" % (before, limit))
    answers = page_back(carol, "ring", 20, "paging back without a store")
    t.assert_eq([span([m.seq for m in msgs]) for msgs, _ in answers],
                ["101..120", "81..100", "71..80"], "pages of 20 back to the ring's oldest")
    j = carol.join("empty")
    msgs, end = page(carol, "empty", 0, 10, "a fresh room")
    check_page(msgs, end, [], False, "empty", j.epoch, 0, "HISTORY of a fresh room")


# ---------------------------------------------------------------------------
# 3. One HISTORY as bytes


def doc_vectors():
    """{name: bytes} of the vectors in docs/protocol.md."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                        "protocol.md")
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"vector (\w+): ([0-9a-f ]+)$", line.rstrip("\n"))
            if m:
                out[m.group(1)] = bytes.fromhex(m.group(2))
    return out


class RawConn:
    """A framed connection spoken in bytes: frames read as (type,
    payload) with nothing of chatdtest's codec."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def frame(self, timeout=5.0):
        """The next whole frame (type, payload); None at end of stream."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 5:
                n, ftype = struct.unpack(">IB", self.buf[:5])
                if len(self.buf) >= 5 + n:
                    payload, self.buf = self.buf[5:5 + n], self.buf[5 + n:]
                    return ftype, payload
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                raise t.Timeout("raw connection: no whole frame within %.1fs (have %r)"
                                % (timeout, self.buf[:40]))
            data = self.sock.recv(65536)
            self.buf += data
            self.eof = not data

    def until(self, ftype, timeout=5.0):
        """Frames up to and including the first of ftype."""
        out = []
        while True:
            f = self.frame(timeout)
            if f is None:
                raise t.Closed("raw connection ended before a frame 0x%02x; got %r"
                               % (ftype, [(x[0], x[1][:20]) for x in out[-5:]]))
            out.append(f)
            if f[0] == ftype:
                return out

    def close(self):
        self.sock.close()


def str8(s):
    b = s.encode()
    return bytes([len(b)]) + b


def parse_message(p):
    """A MESSAGE payload by hand: (flags, room, from, seq, time, text)."""
    flags, rl = p[0], p[1]
    room = p[2:2 + rl].decode()
    o = 2 + rl
    fl = p[o]
    frm = p[o + 1:o + 1 + fl].decode()
    o += 1 + fl
    seq, time_ms, tl = struct.unpack(">QQH", p[o:o + 18])
    text = p[o + 18:o + 18 + tl].decode()
    t.assert_eq(len(p), o + 18 + tl, "MESSAGE payload length")
    return flags, room, frm, seq, time_ms, text


def test_history_frame_built_by_hand_gets_the_documented_answer(srv):
    vec = doc_vectors()
    with tempfile.TemporaryDirectory() as d, Chatd(srv, os.path.join(d, "chatd.db")) as s:
        alice = s.client("alice")
        alice.join("lobby")
        sent = fill([alice], "lobby", 120)

        x = RawConn(s.port)
        s.clients.append(x)
        hello = struct.pack(">IB", 1 + 5, 0x01) + str8("carol")
        join = struct.pack(">IB", 1 + 5 + 16, 0x02) + str8("lobby") + struct.pack(">QQ", 0, 0)
        x.send(b"\x89CHATD\x00\x01" + hello + join)
        frames = x.until(0x43)
        joined = [p for ft, p in frames if ft == 0x42]
        t.assert_eq(len(joined), 1, "JOINED frames")
        epoch, last_seq = struct.unpack(">QQ", joined[0][6:22])
        t.assert_eq(last_seq, 120, "JOINED last_seq")

        # HISTORY of lobby, before 71, limit 50: the bytes of section 16.
        req = struct.pack(">IB", 1 + 5 + 8 + 2, 0x0D) + str8("lobby") + struct.pack(">QH", 71, 50)
        t.assert_eq(req.hex(" "), vec["history"].hex(" "), "HISTORY built by hand vs the doc")
        x.send(req)
        answer = x.until(0x43)
        t.assert_eq([ft for ft, _ in answer], [0x44] * 50 + [0x43],
                    "frame types answering the HISTORY")
        got = [parse_message(p) for _, p in answer[:-1]]
        t.assert_eq(got, [(1, "lobby", frm, seq, tm, txt) for seq, frm, txt, tm in sent[20:70]],
                    "the 50 MESSAGEs (flags, room, from, seq, time, text)")
        end = answer[-1]
        want = struct.pack(">IB", len(end[1]), 0x43) + end[1]
        doc = vec["history_end_more"]  # lobby, epoch E, last_seq 120, count 50, MORE
        t.assert_eq(want.hex(" "), (doc[:11] + struct.pack(">Q", epoch) + doc[19:]).hex(" "),
                    "HISTORY_END vs the doc's history_end_more (with this room's epoch)")

        # A HISTORY one byte short (limit as a u8) is malformed: 103, closed.
        x.send(struct.pack(">IB", 15, 0x0D) + str8("lobby") + struct.pack(">QB", 71, 50))
        ft, p = x.until(0x49)[-1]
        code, typ = struct.unpack(">HB", p[:3])
        t.assert_eq((code, typ), (t.E_MALFORMED, 0x0D), "ERROR (code, type) of a short HISTORY")
        while x.frame() is not None:
            pass

        # Before HELLO: 201, and the connection goes on.
        y = RawConn(s.port)
        s.clients.append(y)
        y.send(b"\x89CHATD\x00\x01" + vec["history"] + struct.pack(">IBQ", 8, 0x0A, 7))
        ft, p = y.frame()
        t.assert_eq((ft, struct.unpack(">HB", p[:3])), (0x49, (t.E_NOT_REGISTERED, 0x0D)),
                    "HISTORY before HELLO (frame type, (code, type))")
        t.assert_eq(y.frame(), (0x0B, struct.pack(">Q", 7)), "PONG after the refusal")


# ---------------------------------------------------------------------------
# 4. Text mode


TEXT_END = re.compile(r"^\* (\(/history again for more\)|that was the (first message|oldest kept) "
                      r"of #|nothing older of #)|^! ")


def text_page(c, command):
    """Send a /history line; returns the lines of its answer, up to its
    last ("again for more", "that was the ...", or an error)."""
    c.send_line(command)
    lines = []
    while True:
        lines.append(c.next_line())
        if TEXT_END.search(lines[-1]):
            return lines


def check_text_page(lines, sent, lo, hi, last, what, room="lounge"):
    """An answer to /history: an intro line naming the count and the
    room, the history lines of seqs lo..hi (the time each was sent), and
    the closing line last."""
    n = hi - lo + 1
    intro = lines[0]
    if not (intro.startswith("* ") and re.search(r"\b%d\b" % n, intro) and "#" + room in intro):
        raise AssertionError("%s: intro line %r (expected '* ' naming %d and #%s)"
                             % (what, intro, n, room))
    body = lines[1:-1]
    t.assert_eq(len(body), n, "%s: history lines (%r ... %r)" % (what, body[:1], body[-1:]))
    for line, (seq, frm, txt, tm) in zip(body, sent[lo - 1:hi]):
        if not re.match(chat_re(room, frm, txt, history=True), line):
            raise AssertionError("%s: expected the history line of %s's %r, got %r"
                                 % (what, frm, txt, line))
        clock = time.strftime("%H:%M", time.localtime(tm / 1000))
        t.assert_eq(line[2:7], clock, "%s: clock of the line of seq %d" % (what, seq))
    t.assert_eq(lines[-1], last, "%s: closing line" % what)


def plain(i):
    return "m%d" % i


def text_join(c, room, sent):
    """/join ROOM: the header, the line announcing the replay, and the
    last RING messages as history lines, read to the last of them."""
    c.join(room)
    intro = c.next_line()
    if not re.match(r"^\* .*\b%d\b.*#%s" % (RING, room), intro):
        raise AssertionError("%s: join: line announcing %d history lines: %r"
                             % (c.label, RING, intro))
    for seq, frm, txt, _ in sent[-RING:]:
        line = c.next_line()
        if not re.match(chat_re(room, frm, txt, history=True), line):
            raise AssertionError("%s: join replay: expected the line of seq %d %r, got %r"
                                 % (c.label, seq, txt, line))


def test_text_history_pages_back_to_the_first_message(srv):
    with tempfile.TemporaryDirectory() as d, Chatd(srv, os.path.join(d, "chatd.db")) as s:
        alice = s.client("alice")
        alice.join("lounge")
        sent = fill([alice], "lounge", 120, text=plain)

        tess = text_client(s, "tess")
        lines = text_page(tess, "/history")
        t.assert_eq(len(lines), 1, "/history with no current room: lines %r" % lines)
        if not re.match(r"^! .*/join", lines[0]):
            raise AssertionError("/history with no current room: %r (expected an error line "
                                 "pointing to /join)" % lines[0])

        tina = text_client(s, "tina")
        text_join(tina, "lounge", sent)
        more = "* (/history again for more)"
        first = "* that was the first message of #lounge"
        check_text_page(text_page(tina, "/history 30"), sent, 41, 70, more, "/history 30")
        check_text_page(text_page(tina, "/history 30"), sent, 11, 40, more, "/history 30 again")
        check_text_page(text_page(tina, "/history 100"), sent, 1, 10, first, "/history 100")
        t.assert_eq(text_page(tina, "/history"), [first], "/history after the first message")
        for bad in ("/history x", "/history 0", "/history 5x", "/history 123456789"):
            lines = text_page(tina, bad)
            if len(lines) != 1 or not re.match(r"^! usage: /history \[N\]", lines[0]):
                raise AssertionError("%s: expected the usage line, got %r" % (bad, lines))

        tom = text_client(s, "tom")
        text_join(tom, "lounge", sent)
        check_text_page(text_page(tom, "/back 5"), sent, 66, 70, more, "/back 5")
        check_text_page(text_page(tom, "/history"), sent, 46, 65, more, "/history (20)")
        check_text_page(text_page(tom, "/HISTORY 200"), sent, 1, 45, first, "/HISTORY 200")
        tina.expect_line(r"^\d\d:\d\d \* tom joined #lounge$")
        t.assert_eq(tina.sync() + tom.sync(), [], "lines after the answers")


def test_text_history_refuses_a_negative_count(srv):
    """17.5: /history [N], N a count (1 to 100): '-3' is not one, and
    gets the usage line rather than a page of 100."""
    with tempfile.TemporaryDirectory() as d, Chatd(srv, os.path.join(d, "chatd.db")) as s:
        alice = s.client("alice")
        alice.join("lounge")
        sent = fill([alice], "lounge", 120, text=plain)
        tina = text_client(s, "tina")
        text_join(tina, "lounge", sent)
        lines = text_page(tina, "/history -3")
        if len(lines) != 1 or not re.match(r"^! usage: /history \[N\]", lines[0]):
            raise AssertionError("/history -3: expected the usage line, got %d lines: %r"
                                 % (len(lines), lines[:2] + ["..."] + lines[-1:]))


def test_text_history_starts_over_from_the_newest_after_switching_rooms(srv):
    """17.5: /history goes on from the oldest message shown so far in the
    current room; making another room current (and coming back) starts it
    over from the room's newest message, as the join's replay is no longer
    on the screen above."""
    with tempfile.TemporaryDirectory() as d, Chatd(srv, os.path.join(d, "chatd.db")) as s:
        alice = s.client("alice")
        alice.join("lounge")
        sent = fill([alice], "lounge", 120, text=plain)
        tom = text_client(s, "tom")
        text_join(tom, "lounge", sent)
        more = "* (/history again for more)"
        check_text_page(text_page(tom, "/back 5"), sent, 66, 70, more, "/back 5")
        tom.join("side")
        tom.send_line("/join lounge")
        t.assert_eq(tom.next_line(), "* now talking in #lounge", "/join of a room tom is in")
        check_text_page(text_page(tom, "/back 5"), sent, 116, 120, more,
                        "/back 5 after /join side, /join lounge")
        check_text_page(text_page(tom, "/back 5"), sent, 111, 115, more,
                        "the next /back 5 goes on from there")


# ---------------------------------------------------------------------------
# 5. HTTP


def test_http_pages_back_with_before_and_reads_old_cursors_from_the_store(srv):
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        with Chatd(srv, store) as s:
            alice, bob = s.client("alice"), s.client("bob")
            epoch = alice.join("Web").epoch
            bob.join("web")
            sent = fill([alice, bob], "Web", 300)
            a = api(s)

            def check_body(body, lo, hi, more, before, what):
                t.assert_eq(set(body), {"room", "messages", "epoch", "last_seq", "more", "before"},
                            "%s: keys" % what)
                t.assert_eq((body["room"], body["epoch"], body["last_seq"], body["more"],
                             body["before"]), ("Web", epoch, 300, more, before),
                            "%s: (room, epoch, last_seq, more, before)" % what)
                check_messages(body["messages"], lo, hi, what)

            def check_messages(msgs, lo, hi, what):
                t.assert_eq(span([m.get("seq") for m in msgs]), span(list(range(lo, hi + 1))),
                            "%s: seqs" % what)
                for m, (seq, frm, txt, tm) in zip(msgs, sent[lo - 1:hi]):
                    check_message(m, what, room="Web", frm=frm, text=txt, seq=seq, epoch=epoch)
                    t.assert_eq(m["time"], tm, "%s: time of seq %d" % (what, seq))
                    if seq <= 300 - RING:
                        t.assert_eq(m["id"], 0, "%s: id of seq %d, read from the store"
                                    % (what, seq))

            before, pages = 0, []
            while True:
                body = ok(get_messages(a, "web", before=before, limit=100), 200,
                          "GET ?before=%d&limit=100" % before)
                pages.append(body)
                if not body["more"] or len(pages) > 5:
                    break
                before = body["before"]
            t.assert_eq(len(pages), 3, "pages of 100 back from before=0")
            for body, lo, more in zip(pages, (201, 101, 1), (True, True, False)):
                check_body(body, lo, lo + 99, more, lo, "the page from %d" % lo)
            check_body(ok(get_messages(a, "web", before=1), 200, "GET ?before=1"), 1, 0, False,
                       1, "before the first message")
            check_body(ok(get_messages(a, "web", before=60, limit=9), 200,
                          "GET ?before=60&limit=9"), 51, 59, True, 51, "9 before 60")
            check_body(ok(get_messages(a, "web", before=0, limit=1000), 200,
                          "GET ?before=0&limit=1000"), 201, 300, True, 201, "limit 1000 is 100")
            check_body(ok(get_messages(a, "web", before=5000), 200, "GET ?before=5000"), 201,
                       300, True, 201, "before beyond last_seq")

            for params, what in (({"before": 10, "after": "%d-5" % epoch}, "before and after"),
                                 ({"before": "abc"}, "before=abc"),
                                 ({"before": "-1"}, "before=-1"),
                                 ({"before": ""}, "before= (empty)"),
                                 ({"before": "12x"}, "before=12x"),
                                 ({"before": 10, "limit": 0}, "limit=0")):
                expect_error(get_messages(a, "web", **params), 400, "bad_request",
                             "GET messages %s" % what)

            # A cursor 200 messages back: older than the ring, read from the store.
            body = ok(get_messages(a, "web", after="%d-100" % epoch), 200, "GET ?after=E-100")
            t.assert_eq((body["truncated"], body["epoch_changed"], body["next"]),
                        (False, False, "%d-300" % epoch),
                        "?after=E-100: (truncated, epoch_changed, next)")
            check_messages(body["messages"], 101, 300, "?after=E-100")
            body = ok(get_messages(a, "web", after="%d-100" % epoch, limit=60), 200,
                      "GET ?after=E-100&limit=60")
            t.assert_eq((body["truncated"], body["next"]), (False, "%d-160" % epoch),
                        "?after=E-100&limit=60: (truncated, next)")
            check_messages(body["messages"], 101, 160, "?after=E-100&limit=60")
            body = ok(get_messages(a, "web", after=body["next"], limit=60), 200,
                      "GET ?after=E-160&limit=60")
            check_messages(body["messages"], 161, 220, "?after=E-160&limit=60")

        # After a restart nobody has joined: the room is read back from the store.
        with Chatd(srv, store) as s:
            a = api(s)
            body = ok(get_messages(a, "WEB"), 200, "GET messages after a restart")
            t.assert_eq((body["room"], body["truncated"], body["epoch_changed"], body["next"]),
                        ("Web", False, False, "%d-300" % epoch),
                        "after a restart: (room, truncated, epoch_changed, next)")
            t.assert_eq([(m["seq"], m["from"], m["text"], m["time"]) for m in body["messages"]],
                        sent[-RING:], "after a restart: the last %d messages" % RING)
            body = ok(get_messages(a, "web", before=51, limit=100), 200,
                      "GET ?before=51 after a restart")
            t.assert_eq((body["more"], body["before"], body["last_seq"]), (False, 1, 300),
                        "?before=51 after a restart: (more, before, last_seq)")
            t.assert_eq([(m["seq"], m["text"]) for m in body["messages"]],
                        [(x[0], x[2]) for x in sent[:50]], "?before=51 after a restart")
            body = ok(get_messages(a, "web", after="%d-290" % epoch), 200,
                      "GET ?after=E-290 after a restart")
            t.assert_eq([m["seq"] for m in body["messages"]], list(range(291, 301)),
                        "?after=E-290 after a restart")
            expect_error(get_messages(a, "never-was"), 404, "no_such_room",
                         "GET messages of a room nobody ever made")
            expect_error(get_messages(a, "never-was", before=0), 404, "no_such_room",
                         "GET ?before=0 of a room nobody ever made")


# ---------------------------------------------------------------------------
# 6. chatd.json over WebSocket


def ws_history(w, room, timeout=5.0, **fields):
    """The history op; returns (messages, history_end) or (None, error).
    The answer must be contiguous: messages flagged history of the room,
    then history_end."""
    w.send(dict(type="history", room=room, **fields))
    key = room.lower()
    deadline = time.monotonic() + timeout
    o = w.expect(("message", "history_end", "error"), timeout,
                 pred=lambda o: o.get("request") == "history"
                 or (o["type"] == "history_end" and o["room"].lower() == key)
                 or (o["type"] == "message" and o.get("history") is True
                     and o["room"].lower() == key))
    if o["type"] == "error":
        return None, o
    at = len(w.skipped)
    got = []
    while o["type"] != "history_end":
        if o["type"] != "message" or o.get("history") is not True or o["room"].lower() != key:
            raise t.ProtocolViolation("history %r: expected a history message or history_end, "
                                      "got %r" % (room, o))
        got.append(o)
        while len(w.inbox) <= at:
            if w.eof or time.monotonic() >= deadline:
                raise t.Timeout("history %r answer incomplete: %d messages" % (room, len(got)))
            w._read_some(deadline)
        o = w.inbox.pop(at)
    return got, o


def test_websocket_json_history_pages_like_framed(srv):
    with tempfile.TemporaryDirectory() as d, Chatd(srv, os.path.join(d, "chatd.db")) as s:
        alice = s.client("alice")
        epoch = alice.join("Sock").epoch
        alice.join("other")
        sent = fill([alice], "Sock", 250)
        w = json_user(s, "wendy")
        res = w.join("sock")
        t.assert_eq([m["seq"] for m in res["history"]], list(range(201, 251)), "join replay")

        def check(msgs, end, lo, hi, more, before, what):
            t.assert_eq([(m["seq"], m["from"], m["text"], m["time"]) for m in msgs],
                        sent[lo - 1:hi], "%s: messages (seq, from, text, time)" % what)
            for m in msgs:
                assert_keys(m, MESSAGE_KEYS | {"history"}, "%s: message" % what)
                t.assert_eq((m["type"], m["room"], m["epoch"], m["cursor"], m["history"]),
                            ("message", "Sock", epoch, "%d-%d" % (epoch, m["seq"]), True),
                            "%s: message (type, room, epoch, cursor, history)" % what)
            assert_keys(end, {"type", "room", "epoch", "last_seq", "count", "more", "before"},
                        "%s: history_end" % what)
            t.assert_eq((end["room"], end["epoch"], end["last_seq"], end["count"], end["more"],
                         end["before"]), ("Sock", epoch, 250, hi - lo + 1, more, before),
                        "%s: history_end (room, epoch, last_seq, count, more, before)" % what)

        pages, before = [], None
        while len(pages) < 5:
            fields = {"limit": 100} if before is None else {"before": before, "limit": 100}
            msgs, end = ws_history(w, "SOCK", **fields)
            if msgs is None:
                raise AssertionError("history refused: %r" % end)
            pages.append((msgs, end))
            if not end["more"]:
                break
            before = end["before"]
        t.assert_eq(len(pages), 3, "pages of 100 back to the first message")
        for (msgs, end), (lo, hi, more) in zip(pages, ((151, 250, True), (51, 150, True),
                                                       (1, 50, False))):
            check(msgs, end, lo, hi, more, lo, "the page from %d" % lo)
        check(*ws_history(w, "sock"), 151, 250, True, 151, "no before, no limit")
        check(*ws_history(w, "sock", before=0, limit=500), 151, 250, True, 151, "limit 500")
        check(*ws_history(w, "sock", before=31, limit=10), 21, 30, True, 21, "10 before 31")
        check(*ws_history(w, "sock", before=1), 1, 0, False, 1, "before 1")
        check(*ws_history(w, "sock", before=9999, limit=3), 248, 250, True, 248,
              "before beyond last_seq")

        for room, fields, code in (("other", {}, "not_in_room"), ("nowhere", {}, "not_in_room"),
                                   ("bad room!", {}, "room_invalid"),
                                   ("sock", {"before": "5"}, "bad_request"),
                                   ("sock", {"before": -1}, "bad_request"),
                                   ("sock", {"before": 2.5}, "bad_request"),
                                   ("sock", {"limit": 0}, "bad_request"),
                                   ("sock", {"limit": -4}, "bad_request"),
                                   ("sock", {"limit": "10"}, "bad_request"),
                                   ("sock", {"limit": 1.5}, "bad_request")):
            msgs, err = ws_history(w, room, **fields)
            assert_error(err, code, "history of %r with %r" % (room, fields), "history")
        t.assert_eq(w.sync(), [], "objects after the refusals")


# ---------------------------------------------------------------------------
# 7. Retention


def test_retention_messages_keeps_the_newest_100_of_each_room(srv):
    keep, per_room, per_turn = 100, 250, 5
    rooms = ("r1", "r2", "r3", "r4")
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        with Chatd(srv, store, "--retention-messages", keep) as s:
            alice = s.client("alice")
            epochs = {room: alice.join(room).epoch for room in rooms}
            # Small waited batches: a chunk (one room's messages of one
            # commit) holds at most per_turn messages.
            for start in range(1, per_room + 1, per_turn):
                say_all(alice, [(room, "m%d" % i) for i in range(start, start + per_turn)
                                for room in rooms])
            last = per_room
            over = ("SELECT count(*) FROM chunks c JOIN rooms r ON r.id = c.room "
                    "WHERE c.last <= r.seq - %d" % keep)
            t.wait_until(lambda: db_query(store, over) == [(0,)], 15,
                         what="no chunk left entirely older than the newest %d" % keep)
            kept = stored_seqs(store)
            t.assert_eq(sorted(kept), list(rooms), "rooms with messages in the file")
            for room in rooms:
                seqs = kept[room]
                t.assert_eq(seqs, list(range(seqs[0], last + 1)),
                            "%s: the file's seqs are the newest, without a gap" % room)
                if not keep <= len(seqs) <= keep + per_turn - 1:
                    raise AssertionError("%s keeps %d messages (%s); expected %d to %d"
                                         % (room, len(seqs), span(seqs), keep,
                                            keep + per_turn - 1))
            pruned = sum(last - len(kept[room]) for room in rooms)
            m = metrics(s.port)
            t.assert_eq(m.get("chatd_store_pruned_messages_total"), float(pruned),
                        "chatd_store_pruned_messages_total")
            if not m.get("chatd_store_prune_seconds_max", -1) >= 0:
                raise AssertionError("chatd_store_prune_seconds_max: %r"
                                     % m.get("chatd_store_prune_seconds_max"))

            for room in rooms:
                oldest = kept[room][0]
                answers = page_back(alice, room, 100, "%s: paging back" % room)
                seqs = [m.seq for msgs, _ in reversed(answers) for m in msgs]
                t.assert_eq(span(seqs), "%d..%d" % (oldest, last),
                            "%s: what paging back reads, to the end (no MORE)" % room)
                t.assert_eq(answers[-1][0][0].text if answers[-1][0] else None,
                            "m%d" % oldest, "%s: text of the oldest kept" % room)
            late = s.client("late")
            j = late.join("r2", epoch=epochs["r2"], since=10)
            oldest = kept["r2"][0]
            t.assert_eq((j.end.flags, span(j.seqs)), (t.HIST_TRUNCATED, "%d..%d" % (oldest, last)),
                        "a JOIN with a cursor older than what is kept (flags, replay)")
            j = late.join("r3", epoch=epochs["r3"], since=kept["r3"][0] - 1)
            t.assert_eq((j.end.flags, span(j.seqs)), (0, "%d..%d" % (kept["r3"][0], last)),
                        "a JOIN with a cursor just before the oldest kept (flags, replay)")


def test_retention_days_deletes_the_chunks_older_than_that(srv):
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        with Chatd(srv, store) as s:
            alice = s.client("alice")
            epochs = {room: alice.join(room).epoch for room in ("aged", "young", "gone")}
            sent = {"aged": fill([alice], "aged", 120, batch=10),
                    "young": fill([alice], "young", 20, batch=10),
                    "gone": fill([alice], "gone", 30, batch=10)}
        # Ten days older: aged's chunks up to seq 60 (batches of 10, so a
        # chunk never spans seq 60 and 61) and all of gone's.
        db = open_db(store)
        try:
            db.execute("UPDATE chunks SET time = time - 10 * %d WHERE room = (SELECT id FROM "
                       "rooms WHERE name = 'aged') AND last <= 60" % DAY_MS)
            db.execute("UPDATE chunks SET time = time - 10 * %d WHERE room = (SELECT id FROM "
                       "rooms WHERE name = 'gone')" % DAY_MS)
            t.assert_eq(db.execute("SELECT count(*) FROM chunks WHERE time < ?",
                                   (int(time.time() * 1000) - 5 * DAY_MS,)).fetchone()[0] > 0,
                        True, "chunks aged in the file")
        finally:
            db.close()

        with Chatd(srv, store, "--retention-days", 5) as s:
            old = "SELECT count(*) FROM chunks WHERE time < %d" % (time.time() * 1000 - 5 * DAY_MS)
            t.wait_until(lambda: db_query(store, old) == [(0,)], 15,
                         what="no chunk older than 5 days")
            kept = stored_seqs(store)
            t.assert_eq({room: span(seqs) for room, seqs in kept.items()},
                        {"aged": "61..120", "young": "1..20"}, "what the file keeps")
            t.assert_eq(metrics(s.port).get("chatd_store_pruned_messages_total"), 90.0,
                        "chatd_store_pruned_messages_total")

            bob = s.client("bob")
            j = bob.join("aged")
            t.assert_eq((j.epoch, j.last_seq, [facts(m) for m in j.history]),
                        (epochs["aged"], 120, sent["aged"][-RING:]), "JOIN aged after the prune")
            msgs, end = page(bob, "aged", 71, 100, "aged: before the replay")
            check_page(msgs, end, sent["aged"][60:70], False, "aged", epochs["aged"], 120,
                       "aged: HISTORY before the replay")
            msgs, end = page(bob, "aged", 0, 100, "aged: from the newest")
            check_page(msgs, end, sent["aged"][60:], False, "aged", epochs["aged"], 120,
                       "aged: HISTORY from the newest")
            j = bob.join("young")
            msgs, end = page(bob, "young", 0, 100, "young")
            check_page(msgs, end, sent["young"], False, "young", epochs["young"], 20,
                       "young: HISTORY from the newest")
            # A room whose every message went keeps its epoch and sequence.
            j = bob.join("gone")
            t.assert_eq((j.epoch, j.last_seq, j.seqs, j.flags), (epochs["gone"], 30, [], 0),
                        "JOIN of a room all of whose messages were deleted")
            msgs, end = page(bob, "gone", 0, 100, "gone")
            check_page(msgs, end, [], False, "gone", epochs["gone"], 30, "gone: HISTORY")
            t.assert_eq(t.assert_ack(bob.say("gone", "back again"), "SAY in gone").seq, 31,
                        "seq of the next message in gone")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
