#!/usr/bin/env python3
"""chatd.json over WebSocket, against its contract: docs/websocket.md
(sections 1, 4, 5 and 6), the JSON shapes of http.md section 4 and the
model of protocol.md (rooms, epochs, seq, cursors, history, limits, flood
control, slow consumers, drops and their reasons).

- hello and welcome: every documented limit as chatd was started with;
  nicks unique across front ends (nick_taken); requests before hello
  (not_registered, carrying a ref only when the request has a valid
  one); ping echoing any JSON data;
- join: joined, the history flagged "history" in order, history_end;
  cursors resuming exactly, stale ones (another epoch, older than the
  ring, beyond the room) and malformed ones (bad_request);
- say and msg: acks, the same seq for every front end (framed, telnet,
  WebSocket JSON), no copy to the sender, direct messages both ways;
- presence from other front ends: join, part, quit, nick, drop with the
  reason words of websocket.md 4 (closed, reset, ping timeout, slow
  consumer, protocol error, timeout);
- rooms, users and who listings, in pages of 64 with "last";
- errors that keep the socket: exactly {type, code, message} plus
  request and ref when there is one, code the documented word (bad_json,
  bad_request, unknown_type, not_registered, handshake_timeout, and the
  HTTP API's words of http.md 11 for the core's refusals);
- faults that close it, each with a close frame as the last frame:
  RFC 6455 violations 1002, invalid UTF-8 1007, binary 1003, a message
  over max_message or in more than 256 fragments 1009 (at most 256 are
  taken however TCP splits them), quit 1000, shutdown 1001, the client's
  close echoed with its code, no hello in time 1008, ping timeout;
- control frames between fragments answered as they come;
- text round trips (HTML, every Unicode plane), NUL refused (text_invalid,
  nick_invalid, room_invalid), a NUL inside a type is unknown_type;
- flood control delays and never drops; a slow JSON reader is dropped
  as a slow consumer.

Run as

    python3 test_websocket_json.py --chatd build/chatd [-k NAME]
"""

import http.client
import json
import re
import signal
import struct
import sys
import time

import chatdtest as t
from chatdtest import ACK, BYE, ERROR, MESSAGE, PRESENCE
from textclient import CLOCK, chat_re, text_client
from wsclient import BINARY, CLOSE, CONT, PING, PONG, TEXT, WsJson, frame

# Text clients log in after a short window.
SERVER_ARGS = ("--detect-window", "0.2")

LIMIT_KEYS = {"max_text", "max_nick", "max_room", "max_rooms", "history_len", "max_message",
              "flood_rate", "flood_burst", "max_queue", "ping_interval_ms", "ping_timeout_ms"}
MESSAGE_KEYS = {"id", "type", "room", "epoch", "seq", "cursor", "time", "from", "text"}
DIRECT_KEYS = {"id", "type", "time", "from", "text"}
PRESENCE_KEYS = {"id", "type", "nick", "room", "time"}
# An error always has these; request and ref only when there is one.
ERROR_KEYS = {"type", "code", "message"}
# websocket.md 4: an error's code is a word, the HTTP API's for the core's
# refusals (http.md 11) or one of the socket's own.
CORE_CODES = {"already_registered", "nick_invalid", "nick_taken", "room_invalid",
              "text_invalid", "text_too_long", "not_in_room", "already_in_room",
              "no_such_room", "no_such_user", "too_many_rooms", "room_full", "room_limit",
              "server_full"}
SOCKET_CODES = {"bad_json", "bad_request", "unknown_type", "not_registered",
                "handshake_timeout"}
# A drop's reason word (websocket.md 4) as the other front ends give it:
# the framed PRESENCE reason and the telnet drop line's words.
DROP_REASONS = {"closed": (t.R_CLOSED, "connection closed"),
                "reset": (t.R_RESET, "connection reset"),
                "ping timeout": (t.R_PING_TIMEOUT, "ping timeout"),
                "slow consumer": (t.R_SLOW_CONSUMER, "slow consumer"),
                "protocol error": (t.R_PROTOCOL_ERROR, "protocol error"),
                "timeout": (8, "timeout")}
# A close reason that must be a few words, whichever.
WORDS = object()


# ---------------------------------------------------------------------------
# Helpers


def json_user(srv, nick=None, **kw):
    """A chatd.json WebSocket client of srv (closed when the server context
    ends); with nick it is registered (welcome asserted)."""
    c = WsJson(srv.port, nick, label=kw.pop("label", nick), **kw)
    srv.clients.append(c)
    return c


def assert_keys(o, keys, what):
    """o has exactly these keys."""
    if set(o) != set(keys):
        raise AssertionError("%s: keys %s, expected %s (%r)"
                             % (what, sorted(o), sorted(keys), o))


def assert_error(o, code, what, request, ref=None):
    """o is an error object of websocket.md 4: {type: "error", code,
    message}, code the word given, message some words, then request (the
    type it answers; None: there is none, so no field) and ref (None: no
    field), nothing else."""
    if code not in CORE_CODES | SOCKET_CODES:
        raise AssertionError("%s: the test expects an undocumented code %r" % (what, code))
    if not isinstance(o, dict) or o.get("type") != "error" or o.get("code") != code:
        raise AssertionError("%s: expected error %s, got %r" % (what, code, o))
    keys = set(ERROR_KEYS)
    if request is not None:
        keys.add("request")
    if ref is not None:
        keys.add("ref")
    assert_keys(o, keys, "%s: error" % what)
    if not isinstance(o["message"], str) or not o["message"].strip():
        raise AssertionError("%s: error without a message: %r" % (what, o))
    if request is not None:
        t.assert_eq(o["request"], request, "%s: error's request" % what)
    if ref is not None:
        t.assert_eq((type(o["ref"]), o["ref"]), (int, ref), "%s: error's ref" % what)
    return o


def expect_error(w, code, what, request, ref=None):
    """The next object w receives is an error of code (assert_error)."""
    return assert_error(w.recv(3), code, what, request, ref)


def assert_ack(o, what, ref=None):
    """o is an ack, carrying ref when one is given."""
    if o is None or o.get("type") != "ack":
        raise AssertionError("%s: expected ack, got %r" % (what, o))
    if ref is not None:
        t.assert_eq(o.get("ref"), ref, "%s: ack's ref" % what)
    return o


def close_of(payload):
    """(code, reason) of a close frame's payload; (None, "") when empty."""
    if len(payload) == 0:
        return None, ""
    if len(payload) < 2:
        raise AssertionError("close frame with a 1-byte payload: %r" % payload)
    return struct.unpack(">H", payload[:2])[0], payload[2:].decode("utf-8")


def assert_closed_with(w, code, what, reason=None):
    """w's connection ends with a close frame of code (None: an empty
    close) as its one and last frame; the close reason is reason (a
    string), some words (WORDS) or not checked (None).  Returns (the
    objects before it, the close reason)."""
    objs = w.expect_closed(timeout=3)
    closes = [(i, p) for i, (_, op, p) in enumerate(w.ws_frames) if op == CLOSE]
    if not closes:
        raise AssertionError("%s: the connection ended without a close frame; last frames %r"
                             % (what, [(op, p[:40]) for _, op, p in w.ws_frames[-3:]]))
    i, payload = closes[-1]
    if i != len(w.ws_frames) - 1 or len(closes) != 1:
        raise AssertionError("%s: the close frame is not the one last frame: %r"
                             % (what, [(op, p[:40]) for _, op, p in w.ws_frames[-4:]]))
    got, why = close_of(payload)
    t.assert_eq(got, code, "%s: close code (reason %r)" % (what, why))
    if reason is WORDS:
        if not why.strip():
            raise AssertionError("%s: close %d without a reason" % (what, code))
    elif reason is not None:
        t.assert_eq(why, reason, "%s: close reason" % what)
    return objs, why


class Watchers:
    """Members of a room on each front end, watching it: obs (framed over
    TCP), tina (telnet) and jo (chatd.json, unless with_json is false)."""

    def __init__(self, srv, room="r", with_json=True):
        self.srv = srv
        self.room = room
        self.obs = srv.client("obs")
        self.obs.join(room)
        self.tina = text_client(srv, "tina")
        self.tina.join(room)
        self.obs.expect(PRESENCE, kind=t.P_JOIN, nick="tina")
        self.jo = None
        if with_json:
            self.jo = json_user(srv, "jo")
            self.jo.join(room)
            self.saw_join("jo")

    def saw_join(self, nick):
        """Every watcher sees nick join."""
        self.obs.expect(PRESENCE, kind=t.P_JOIN, nick=nick, room=self.room)
        self.tina.expect_line(r"^%s \* %s joined #%s$"
                              % (CLOCK, re.escape(nick), re.escape(self.room)))
        if self.jo is not None and nick != "jo":
            self.jo.expect("join", nick=nick, room=self.room)

    def member(self, nick, **kw):
        """A JSON user in the room whose join every watcher has seen."""
        w = json_user(self.srv, nick, **kw)
        j = w.join(self.room)
        if "error" in j:
            raise AssertionError("%s: join %s refused: %r" % (nick, self.room, j))
        self.saw_join(nick)
        return w

    def dropped(self, nick, reason, what):
        """Every watcher sees nick dropped from the room with reason (the
        word of websocket.md 4)."""
        framed_reason, text_reason = DROP_REASONS[reason]
        p = self.obs.expect(PRESENCE, nick=nick, pred=lambda f: f.kind != t.P_JOIN, timeout=3)
        t.assert_eq((p.kind, p.reason, p.room), (t.P_DROP, framed_reason, self.room),
                    "%s: PRESENCE seen by a framed member (kind, reason, room)" % what)
        self.tina.expect_line(r"^%s \* %s dropped from #%s: %s$"
                              % (CLOCK, re.escape(nick), re.escape(self.room),
                                 re.escape(text_reason)), timeout=3)
        if self.jo is not None:
            o = self.jo.expect(("part", "quit", "drop"), nick=nick, timeout=3)
            assert_keys(o, PRESENCE_KEYS | {"reason"}, "%s: drop seen by a JSON member" % what)
            t.assert_eq((o["type"], o["room"], o["reason"]), ("drop", self.room, reason),
                        "%s: drop seen by a JSON member (type, room, reason)" % what)


def ping_of_size(n, data_char="x"):
    """A ping request of exactly n bytes of JSON."""
    base = len(json.dumps({"type": "ping", "data": ""}).encode())
    body = json.dumps({"type": "ping", "data": data_char * (n - base)}).encode()
    assert len(body) == n, (len(body), n)
    return body


def fragments(data, sizes, opcode=TEXT):
    """data as one message in fragments of the given sizes (the last takes
    the rest): the frames' bytes."""
    parts, at = [], 0
    for s in sizes:
        parts.append(data[at:at + s])
        at += s
    parts.append(data[at:])
    return b"".join(frame(opcode if i == 0 else CONT, p, fin=(i == len(parts) - 1))
                    for i, p in enumerate(parts))


def fragment_frames(data, n, opcode=TEXT, last_fin=True):
    """data as one message in n fragments of near-equal sizes: the list of
    the frames' bytes (the last one not final unless last_fin)."""
    cuts = [len(data) * i // n for i in range(n + 1)]
    return [frame(opcode if i == 0 else CONT, data[cuts[i]:cuts[i + 1]],
                  fin=last_fin and i == n - 1) for i in range(n)]


def ws_barrier(w, data):
    """A WebSocket ping and its pong: chatd has read every byte before it."""
    at = len(w.ws_frames)
    w.send_ws(frame(PING, data))
    w.expect_frame(PONG, data, since=at, timeout=3)


# ---------------------------------------------------------------------------
# 1. hello, welcome, ping


@t.server_args("--max-text", "1000", "--history", "20", "--max-rooms", "7", "--flood-rate", "40",
               "--flood-burst", "80", "--max-queue", "200000", "--ping-interval", "12",
               "--ping-timeout", "7.5", "--server-name", "chat.example")
def test_welcome_carries_every_documented_limit_as_configured(srv):
    """The 101 names chatd.json; hello is answered welcome {nick, server,
    limits} and limits holds exactly the fields of websocket.md 4, each
    the value chatd was started with (max_message = 6 x max-text + 1024),
    and the same as a framed client's WELCOME says."""
    w = json_user(srv)
    t.assert_eq(w.protocol, "chatd.json", "Sec-WebSocket-Protocol of the 101")
    o = w.hello("Ann")
    assert_keys(o, {"type", "nick", "server", "limits"}, "welcome")
    t.assert_eq((o["nick"], o["server"]), ("Ann", "chat.example"), "welcome nick and server")
    lim = o["limits"]
    assert_keys(lim, LIMIT_KEYS, "welcome.limits")
    want = {"max_text": 1000, "max_nick": 32, "max_room": 64, "max_rooms": 7,
            "history_len": 20, "max_message": 6 * 1000 + 1024, "flood_rate": 40,
            "flood_burst": 80, "max_queue": 200000, "ping_interval_ms": 12000,
            "ping_timeout_ms": 7500}
    t.assert_eq(lim, want, "welcome.limits")
    f = srv.client("bob").welcome
    for k in LIMIT_KEYS - {"max_message"}:
        t.assert_eq(lim[k], f[k], "welcome.limits.%s against the framed WELCOME" % k)
    t.assert_eq(f.server, o["server"], "server name in both welcomes")


def test_defaults_in_welcome_match_the_example_exchange(srv):
    """Without options, welcome.limits are the defaults that the example
    of websocket.md 6 shows."""
    o = json_user(srv, "ann").welcome
    t.assert_eq(o, {"type": "welcome", "nick": "ann", "server": "chatd",
                    "limits": {"max_text": 4096, "max_nick": 32, "max_room": 64,
                               "max_rooms": 64, "history_len": 50, "max_message": 25600,
                               "flood_rate": 50, "flood_burst": 100, "max_queue": 1048576,
                               "ping_interval_ms": 30000, "ping_timeout_ms": 30000}},
                "welcome with default options")


def test_nicks_are_unique_across_front_ends(srv):
    """A nick held by a framed or a telnet user (in any case) is refused
    to hello with error nick_taken and request "hello", no ref; the
    socket goes on and may say hello again; an invalid nick is
    nick_invalid and a second hello already_registered.  A nick a JSON
    user holds is refused to the others in turn."""
    srv.client("alice")
    text_client(srv, "tina")
    w = json_user(srv)
    for nick in ("alice", "ALICE", "tina", "Tina"):
        assert_error(w.hello(nick), "nick_taken", "hello %r" % nick, request="hello")
    assert_error(w.hello("1bad"), "nick_invalid", "hello 1bad", request="hello")
    assert_error(w.hello(""), "nick_invalid", "hello with an empty nick", request="hello")
    t.assert_eq(w.hello("wes")["type"], "welcome", "hello wes after the refusals")
    assert_error(w.hello("wes2"), "already_registered", "second hello", request="hello")
    t.assert_error(srv.client().hello("WES"), t.E_NICK_TAKEN, "framed HELLO WES")
    txt = text_client(srv)
    txt.read_until("Your name: ")
    txt.send_line("wes")
    txt.expect_line(r"taken")
    o = json_user(srv).hello("Wes")
    assert_error(o, "nick_taken", "JSON hello Wes", request="hello")


def test_requests_before_hello_are_not_registered_but_ping_and_quit_are_taken(srv):
    """Before hello every request but hello, ping and quit is answered
    error not_registered naming it in request, and the socket goes on:
    ping is answered, hello then works, and quit before hello is bye then
    close 1000."""
    w = json_user(srv)
    reqs = [({"type": "join", "room": "r"}, None), ({"type": "part", "room": "r"}, None),
            ({"type": "say", "room": "r", "text": "x", "ref": 3}, 3),
            ({"type": "msg", "nick": "bob", "text": "x", "ref": 4}, 4),
            ({"type": "say", "room": "r", "text": "x"}, None),
            ({"type": "nick", "nick": "zed"}, None), ({"type": "rooms"}, None),
            ({"type": "users"}, None), ({"type": "who", "room": "r"}, None)]
    for r, ref in reqs:
        w.send(r)
        expect_error(w, "not_registered", "%r before hello" % r, request=r["type"], ref=ref)
    w.send(type_="ping", data="still here")
    t.assert_eq(w.recv(3), {"type": "pong", "data": "still here"}, "ping before hello")
    t.assert_eq(w.hello("wes")["type"], "welcome", "hello after the refusals")
    t.assert_eq(w.join("r")["end"]["count"], 0, "join after hello")
    q = json_user(srv)
    q.send(type_="quit")
    objs, _ = assert_closed_with(q, 1000, "quit before hello", reason="quit")
    t.assert_eq(objs, [{"type": "bye", "reason": "quit"}], "objects before the close")


def test_not_registered_carries_the_ref_only_when_it_is_a_valid_one(srv):
    """A say or msg before hello is not_registered carrying the request's
    ref when it is an integer 0..4294967295 (0 and 4294967295 included),
    and without a ref field when it is anything else: out of range, a
    fraction, a string, a boolean, null, a list, an object."""
    w = json_user(srv)
    for typ, fields in (("say", {"room": "r", "text": "x"}), ("msg", {"nick": "bob", "text": "x"})):
        for ref in (0, 1, 4294967295):
            w.send(dict(fields, type=typ, ref=ref))
            expect_error(w, "not_registered", "%s with ref %r" % (typ, ref), request=typ, ref=ref)
        for ref in (-1, 4294967296, 1 << 53, 1.5, "7", True, False, None, [1], {"r": 1}):
            w.send(dict(fields, type=typ, ref=ref))
            expect_error(w, "not_registered", "%s with ref %r" % (typ, ref), request=typ)
    t.assert_eq(w.sync(), [], "objects besides the errors")


def test_ping_echoes_its_data_whatever_json_it_is(srv):
    """ping is answered pong carrying data as sent: an object, a string,
    numbers, an array, true, null, nested and non-ASCII values; a ping
    without data gets a pong without data."""
    w = json_user(srv, "wes")
    datas = [{"a": 1, "b": [1, 2, {"c": None}]}, "hello", "", 42, -7, 3.5, 0,
             [1, "two", 3.0], True, False, None, {"é": "日本語 \U0001F600"}, 4294967296]
    for d in datas:
        w.send(type_="ping", data=d)
        o = w.recv(3)
        t.assert_eq(o, {"type": "pong", "data": d}, "pong to data %r" % (d,))
    w.send(type_="ping")
    t.assert_eq(w.recv(3), {"type": "pong"}, "pong to a ping without data")


# ---------------------------------------------------------------------------
# 2. join, history, cursors


@t.server_args("--history", "20")
def test_join_answers_joined_history_in_order_then_history_end(srv):
    """After 25 messages in a room with a ring of 20, join answers joined
    (room as its creator spelled it, epoch, last_seq, cursor, members,
    names in join order, partial), the last 20 messages flagged history
    oldest first with contiguous seq, then history_end (count 20, not
    truncated, no epoch change); the next message follows live, without
    "history"."""
    bob = srv.client("bob")
    bob.join("Lobby")
    acks = [t.assert_ack(bob.say("Lobby", "m%d" % i), "bob's SAY") for i in range(1, 26)]
    epoch = bob.join("other").joined.epoch  # a second room: a different epoch
    w = json_user(srv, "ann")
    res = w.join("lobby")
    j, hist, end = res["joined"], res["history"], res["end"]
    assert_keys(j, {"type", "room", "epoch", "last_seq", "cursor", "members", "names",
                    "partial", "topic"}, "joined")
    room_epoch = j["epoch"]
    if room_epoch == epoch or not room_epoch:
        raise AssertionError("joined epoch %r (other room's %r)" % (room_epoch, epoch))
    t.assert_eq((j["room"], j["last_seq"], j["cursor"], j["members"], j["names"],
                 j["partial"]),
                ("Lobby", 25, "%d-25" % room_epoch, 2, ["bob", "ann"], False), "joined")
    t.assert_eq([m["seq"] for m in hist], list(range(6, 26)), "history seqs")
    for m, a in zip(hist, acks[5:]):
        assert_keys(m, MESSAGE_KEYS | {"history"}, "history message")
        t.assert_eq((m["type"], m["room"], m["epoch"], m["cursor"], m["from"], m["text"],
                     m["time"], m["history"]),
                    ("message", "Lobby", room_epoch, "%d-%d" % (room_epoch, a.seq), "bob",
                     "m%d" % a.seq, a.time_ms, True), "history message %d" % a.seq)
    ids = [m["id"] for m in hist]
    t.assert_eq(ids, sorted(set(ids)), "history ids increase")
    assert_keys(end, {"type", "room", "epoch", "last_seq", "cursor", "count", "truncated",
                      "epoch_changed"}, "history_end")
    t.assert_eq((end["room"], end["epoch"], end["last_seq"], end["cursor"], end["count"],
                 end["truncated"], end["epoch_changed"]),
                ("Lobby", room_epoch, 25, "%d-25" % room_epoch, 20, False, False),
                "history_end")
    a = t.assert_ack(bob.say("Lobby", "live"), "bob's live SAY")
    m = w.expect("message", text="live")
    assert_keys(m, MESSAGE_KEYS, "live message")
    t.assert_eq((m["seq"], m["id"] > ids[-1]), (a.seq, True), "live message after history")
    t.assert_eq(w.skipped, [], "objects between history_end and the live message")


def test_join_of_a_fresh_room_and_the_joiners_own_answers(srv):
    """A fresh room answers joined with last_seq 0 and cursor EPOCH-0, no
    history, history_end count 0; joining again is already_in_room, part
    answers the part event, a part of a room one is not in is not_in_room
    and a join of an invalid name room_invalid."""
    w = json_user(srv, "wes")
    res = w.join("fresh")
    j, end = res["joined"], res["end"]
    t.assert_eq((j["last_seq"], j["cursor"], j["members"], j["names"], res["history"],
                 end["count"], end["truncated"], end["epoch_changed"]),
                (0, "%d-0" % j["epoch"], 1, ["wes"], [], 0, False, False), "fresh room")
    assert_error(w.join("FRESH")["error"], "already_in_room", "join twice", request="join")
    w.send(type_="part", room="fresh")
    p = w.recv(3)
    assert_keys(p, PRESENCE_KEYS, "part event")
    t.assert_eq((p["type"], p["nick"], p["room"]), ("part", "wes", "fresh"), "own part")
    w.send(type_="part", room="fresh")
    expect_error(w, "not_in_room", "part again", request="part")
    assert_error(w.join("bad room!")["error"], "room_invalid", "invalid room", request="join")


@t.server_args("--history", "20")
def test_join_with_a_cursor_resumes_exactly_after_a_reconnect(srv):
    """A JSON client that kept the cursor of the last message it saw (or
    of its own ack) and reconnects gets exactly what it missed, in order
    (history_end count, not truncated), then live traffic with no gap and
    no duplicate; a cursor at the room's last message replays nothing."""
    bob = srv.client("bob")
    bob.join("r")
    w = json_user(srv, "ann")
    w.join("r")
    bob.expect(PRESENCE, kind=t.P_JOIN, nick="ann")
    for i in range(3):
        bob.say("r", "before %d" % i)
    seen = [w.expect("message", text="before %d" % i) for i in range(3)]
    last = seen[-1]["cursor"]
    w.reset_close()
    bob.expect(PRESENCE, kind=t.P_DROP, nick="ann")
    missed = [t.assert_ack(bob.say("r", "missed %d" % i), "SAY") for i in range(5)]
    w = json_user(srv, "ann")
    res = w.join("r", cursor=last)
    t.assert_eq([(m["seq"], m["text"]) for m in res["history"]],
                [(a.seq, "missed %d" % i) for i, a in enumerate(missed)], "replayed")
    t.assert_eq((res["end"]["count"], res["end"]["truncated"], res["end"]["epoch_changed"]),
                (5, False, False), "history_end after a resume")
    a = t.assert_ack(bob.say("r", "live"), "SAY")
    t.assert_eq(w.expect("message", text="live")["seq"], missed[-1].seq + 1, "live seq")
    own = assert_ack(w.say("r", "mine"), "ann's say")
    t.assert_eq(own["seq"], a.seq + 1, "ann's seq")
    # Resume from one's own ack's cursor: only bob's later message.
    w.close()
    bob.expect(PRESENCE, kind=t.P_DROP, nick="ann")
    b = t.assert_ack(bob.say("r", "after ann"), "SAY")
    w = json_user(srv, "ann")
    res = w.join("r", cursor=own["cursor"])
    t.assert_eq([(m["seq"], m["text"]) for m in res["history"]], [(b.seq, "after ann")],
                "replay after the cursor of an ack")
    t.assert_eq(res["end"]["count"], 1, "count")
    # At the last message: nothing to replay, nothing missed.
    w.close()
    bob.expect(PRESENCE, kind=t.P_DROP, nick="ann")
    w = json_user(srv, "ann")
    res = w.join("r", cursor=res["end"]["cursor"])
    t.assert_eq((res["history"], res["end"]["count"], res["end"]["truncated"],
                 res["end"]["epoch_changed"]), ([], 0, False, False), "cursor at the end")


@t.server_args("--history", "20")
def test_stale_cursors_are_truncated_or_epoch_changed_as_protocol_11_5(srv):
    """With 25 messages and a ring of 20 (seq 6..25): a cursor of another
    epoch or beyond last_seq replays the ring with truncated and
    epoch_changed; one older than the ring replays what is left with
    truncated only; one just before the ring replays it all, not
    truncated; a null cursor is no cursor."""
    bob = srv.client("bob")
    bob.join("r")
    for i in range(1, 26):
        bob.say("r", "m%d" % i)
    w = json_user(srv, "ann")
    e = w.join("r")["joined"]["epoch"]
    cases = [("%d-3" % (e + 1), list(range(6, 26)), True, True),
             ("1-3", list(range(6, 26)), True, True),
             ("%d-30" % e, list(range(6, 26)), True, True),
             ("%d-26" % e, list(range(6, 26)), True, True),
             ("%d-2" % e, list(range(6, 26)), True, False),
             ("%d-4" % e, list(range(6, 26)), True, False),
             ("%d-5" % e, list(range(6, 26)), False, False),
             ("%d-20" % e, list(range(21, 26)), False, False),
             ("%d-25" % e, [], False, False),
             ("9007199254740991-1", list(range(6, 26)), True, True),
             ("%d-9007199254740991" % e, list(range(6, 26)), True, True),
             ("0-7", list(range(6, 26)), False, False),
             (None, list(range(6, 26)), False, False)]
    for cur, seqs, trunc, changed in cases:
        w.send(type_="part", room="r")
        w.expect("part", nick="ann")
        w.send({"type": "join", "room": "r", "cursor": cur})
        j = w.expect("joined")
        hist = []
        while True:
            o = w.recv(3)
            if o["type"] == "history_end":
                break
            t.assert_eq((o["type"], o.get("history")), ("message", True),
                        "cursor %r: object in the history" % cur)
            hist.append(o["seq"])
        t.assert_eq((hist, o["count"], o["truncated"], o["epoch_changed"]),
                    (seqs, len(seqs), trunc, changed), "cursor %r: replay and flags" % cur)
        t.assert_eq((j["epoch"], o["epoch"], o["last_seq"]), (e, e, 25),
                    "cursor %r: epoch and last_seq" % cur)


def test_malformed_cursor_is_bad_request_and_nothing_is_joined(srv):
    """A cursor that is not "EPOCH-SEQ" of two decimal integers below
    2^53 with nothing else (text, a lone number, a dash at either end,
    three parts, empty, spaces or a sign around a number, a number of
    2^53 or more, a JSON number, list, object or boolean) is error
    bad_request with request "join" and no ref; the room is not joined,
    and the socket goes on."""
    w = json_user(srv, "wes")
    for cur in ("abc", "", "12", "-5", "5-", "-", "a-b", "1-2-3", "1-x", "x-1", "1_2",
                " 7-1", "7-1 ", "+1-2", "1-+2", "1- 2", "1 -2", "-1", "1-", "--1", "1--2",
                "99999999999999999999999-1", "1-99999999999999999999999",
                "9007199254740992-1", "1-9007199254740992", "18446744073709551617-1",
                "1.0-2", "1e3-2", "0x1-2", "\u0661-2", "1\u0000-2", "1-2\u0000",
                12, 0, ["1-2"], {"e": 1}, True, 1.5):
        w.send({"type": "join", "room": "r", "cursor": cur, "ref": 9})
        expect_error(w, "bad_request", "cursor %r" % (cur,), request="join")
    t.assert_eq(w.sync(), [], "objects besides the errors")
    t.assert_eq(w.listing("rooms")[0]["rooms"], [], "rooms after the refused joins")
    t.assert_eq(w.join("r")["end"]["count"], 0, "join without a cursor afterwards")


# ---------------------------------------------------------------------------
# 3. say and msg


def test_say_is_acked_and_every_front_end_gets_it_with_the_same_seq(srv):
    """ann's say is answered ack {ref, seq, cursor, time}; bob (JSON), obs
    (framed) and tina (telnet) get the message with that seq, time and
    text, and ann gets no copy; framed and telnet messages reach both
    JSON users with the next seqs."""
    room = Watchers(srv, with_json=False)
    obs, tina = room.obs, room.tina
    ann = room.member("ann")
    bob = room.member("bob")
    ann.expect("join", nick="bob")
    a = assert_ack(ann.say("r", "hello all", ref=7), "ann's say", ref=7)
    assert_keys(a, {"type", "ref", "seq", "cursor", "time"}, "ack of a say")
    e = next(o["epoch"] for o in ann.log if o["type"] == "joined")
    t.assert_eq(a["cursor"], "%d-%d" % (e, a["seq"]), "ack cursor")
    m = bob.expect("message", text="hello all")
    assert_keys(m, MESSAGE_KEYS, "message")
    t.assert_eq((m["room"], m["from"], m["seq"], m["cursor"], m["time"], m["epoch"]),
                ("r", "ann", a["seq"], a["cursor"], a["time"], e), "bob's message")
    f = obs.expect(MESSAGE, text="hello all")
    t.assert_eq((f.from_, f.seq, f.time_ms, f.flags), ("ann", a["seq"], a["time"], 0),
                "obs's MESSAGE")
    tina.expect_line(chat_re("r", "ann", "hello all"))
    fa = t.assert_ack(obs.say("r", "from framed"), "obs's SAY")
    tina.send_line("from telnet")
    for w in (ann, bob):
        x = w.expect("message", text="from framed")
        y = w.expect("message", text="from telnet")
        t.assert_eq((x["from"], x["seq"], x["time"], y["from"], y["seq"]),
                    ("obs", fa.seq, fa.time_ms, "tina", fa.seq + 1),
                    "%s: framed and telnet messages" % w.label)
    t.assert_eq(fa.seq, a["seq"] + 1, "seq after ann's")
    b = assert_ack(bob.say("r", "from bob"), "bob's say")
    t.assert_eq(b["seq"], fa.seq + 2, "bob's seq")
    ann.expect("message", text="from bob", seq=b["seq"])
    ann.sync()
    bob.sync()
    for w in (ann, bob):
        own = [o for o in w.log if o["type"] == "message" and o["from"] == w.name]
        t.assert_eq(own, [], "%s: copies of its own messages" % w.label)
    seqs = [o["seq"] for o in bob.log if o["type"] == "message"]
    t.assert_eq(seqs, [a["seq"], fa.seq, fa.seq + 1], "bob's message seqs")
    t.assert_eq(assert_ack(ann.say("r", "later"), "a later say")["seq"], b["seq"] + 1,
                "seq of a later say")
    ann.send(type_="say", room="r", text="without a ref")
    o = ann.recv(3)
    t.assert_eq((o["type"], "ref" in o, o["seq"]), ("ack", False, b["seq"] + 2),
                "ack of a say without ref")


def test_direct_messages_cross_front_ends_both_ways(srv):
    """msg from JSON is ack {ref, time} without seq or cursor; the framed
    recipient gets MESSAGE DIRECT and the telnet one its *ann* line; a
    framed MSG, a telnet /msg and another JSON user's msg reach the JSON
    user as type "direct" {id, from, time, text} with no room fields; a
    msg to oneself gets the direct and the ack; an unknown nick is
    no_such_user carrying the ref."""
    room = Watchers(srv, with_json=False)
    obs, tina = room.obs, room.tina
    ann = json_user(srv, "ann")
    bob = json_user(srv, "bob")
    a = assert_ack(ann.msg("obs", "psst obs", ref=11), "msg to obs", ref=11)
    assert_keys(a, {"type", "ref", "time"}, "ack of a msg")
    f = obs.expect(MESSAGE, text="psst obs")
    t.assert_eq((f.flags, f.from_, f.seq, f.room, f.time_ms),
                (t.MSG_DIRECT, "ann", 0, "", a["time"]), "obs's direct MESSAGE")
    assert_ack(ann.msg("TINA", "psst tina"), "msg to TINA")
    tina.expect_line(r"^%s \*ann\* psst tina$" % CLOCK)
    fa = t.assert_ack(obs.msg("ann", "from framed"), "obs's MSG")
    tina.send_line("/msg ann from telnet")
    assert_ack(bob.msg("Ann", "from json", ref=0), "bob's msg", ref=0)
    for sender, text, at in (("obs", "from framed", fa.time_ms), ("tina", "from telnet", None),
                             ("bob", "from json", None)):
        d = ann.expect("direct", text=text)
        assert_keys(d, DIRECT_KEYS, "direct")
        t.assert_eq(d["from"], sender, "direct from %s" % sender)
        if at is not None:
            t.assert_eq(d["time"], at, "direct time against the sender's ACK")
    ann.send(type_="msg", nick="ann", text="note to self", ref=5)
    got = [ann.recv(3), ann.recv(3)]
    kinds = sorted(o["type"] for o in got)
    t.assert_eq(kinds, ["ack", "direct"], "msg to oneself")
    o = ann.msg("nobody", "x", ref=12)
    assert_error(o, "no_such_user", "msg to nobody", request="msg", ref=12)
    ann.sync()
    t.assert_eq([o for o in bob.drain() if o["type"] == "direct"], [],
                "directs seen by a bystander")


# ---------------------------------------------------------------------------
# 4. presence


def test_presence_of_other_front_ends_reaches_a_json_member(srv):
    """A JSON member sees framed and telnet users join, part, change nick,
    quit and drop, as http.md 4's objects: join/part/quit {id, nick, room,
    time}, nick {id, nick, new_nick, time} without room, drop {id, nick,
    room, time, reason} with reason "reset" (killed, RST), "closed" (FIN
    without quit, or a WebSocket close frame); the JSON member's own nick
    change and part reach the others."""
    ann = json_user(srv, "ann")
    ann.join("r")
    obs = srv.client("obs")
    obs.join("r")
    o = ann.expect("join", nick="obs")
    assert_keys(o, PRESENCE_KEYS, "join event")
    t.assert_eq(o["room"], "r", "join room")
    tina = text_client(srv, "tina")
    tina.join("r")
    ann.expect("join", nick="tina", room="r")
    obs.nick("obs2")
    o = ann.expect("nick")
    assert_keys(o, {"id", "type", "nick", "new_nick", "time"}, "nick event")
    t.assert_eq((o["nick"], o["new_nick"]), ("obs", "obs2"), "nick event")
    obs.part("r")
    o = ann.expect("part")
    t.assert_eq((o["nick"], o["room"]), ("obs2", "r"), "part event")
    obs.join("r")
    ann.expect("join", nick="obs2")
    obs.quit()
    o = ann.expect(("quit", "drop"))
    assert_keys(o, PRESENCE_KEYS, "quit event")
    t.assert_eq((o["type"], o["nick"], o["room"]), ("quit", "obs2", "r"), "framed QUIT")
    tina.send_line("/quit")
    o = ann.expect(("quit", "drop"))
    t.assert_eq((o["type"], o["nick"]), ("quit", "tina"), "telnet /quit")
    killed = srv.client("kil")
    killed.join("r")
    ann.expect("join", nick="kil")
    killed.reset_close()
    o = ann.expect(("quit", "drop"))
    assert_keys(o, PRESENCE_KEYS | {"reason"}, "drop event")
    t.assert_eq((o["type"], o["nick"], o["reason"]), ("drop", "kil", "reset"), "framed RST")
    fin = srv.client("fin")
    fin.join("r")
    ann.expect("join", nick="fin")
    fin.close()
    o = ann.expect(("quit", "drop"))
    t.assert_eq((o["type"], o["nick"], o["reason"]), ("drop", "fin", "closed"), "framed FIN")
    tt = text_client(srv, "tt")
    tt.join("r")
    ann.expect("join", nick="tt")
    tt.reset_close()
    o = ann.expect(("quit", "drop"))
    t.assert_eq((o["type"], o["nick"], o["reason"]), ("drop", "tt", "reset"), "telnet RST")
    tf = text_client(srv, "tf")
    tf.join("r")
    ann.expect("join", nick="tf")
    tf.close()
    o = ann.expect(("quit", "drop"))
    t.assert_eq((o["type"], o["nick"], o["reason"]), ("drop", "tf", "closed"), "telnet FIN")
    for how in ("fin", "close frame", "rst", "quit"):
        w = json_user(srv, "w1")
        w.join("r")
        ann.expect("join", nick="w1")
        if how == "fin":
            w.close()
        elif how == "close frame":
            w.send_ws(frame(CLOSE, struct.pack(">H", 1001)))
        elif how == "rst":
            w.reset_close()
        else:
            w.send(type_="quit")
        o = ann.expect(("quit", "drop"))
        want = {"fin": ("drop", "closed"), "close frame": ("drop", "closed"),
                "rst": ("drop", "reset"), "quit": ("quit", None)}[how]
        t.assert_eq((o["type"], o["nick"], o["room"], o.get("reason")),
                    (want[0], "w1", "r", want[1]), "JSON user leaving by %s" % how)
        assert_keys(o, PRESENCE_KEYS | ({"reason"} if want[1] else set()),
                    "event of a JSON user leaving by %s" % how)
        if how == "close frame":
            assert_closed_with(w, 1001, "echo of the close frame")
        elif how == "quit":
            assert_closed_with(w, 1000, "after quit", reason="quit")
    # The JSON member's own changes reach the others.
    cy = srv.client("cy")
    cy.join("r")
    ann.expect("join", nick="cy")
    ann.send(type_="nick", nick="anna")
    o = ann.expect("nick")
    t.assert_eq((o["nick"], o["new_nick"]), ("ann", "anna"), "own nick event")
    p = cy.expect(PRESENCE, kind=t.P_NICK)
    t.assert_eq((p.nick, p.new_nick), ("ann", "anna"), "cy sees ann's nick change")
    ann.send(type_="part", room="r")
    ann.expect("part", nick="anna")
    cy.expect(PRESENCE, kind=t.P_PART, nick="anna", room="r")


@t.server_args("--http-session-timeout", "1")
def test_an_idle_http_session_is_seen_dropped_with_reason_timeout(srv):
    """A member through the HTTP API (http.md) whose session idles past
    --http-session-timeout is seen by a JSON member as drop {id, nick,
    room, time, reason: "timeout"}."""
    ann = json_user(srv, "ann")
    ann.join("r")
    api = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    srv.clients.append(api)
    api.request("POST", "/api/v1/session", body=json.dumps({"nick": "hal"}),
                headers={"Content-Type": "application/json"})
    r = api.getresponse()
    body = json.loads(r.read())
    t.assert_eq(r.status, 201, "POST /api/v1/session (%r)" % body)
    api.request("POST", "/api/v1/rooms/r/join", body=b"",
                headers={"Authorization": "Bearer %s" % body["token"]})
    r = api.getresponse()
    t.assert_eq(r.status, 200, "POST /api/v1/rooms/r/join (%r)" % r.read())
    api.close()
    ann.expect("join", nick="hal", room="r")
    o = ann.expect(("part", "quit", "drop"), nick="hal", timeout=5)
    assert_keys(o, PRESENCE_KEYS | {"reason"}, "drop of an idle HTTP session")
    t.assert_eq((o["type"], o["room"], o["reason"]), ("drop", "r", "timeout"),
                "drop of an idle HTTP session (type, room, reason)")


# ---------------------------------------------------------------------------
# 5. listings


def test_rooms_users_and_who_list_everyone_in_one_page(srv):
    """rooms lists {name, members} sorted ignoring case, users the nicks
    sorted ignoring case, who the members in join order, each in one
    page with last true; with no rooms, rooms is one empty page; who of
    an unknown room is no_such_room, of an invalid name room_invalid."""
    w = json_user(srv, "wes")
    t.assert_eq(w.listing("rooms"), [{"type": "rooms", "rooms": [], "last": True}], "no rooms")
    obs = srv.client("Obs")
    tina = text_client(srv, "tina")
    w.join("beta")
    obs.join("beta")
    obs.join("Alpha")
    tina.join("beta")
    tina.join("gamma")
    obs.expect(PRESENCE, kind=t.P_JOIN, nick="tina")
    t.assert_eq(w.listing("rooms"),
                [{"type": "rooms", "last": True,
                  "rooms": [{"name": "Alpha", "members": 1}, {"name": "beta", "members": 3},
                            {"name": "gamma", "members": 1}]}], "rooms")
    t.assert_eq(w.listing("users"),
                [{"type": "users", "users": ["Obs", "tina", "wes"], "last": True}], "users")
    t.assert_eq(w.listing({"type": "who", "room": "BETA"}),
                [{"type": "names", "room": "beta", "names": ["wes", "Obs", "tina"],
                  "last": True}], "who beta")
    w.send(type_="who", room="nowhere")
    assert_error(w.expect("error"), "no_such_room", "who nowhere", request="who")
    w.send(type_="who", room="no way")
    assert_error(w.expect("error"), "room_invalid", "who 'no way'", request="who")


@t.server_args("--max-rooms", "0", "--max-conns-per-ip", "0")
def test_listings_of_more_than_64_come_in_pages_with_everyone_once(srv):
    """With 70 rooms, 71 users and a room of 71 members, rooms, users and
    who come in pages of at most 64, only the final one marked last, and
    list everyone exactly once, in order; joined names all 72 members of
    the big room."""
    rooms = ["room%02d" % i for i in range(70)]
    host = srv.client("host")
    for r in rooms:
        host.join(r)
    users = [srv.client("u%02d" % i) for i in range(70)]
    for u in users:
        u.join("big")
    w = json_user(srv, "wes")

    def check(pages, key, what):
        for p in pages:
            if len(p[key]) > 64:
                raise AssertionError("%s: a page of %d entries" % (what, len(p[key])))
        t.assert_eq([p["last"] for p in pages], [False] * (len(pages) - 1) + [True],
                    "%s: last flags" % what)
        if len(pages) < 2:
            raise AssertionError("%s: %d entries in one page" % (what, len(pages[0][key])))
        return [x for p in pages for x in p[key]]

    got = check(w.listing("rooms"), "rooms", "rooms")
    want = [{"name": r, "members": 1} for r in rooms] + [{"name": "big", "members": 70}]
    t.assert_eq(got, sorted(want, key=lambda x: x["name"].lower()), "rooms over pages")
    got = check(w.listing("users"), "users", "users")
    t.assert_eq(got, sorted(["host", "wes"] + ["u%02d" % i for i in range(70)],
                            key=str.lower), "users over pages")
    j = w.join("big")["joined"]
    t.assert_eq((j["members"], j["names"], j["partial"]),
                (71, ["u%02d" % i for i in range(70)] + ["wes"], False), "joined of big")
    got = check(w.listing({"type": "who", "room": "big"}), "names", "who big")
    t.assert_eq(got, ["u%02d" % i for i in range(70)] + ["wes"], "who big over pages")


# ---------------------------------------------------------------------------
# 6. errors that keep the socket open


def test_malformed_messages_are_bad_json_or_unknown_type_and_the_socket_goes_on(srv):
    """A text message that is not JSON, JSON that is not an object, an
    object without a string type is bad_json without request; an unknown
    type is unknown_type naming it, a type compared whole (case, a NUL
    inside); a missing or non-string field is bad_json naming the request;
    a ref that is not an integer 0..4294967295 is bad_request naming it.
    None carries a ref; after each the socket answers a ping and nothing
    else came, and at the end a say is delivered."""
    obs = srv.client("obs")
    obs.join("r")
    w = json_user(srv, "wes")
    w.join("r")
    cases = [
        (b"hello", "bad_json", None), (b"{", "bad_json", None),
        (b'{"type": "ping"', "bad_json", None), (b'{"type":"ping"} trailing', "bad_json", None),
        (b"", "bad_json", None), (b"   ", "bad_json", None), (b"[1, 2]", "bad_json", None),
        (b'["ping"]', "bad_json", None), (b'"ping"', "bad_json", None),
        (b"42", "bad_json", None), (b"null", "bad_json", None), (b"{}", "bad_json", None),
        (b'{"room": "r"}', "bad_json", None), (b'{"type": 5}', "bad_json", None),
        (b'{"type": null}', "bad_json", None), (b'{"type": ["ping"]}', "bad_json", None),
        (b'{"type": {"ping": 1}}', "bad_json", None),
        (b'{"type": "shout", "room": "r"}', "unknown_type", "shout"),
        (b'{"type": ""}', "unknown_type", ""), (b'{"type": "PING"}', "unknown_type", "PING"),
        (b'{"type": "ping "}', "unknown_type", "ping "),
        (b'{"type": "join"}', "bad_json", "join"),
        (b'{"type": "join", "room": 5}', "bad_json", "join"),
        (b'{"type": "join", "room": null, "ref": 1}', "bad_json", "join"),
        (b'{"type": "part"}', "bad_json", "part"),
        (b'{"type": "say", "room": "r"}', "bad_json", "say"),
        (b'{"type": "say", "text": "x", "ref": 1}', "bad_json", "say"),
        (b'{"type": "say", "room": "r", "text": 5}', "bad_json", "say"),
        (b'{"type": "msg", "text": "x"}', "bad_json", "msg"),
        (b'{"type": "msg", "nick": ["obs"], "text": "x", "ref": 2}', "bad_json", "msg"),
        (b'{"type": "nick"}', "bad_json", "nick"), (b'{"type": "who"}', "bad_json", "who"),
        (b'{"type": "hello"}', "bad_json", "hello"),
    ]
    for ref in (-1, 4294967296, 1 << 53, 1.5, "7", True, None, [1], {"r": 1}):
        cases.append((json.dumps({"type": "say", "room": "r", "text": "x", "ref": ref}).encode(),
                      "bad_request", "say"))
        cases.append((json.dumps({"type": "msg", "nick": "obs", "text": "x",
                                  "ref": ref}).encode(), "bad_request", "msg"))
    for data, code, request in cases:
        w.send_text(data)
        expect_error(w, code, "message %r" % data, request=request)
        t.assert_eq(w.sync(), [], "message %r: objects besides the error" % data)
    # A NUL inside a type makes it unknown: never the type before the NUL.
    for typ in ("ping\u0000zzz", "quit\u0000", "say\u0000", "hello\u0000x"):
        w.send({"type": typ, "room": "r", "text": "nul type", "nick": "zed", "ref": 3})
        o = w.recv(3)
        request = o.get("request") if isinstance(o, dict) else None
        if request is not None:
            t.assert_eq(request, typ, "type %r: the error's request" % typ)
        assert_error(o, "unknown_type", "type %r" % typ, request=request)
        t.assert_eq(w.sync(), [], "type %r: objects besides the error" % typ)
    obs.sync()
    if obs.received(MESSAGE):
        raise AssertionError("a refused message was delivered: %r" % obs.received(MESSAGE))
    assert_ack(w.say("r", "still here", ref=4294967295), "say after the errors", ref=4294967295)
    obs.expect(MESSAGE, text="still here", from_="wes")
    t.assert_eq(w.eof, None, "connection after the errors")


@t.server_args("--max-text", "1000", "--max-rooms", "2")
def test_refused_requests_are_answered_with_their_code_and_ref(srv):
    """Refusals by the core keep the socket and carry the request's type
    and (say, msg) ref, with the HTTP API's words (http.md 11):
    room_invalid, not_in_room, text_too_long (over max-text bytes),
    text_invalid (empty), already_in_room, too_many_rooms, nick_taken,
    nick_invalid, no_such_user; a text of exactly max-text is taken."""
    srv.client("obs")
    w = json_user(srv, "wes")
    w.join("r")
    checks = [
        ({"type": "say", "room": "bad room", "text": "x", "ref": 1}, "room_invalid", 1),
        ({"type": "say", "room": "elsewhere", "text": "x", "ref": 2}, "not_in_room", 2),
        ({"type": "say", "room": "r", "text": "x" * 1001, "ref": 3}, "text_too_long", 3),
        ({"type": "say", "room": "r", "text": "é" * 501, "ref": 4}, "text_too_long", 4),
        ({"type": "say", "room": "r", "text": "", "ref": 5}, "text_invalid", 5),
        ({"type": "say", "room": "r", "text": "", "ref": 0}, "text_invalid", 0),
        ({"type": "msg", "nick": "obs", "text": "", "ref": 6}, "text_invalid", 6),
        ({"type": "msg", "nick": "obs", "text": "y" * 1001, "ref": 7}, "text_too_long", 7),
        ({"type": "msg", "nick": "nobody", "text": "x", "ref": 8}, "no_such_user", 8),
        ({"type": "msg", "nick": "nobody", "text": "x"}, "no_such_user", None),
        ({"type": "join", "room": "R"}, "already_in_room", None),
        ({"type": "join", "room": "x" * 65}, "room_invalid", None),
        ({"type": "nick", "nick": "obs"}, "nick_taken", None),
        ({"type": "nick", "nick": "9lives"}, "nick_invalid", None),
        ({"type": "nick", "nick": "n" * 33}, "nick_invalid", None),
        ({"type": "part", "room": "elsewhere"}, "not_in_room", None),
    ]
    for req, code, ref in checks:
        w.send(req)
        expect_error(w, code, "%r" % req, request=req["type"], ref=ref)
    t.assert_eq(w.join("s")["end"]["count"], 0, "join of a second room")
    assert_error(w.join("t")["error"], "too_many_rooms", "join of a third room", request="join")
    assert_ack(w.say("r", "x" * 1000, ref=9), "say of max-text bytes", ref=9)
    assert_ack(w.say("r", "é" * 500, ref=10), "say of max-text bytes of 2-byte chars", ref=10)


# ---------------------------------------------------------------------------
# 7. faults that close the socket


def test_invalid_utf8_in_a_text_message_closes_1007(srv):
    """A text message that is not UTF-8 (a stray byte, an overlong form, a
    surrogate, beyond U+10FFFF, cut short) closes with 1007 and a reason
    as the last frame; a say in the same write before it is still acked
    and delivered; the room sees a drop for protocol error."""
    room = Watchers(srv)
    bad = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]
    for i, b in enumerate(bad):
        nick = "bad%d" % i
        w = room.member(nick)
        say = json.dumps({"type": "say", "room": "r", "text": "before %d" % i, "ref": 1})
        w.send_ws(frame(TEXT, say.encode())
                  + frame(TEXT, b'{"type":"say","room":"r","text":"' + b + b'","ref":2}'))
        objs, _ = assert_closed_with(w, 1007, "invalid UTF-8 %r" % b, reason=WORDS)
        t.assert_eq([(o["type"], o.get("ref")) for o in objs], [("ack", 1)],
                    "%r: objects before the close" % b)
        room.obs.expect(MESSAGE, text="before %d" % i)
        room.dropped(nick, "protocol error", "invalid UTF-8 %r" % b)


def test_utf8_split_across_fragments_is_valid(srv):
    """UTF-8 is checked over the whole message: a character cut between two
    fragments is fine, and arrives whole."""
    w = json_user(srv, "wes")
    body = json.dumps({"type": "ping", "data": "é€\U0001F600"}, ensure_ascii=False).encode()
    cut = body.index("€".encode()) + 1
    w.send_ws(fragments(body, [cut, 2]))
    t.assert_eq(w.recv(3), {"type": "pong", "data": "é€\U0001F600"}, "pong")


def test_binary_message_closes_1003(srv):
    """chatd.json is text: a binary message (whole, fragmented, or even
    holding valid JSON) closes with 1003 and a reason; the room sees a
    protocol error drop."""
    room = Watchers(srv)
    for i, data in enumerate([frame(BINARY, b'{"type":"ping"}'),
                              fragments(b'{"type":"ping"}', [4], opcode=BINARY),
                              frame(BINARY, b"")]):
        nick = "bin%d" % i
        w = room.member(nick)
        w.send_ws(data)
        objs, _ = assert_closed_with(w, 1003, "binary message %d" % i, reason=WORDS)
        t.assert_eq(objs, [], "objects before the close")
        room.dropped(nick, "protocol error", "binary message %d" % i)


@t.server_args("--max-text", "1000")
def test_message_over_max_message_closes_1009_fragmented_or_not(srv):
    """welcome.limits.max_message (7024 at max-text 1000) is the longest
    text message taken: one of exactly that many bytes is answered,
    whole or in fragments; a longer one closes the socket with 1009 and a
    reason, sent in one frame or in fragments (whole in one write, or
    still open); the room sees a protocol error drop."""
    room = Watchers(srv)
    w = room.member("fits")
    mm = w.welcome["limits"]["max_message"]
    t.assert_eq(mm, 7024, "max_message")
    w.send_ws(frame(TEXT, ping_of_size(mm)))
    t.assert_eq(w.recv(3), {"type": "pong", "data": json.loads(ping_of_size(mm))["data"]},
                "pong to a ping of max_message bytes")
    w.send_ws(fragments(ping_of_size(mm), [3000, 3000]))
    t.assert_eq(w.recv(3)["type"], "pong", "pong to max_message bytes in three fragments")
    cases = [("one frame of max_message + 1", frame(TEXT, ping_of_size(mm + 1))),
             ("one frame of 3 x max_message", frame(TEXT, ping_of_size(3 * mm))),
             ("max_message + 1 in three fragments, whole in one write",
              fragments(ping_of_size(mm + 1), [3000, 3000])),
             ("2 x max_message in three fragments, whole in one write",
              fragments(ping_of_size(2 * mm), [4000, 4000])),
             ("max_message + 1 in 200 fragments, whole in one write",
              b"".join(fragment_frames(ping_of_size(mm + 1), 200))),
             ("three fragments of 3500 bytes, the message still open",
              b"".join(frame(TEXT if i == 0 else CONT, b"x" * 3500, fin=False)
                       for i in range(3))),
             ("a first fragment over max_message", fragments(ping_of_size(2 * mm), [mm + 1])),
             ("an unfinished message in fragments over max_message",
              fragments(ping_of_size(2 * mm), [4000, 4000])[:-100])]
    for i, (what, data) in enumerate(cases):
        nick = "big%d" % i
        w = room.member(nick)
        try:
            w.send_ws(data)
        except t.Closed:
            pass  # chatd closed before it had all of it: fine
        objs, _ = assert_closed_with(w, 1009, what, reason=WORDS)
        t.assert_eq(objs, [], "%s: objects before the close" % what)
        room.dropped(nick, "protocol error", what)


@t.server_args("--max-text", "1000")
def test_frames_breaking_rfc6455_close_1002_and_the_room_sees_a_protocol_error(srv):
    """An unmasked frame, an RSV bit, an unknown opcode, a long or
    fragmented control frame, a continuation with no message open and a
    new message inside an open one are answered with a close 1002 (with
    the reason words websocket.md 5 gives), and one frame over
    max_message with a close 1009, as the last frame before the end; a
    say before the bad frame in the same write is still acked and
    delivered, one after it is not; the room sees a drop for protocol
    error."""
    room = Watchers(srv)
    ping = b'{"type":"ping"}'
    cases = [("unmasked frame", frame(TEXT, ping, mask=False), 1002, "unmasked frame"),
             ("unmasked ping", frame(PING, b"p", mask=False), 1002, "unmasked frame"),
             ("RSV1", frame(TEXT, ping, rsv=4), 1002, "RSV bit set"),
             ("RSV2", frame(TEXT, ping, rsv=2), 1002, "RSV bit set"),
             ("RSV3", frame(TEXT, ping, rsv=1), 1002, "RSV bit set"),
             ("RSV1 on a ping", frame(PING, b"p", rsv=4), 1002, "RSV bit set"),
             ("opcode 0x3", frame(0x3, ping), 1002, "unknown opcode"),
             ("opcode 0x7", frame(0x7, b""), 1002, "unknown opcode"),
             ("opcode 0xB", frame(0xB, b""), 1002, "unknown opcode"),
             ("opcode 0xF", frame(0xF, b"x"), 1002, "unknown opcode"),
             ("ping of 126 bytes", frame(PING, b"p" * 126), 1002, WORDS),
             ("pong of 126 bytes", frame(PONG, b"p" * 126), 1002, WORDS),
             ("close of 126 bytes", frame(CLOSE, struct.pack(">H", 1000) + b"c" * 124), 1002,
              WORDS),
             ("fragmented ping", frame(PING, b"p", fin=False), 1002, WORDS),
             ("fragmented close", frame(CLOSE, struct.pack(">H", 1000), fin=False), 1002,
              WORDS),
             ("continuation first", frame(CONT, ping), 1002, WORDS),
             ("text inside a fragmented message",
              frame(TEXT, ping[:4], fin=False) + frame(TEXT, ping), 1002, WORDS),
             ("binary inside a fragmented message",
              frame(TEXT, ping[:4], fin=False) + frame(BINARY, ping), 1002, WORDS),
             ("one frame over max_message", frame(TEXT, ping_of_size(7025)), 1009, WORDS)]
    for i, (what, data, code, reason) in enumerate(cases):
        nick = "rfc%d" % i
        w = room.member(nick)
        before = json.dumps({"type": "say", "room": "r", "text": "before %d" % i, "ref": 1})
        after = json.dumps({"type": "say", "room": "r", "text": "after %d" % i, "ref": 2})
        w.send_ws(frame(TEXT, before.encode()) + data + frame(TEXT, after.encode()))
        objs, _ = assert_closed_with(w, code, what, reason=reason)
        t.assert_eq([(o["type"], o.get("ref")) for o in objs], [("ack", 1)],
                    "%s: objects before the close" % what)
        room.obs.expect(MESSAGE, text="before %d" % i)
        room.dropped(nick, "protocol error", what)
    room.obs.sync()
    if any(f.text.startswith("after") for f in room.obs.received(MESSAGE)):
        raise AssertionError("a say after a bad frame was acted on")


@t.server_args("--max-text", "1000")
def test_up_to_256_fragments_are_taken_however_tcp_splits_them_and_more_close_1009(srv):
    """A message of max_message bytes in 256 fragments is taken whether it
    comes in one write, a write per fragment each read by chatd before the
    next is sent (a ping between fragments, answered, proves it), every
    fragment cut in two writes inside its header, mask or payload, or a
    byte per write; a say in 256 fragments is acked and delivered.  A
    message in 257 fragments or more closes with 1009 however it comes
    (in one write, a fragment per read, the 257th final or not, the
    message never finished), never before its 257th fragment; the room
    sees a protocol error drop."""
    room = Watchers(srv)
    w = room.member("frag")
    mm = w.welcome["limits"]["max_message"]
    body = ping_of_size(mm)
    data = json.loads(body)["data"]
    frames = fragment_frames(body, 256)
    n = 0

    def pong(how):
        o = w.expect(("pong", "error"), timeout=5)
        t.assert_eq(o, {"type": "pong", "data": data}, "answer to 256 fragments %s" % how)
        t.assert_eq(w.eof, None, "connection after 256 fragments %s" % how)

    w.send_ws(b"".join(frames))
    pong("in one write")
    for i, f in enumerate(frames):
        w.send_ws(f)
        n += 1
        ws_barrier(w, b"f%d" % n)
    pong("a write per fragment, each read before the next")
    for i, f in enumerate(frames):
        cut = 1 + i % (len(f) - 1)  # every offset: header, mask, payload
        w.send_ws(f[:cut])
        time.sleep(0.001)
        w.send_ws(f[cut:])
        n += 1
        ws_barrier(w, b"f%d" % n)
    pong("each cut in two writes")
    for b in b"".join(frames):
        w.send_ws(bytes([b]))
    pong("a byte per write")
    text = "two hundred and fifty-six fragments " * 20
    say = json.dumps({"type": "say", "room": "r", "text": text, "ref": 256}).encode()
    w.send_ws(b"".join(fragment_frames(say, 256)))
    assert_ack(w.expect(("ack", "error")), "say in 256 fragments", ref=256)
    room.obs.expect(MESSAGE, text=text, from_="frag")

    small = ping_of_size(600)
    cases = [("257 fragments in one write", [b"".join(fragment_frames(small, 257))], False),
             ("300 fragments in one write, the message never finished",
              [b"".join(fragment_frames(small, 300, last_fin=False))], False),
             ("257 fragments, each read before the next, the 257th final",
              fragment_frames(small, 257), True),
             ("257 fragments, each read before the next, the 257th not final",
              fragment_frames(small, 257, last_fin=False), True),
             ("max_message bytes in 257 fragments in one write",
              [b"".join(fragment_frames(body, 257))], False)]
    for k, (what, writes, barriers) in enumerate(cases):
        nick = "many%d" % k
        v = room.member(nick)
        for i, chunk in enumerate(writes):
            v.send_ws(chunk)
            if barriers and i < len(writes) - 1:
                ws_barrier(v, b"m%d" % i)
        objs, _ = assert_closed_with(v, 1009, what, reason=WORDS)
        t.assert_eq(objs, [], "%s: objects before the close" % what)
        room.dropped(nick, "protocol error", what)


def test_control_frames_between_fragments_are_answered_as_they_come(srv):
    """A ping between the fragments of an unfinished message is answered
    before the message is complete; the message, once finished, is
    handled whole (a say acked and delivered); an unsolicited pong between
    fragments is ignored; chatd itself never fragments.  A close between
    fragments is echoed with its code and the connection ends; the
    unfinished message and what follows the close are not acted on, and
    the room sees a drop "closed"."""
    room = Watchers(srv)
    w = room.member("wes")
    say = json.dumps({"type": "say", "room": "r", "text": "in three fragments",
                      "ref": 5}).encode()
    w.send_ws(frame(TEXT, say[:10], fin=False))
    ws_barrier(w, b"between")
    w.send_ws(frame(CONT, say[10:25], fin=False) + frame(PONG, b"unasked"))
    ws_barrier(w, b"between again")
    t.assert_eq(w.drain(), [], "objects before the message is finished")
    w.send_ws(frame(CONT, say[25:]))
    assert_ack(w.expect(("ack", "error")), "say in fragments", ref=5)
    room.obs.expect(MESSAGE, text="in three fragments", from_="wes")
    t.assert_eq([p for _, op, p in w.ws_frames if op == PONG], [b"between", b"between again"],
                "pongs to the pings between fragments")
    text = "forty fragments " * 20
    say = json.dumps({"type": "say", "room": "r", "text": text, "ref": 6}).encode()
    step = len(say) // 40 + 1
    chunks = [say[i:i + step] for i in range(0, len(say), step)]
    for i, c in enumerate(chunks):
        w.send_ws(frame(TEXT if i == 0 else CONT, c, fin=(i == len(chunks) - 1)))
    assert_ack(w.expect(("ack", "error")), "say in %d fragments" % len(chunks), ref=6)
    room.obs.expect(MESSAGE, text=text)
    if any(not fin for fin, _, _ in w.ws_frames):
        raise AssertionError("server sent a fragmented message")
    for i, payload in enumerate([struct.pack(">H", 4000) + b"going", struct.pack(">H", 1000)]):
        nick = "cut%d" % i
        c = room.member(nick)
        c.send_ws(frame(TEXT, b'{"type":"say","room":"r",', fin=False)
                  + frame(CLOSE, payload)
                  + frame(CONT, b'"text":"never","ref":1}')
                  + frame(TEXT, b'{"type":"say","room":"r","text":"never","ref":2}'))
        objs, _ = assert_closed_with(c, struct.unpack(">H", payload[:2])[0],
                                     "echo of a close between fragments")
        t.assert_eq(objs, [], "objects before the echo")
        room.dropped(nick, "closed", "a close between fragments")
    room.obs.sync()
    if room.obs.received(MESSAGE, text="never"):
        raise AssertionError("a message cut by a close was acted on")


def test_quit_is_bye_then_close_1000_and_a_quit_for_the_room(srv):
    """quit is answered bye {reason: "quit"}, then close 1000 "quit" as the
    last frame, then the end; a say after it in the same write is not
    acted on; framed, telnet and JSON members see a quit."""
    room = Watchers(srv)
    w = room.member("wes")
    w.send_ws(frame(TEXT, b'{"type":"quit"}')
              + frame(TEXT, b'{"type":"say","room":"r","text":"after quit","ref":1}'))
    objs, _ = assert_closed_with(w, 1000, "after quit", reason="quit")
    t.assert_eq(objs, [{"type": "bye", "reason": "quit"}], "objects before the close")
    p = room.obs.expect(PRESENCE, nick="wes", pred=lambda f: f.kind != t.P_JOIN)
    t.assert_eq((p.kind, p.reason), (t.P_QUIT, 0), "PRESENCE after quit")
    room.tina.expect_line(r"^%s \* wes quit \(#r\)$" % CLOCK)
    o = room.jo.expect(("quit", "drop"), nick="wes")
    assert_keys(o, PRESENCE_KEYS, "JSON member's quit event")
    t.assert_eq((o["type"], o["room"]), ("quit", "r"), "JSON member's event")
    room.obs.sync()
    if room.obs.received(MESSAGE, text="after quit"):
        raise AssertionError("a say after quit was acted on")


def test_sigterm_is_bye_shutdown_then_close_1001(srv):
    """On SIGTERM every JSON socket, registered or not, gets bye with
    reason "shutdown" (the reason words of http.md 4), then a close 1001
    with a reason as its last frame, then the end; chatd exits 0."""
    a = json_user(srv, "ann")
    a.join("r")
    u = json_user(srv)
    u.sync()
    tcp = srv.client("tom")
    tcp.join("r")
    a.expect("join", nick="tom")
    srv.send_signal(signal.SIGTERM)
    for c in (a, u):
        objs, _ = assert_closed_with(c, 1001, "%s at shutdown" % c.label, reason=WORDS)
        t.assert_eq(objs, [{"type": "bye", "reason": "shutdown"}],
                    "%s: objects before the close" % c.label)
    t.assert_eq(tcp.expect(BYE, timeout=5).reason, t.R_SHUTDOWN, "TCP client's BYE")
    t.assert_eq(srv.wait(6), 0, "chatd exit code after SIGTERM")


def test_client_close_frame_is_echoed_and_the_room_sees_closed(srv):
    """A client's close frame is answered with a close carrying its code
    (an empty one with an empty close), then the end; what follows the
    close is not read; the room sees a drop with reason "closed"."""
    room = Watchers(srv)
    for i, (payload, want) in enumerate([(struct.pack(">H", 1000) + b"see you", 1000),
                                         (struct.pack(">H", 1001), 1001),
                                         (struct.pack(">H", 4001), 4001), (b"", None)]):
        nick = "cl%d" % i
        w = room.member(nick)
        w.send_ws(frame(CLOSE, payload)
                  + frame(TEXT, b'{"type":"say","room":"r","text":"after close","ref":1}'))
        objs, _ = assert_closed_with(w, want, "echo of close %r" % payload)
        t.assert_eq(objs, [], "objects before the echo")
        room.dropped(nick, "closed", "after a close frame %r" % payload)
    room.obs.sync()
    if room.obs.received(MESSAGE, text="after close"):
        raise AssertionError("data after the client's close was acted on")


def test_a_say_in_the_same_write_as_the_close_is_served_first(srv):
    """`ws.send(x); ws.close()` in a page: the say and the close come in one
    read.  The say is acknowledged and delivered, then the close echoed,
    as over TCP a SAY followed by the end of the stream is served."""
    room = Watchers(srv)
    w = room.member("leaver")
    w.send_ws(frame(TEXT, b'{"type":"say","room":"r","text":"last words","ref":9}')
              + frame(CLOSE, struct.pack(">H", 1000)))
    objs, _ = assert_closed_with(w, 1000, "echo of the close")
    acks = [o for o in objs if o.get("type") == "ack"]
    t.assert_eq([a.get("ref") for a in acks], [9], "the say's ack before the echo")
    room.obs.expect(MESSAGE, text="last words")
    room.dropped("leaver", "closed", "after the close")


@t.server_args("--handshake-timeout", "0.5")
def test_no_hello_within_handshake_timeout_is_handshake_timeout_then_close_1008(srv):
    """A JSON socket without hello after handshake-timeout gets error
    handshake_timeout (no request, no ref), then close 1008 with a reason
    as the last frame, then the end, even if it pinged meanwhile; one
    that said hello in time stays."""
    ok = json_user(srv, "ok")
    silent = json_user(srv)
    pinger = json_user(srv)
    pinger.sync()
    for w in (silent, pinger):
        objs, _ = assert_closed_with(w, 1008, "%s without hello" % w.label, reason=WORDS)
        t.assert_eq(len(objs), 1, "%s: objects before the close: %r" % (w.label, objs))
        assert_error(objs[0], "handshake_timeout", "%s: error before the close" % w.label,
                     request=None)
    ok.sync()
    t.assert_eq(ok.join("r")["end"]["count"], 0, "join of the client that said hello")


@t.server_args("--ping-interval", "0.3", "--ping-timeout", "0.3")
def test_silent_json_client_is_pinged_then_dropped_for_ping_timeout(srv):
    """A silent JSON client gets a WebSocket ping after ping-interval and,
    still silent, bye {reason: "ping timeout"} and close 1000 "ping
    timeout" after ping-timeout more; its room sees a drop "ping timeout"
    (framed and JSON members).  A client whose WebSocket layer answers the
    pings (as browsers do) stays."""
    obs = srv.client("obs")
    obs.join("r")
    live = json_user(srv, "live")
    silent = json_user(srv, "silent", auto_pong=False)
    live.join("r")
    silent.join("r")
    since = time.monotonic()
    drop = None
    seen = []
    deadline = time.monotonic() + 3
    while drop is None:
        if time.monotonic() > deadline:
            raise AssertionError("silent JSON client not dropped within 3 s")
        seen += live.drain(0.01)
        drop = next((f for f in obs.drain(0.01) if f.type == PRESENCE and f.kind == t.P_DROP),
                    None)
    t.assert_eq((drop.nick, drop.reason), ("silent", t.R_PING_TIMEOUT), "DROP (nick, reason)")
    seen += live.drain(0.2)
    o = next((o for o in seen if o.get("nick") == "silent" and o["type"] != "join"), None)
    if o is None:
        o = live.expect(("part", "quit", "drop"), nick="silent", timeout=3)
    assert_keys(o, PRESENCE_KEYS | {"reason"}, "drop seen by the live JSON member")
    t.assert_eq((o["type"], o["room"], o["reason"]), ("drop", "r", "ping timeout"),
                "drop seen by the live JSON member (type, room, reason)")
    if time.monotonic() - since < 0.5:
        raise AssertionError("dropped after only %.2f s" % (time.monotonic() - since))
    objs, why = assert_closed_with(silent, 1000, "silent client", reason="ping timeout")
    t.assert_eq([o for o in objs if o["type"] == "bye"], [{"type": "bye",
                                                           "reason": "ping timeout"}], "bye")
    if not silent.pings:
        raise AssertionError("the silent client was never pinged")
    live.drain(0.5)
    t.assert_eq(live.eof, None, "the client answering pings")
    if not live.pings:
        raise AssertionError("the live client was never pinged")
    assert_ack(live.say("r", "still here"), "say of the live client")


# ---------------------------------------------------------------------------
# 8. text


PLANES = [chr(p * 0x10000 + 0x4E2D) if p == 0 else chr(p * 0x10000 + 0x1F0) for p in range(17)]


def test_html_and_every_unicode_plane_round_trip_exactly(srv):
    """Texts are never altered: HTML, quotes, backslashes, control
    characters, U+2028, and a character of every Unicode plane (0 to 16,
    the first and last code points of the encodings' lengths), sent as
    raw UTF-8 or as \\u escapes, reach a JSON and a framed member exactly,
    and a framed member's reach the JSON one exactly."""
    obs = srv.client("obs")
    obs.join("r")
    ann = json_user(srv, "ann")
    bob = json_user(srv, "bob")
    ann.join("r")
    bob.join("r")
    texts = ["<img src=x onerror=alert(1)>", "<script>alert('x')</script>&amp;&lt;",
             "\"quoted\" 'single' \\back\\slash /slash/", "tab\there\nnewline\rcr\x01\x1f\x7f",
             "\u2028\u2029 line separators", "\u0080\u07ff\u0800\uffff\ufeff\ufffd",
             "\U00010000\U0010ffff", "\u00e9 e\u0301 \u200d\U0001F469\u200d\U0001F4BB"]
    texts += ["plane %d: %s" % (p, c) for p, c in enumerate(PLANES)]
    texts.append("".join(PLANES))
    for i, text in enumerate(texts):
        for ascii_only in (False, True):
            body = json.dumps({"type": "say", "room": "r", "text": text, "ref": i},
                              ensure_ascii=ascii_only).encode()
            ann.send_text(body)
            a = assert_ack(ann.expect(("ack", "error"), ref=i), "say %r" % text)
            m = bob.expect("message", seq=a["seq"])
            t.assert_eq(m["text"], text, "JSON member's text (sent %s)"
                        % ("escaped" if ascii_only else "raw"))
            f = obs.expect(MESSAGE, seq=a["seq"])
            t.assert_eq(f.text, text, "framed member's text")
        t.assert_ack(obs.say("r", text), "obs's SAY")
        for w in (ann, bob):
            m = w.expect("message", from_="obs")
            t.assert_eq(m["text"], text, "%s: framed member's text" % w.label)


def test_nul_in_a_text_or_name_is_refused_by_the_core(srv):
    """A JSON string may hold \\u0000: the message is still JSON, and a
    text holding it is refused text_invalid (say, msg, carrying the ref),
    a nick nick_invalid, a room room_invalid (http.md 11, protocol.md 9);
    the socket goes on."""
    srv.client("obs")
    w = json_user(srv, "wes")
    w.join("r")
    w.send(type_="say", room="r", text="a\u0000b", ref=1)
    expect_error(w, "text_invalid", "say with NUL", request="say", ref=1)
    w.send(type_="say", room="r", text="\u0000", ref=2)
    expect_error(w, "text_invalid", "say of a NUL", request="say", ref=2)
    w.send(type_="msg", nick="obs", text="nul\u0000", ref=3)
    expect_error(w, "text_invalid", "msg with NUL", request="msg", ref=3)
    w.send(type_="nick", nick="we\u0000s")
    expect_error(w, "nick_invalid", "nick with NUL", request="nick")
    w.send(type_="join", room="r\u0000x")
    expect_error(w, "room_invalid", "join with NUL", request="join")
    u = json_user(srv)
    u.send(type_="hello", nick="u\u0000")
    expect_error(u, "nick_invalid", "hello with NUL", request="hello")
    assert_ack(w.say("r", "after the NULs"), "say after")


# ---------------------------------------------------------------------------
# 9 and 10. flood control, slow consumers


@t.server_args("--flood-rate", "5", "--flood-burst", "5")
def test_flood_control_delays_says_and_never_drops_them(srv):
    """With flood-rate 5 and flood-burst 5, 50 says written at once are
    all acked in order with consecutive seqs, none refused, the last
    about 9 s later (45 over the burst at 5 a second); a framed member
    gets all 50 in order."""
    obs = srv.client("obs")
    obs.join("r")
    w = json_user(srv, "wes", timeout=20)
    w.join("r")
    t0 = time.monotonic()
    w.send_ws(b"".join(frame(TEXT, json.dumps({"type": "say", "room": "r", "text": "f%d" % i,
                                                "ref": i}).encode()) for i in range(50)))
    acks = []
    while len(acks) < 50:
        o = w.recv(15)
        if o is None:
            raise AssertionError("only %d acks within 15 s" % len(acks))
        if o["type"] != "ack":
            raise AssertionError("flooder got %r" % o)
        acks.append(o)
    dt = time.monotonic() - t0
    t.assert_eq([a["ref"] for a in acks], list(range(50)), "ack refs")
    s0 = acks[0]["seq"]
    t.assert_eq([a["seq"] for a in acks], list(range(s0, s0 + 50)), "ack seqs")
    # hello and join took 2 of the 5 tokens; 47 later says at 5 a second.
    if dt < 7.5:
        raise AssertionError("50 says acked within %.2f s: not paced at 5 a second" % dt)
    got = [obs.expect(MESSAGE, timeout=5) for _ in range(50)]
    t.assert_eq([(m.text, m.seq) for m in got], [("f%d" % i, s0 + i) for i in range(50)],
                "framed member's messages")
    t.assert_eq(w.eof, None, "flooder still connected")


@t.server_args("--max-queue", "65536", "--flood-rate", "0")
def test_slow_json_reader_is_dropped_as_a_slow_consumer(srv):
    """A JSON member that never reads (small receive buffer) while the room
    floods is dropped: the others (JSON, framed, telnet) see a drop with
    reason "slow consumer", its connection ends with no close frame after
    what it was sent, and a JSON member that reads gets every message in
    order."""
    room = Watchers(srv, with_json=False)
    obs, tina = room.obs, room.tina
    flooder = srv.client("flooder")
    flooder.join("r")
    fast = room.member("fast")
    slow = room.member("slow", rcvbuf=4096)
    fast.expect("join", nick="slow")
    for c in (obs, flooder):
        c.drain()
    tina.take_lines()
    text = "x" * 1000
    sent = acked = 0
    seqs = []
    drop = None
    deadline = time.monotonic() + 20
    while drop is None:
        if time.monotonic() > deadline:
            raise AssertionError("slow JSON reader not dropped after %d SAYs (%d ACKed)"
                                 % (sent, acked))
        while sent - acked < 32:
            flooder.say("r", text, wait=False)
            sent += 1
        for f in flooder.drain(0.005):
            if f.type == ERROR:
                raise AssertionError("flooder got %r" % (f,))
            acked += f.type == ACK
        for o in fast.drain():
            if o["type"] == "message":
                seqs.append(o["seq"])
            elif o["type"] == "drop":
                drop = o
            else:
                raise AssertionError("fast reader got %r" % o)
        tina.pump()
        if flooder.eof or obs.eof or fast.eof:
            raise AssertionError("a reading member was disconnected during the flood")
    assert_keys(drop, PRESENCE_KEYS | {"reason"}, "drop seen by the JSON member")
    t.assert_eq((drop["nick"], drop["room"], drop["reason"]), ("slow", "r", "slow consumer"),
                "drop seen by the JSON member")
    p = obs.expect(PRESENCE, kind=t.P_DROP, nick="slow", timeout=10)
    t.assert_eq(p.reason, t.R_SLOW_CONSUMER, "drop reason seen by the framed member")
    tina.expect_line(r"^%s \* slow dropped from #r: slow consumer$" % CLOCK, timeout=10)
    while len(seqs) < sent:
        seqs.append(fast.expect("message", timeout=5)["seq"])
    t.assert_eq(seqs, list(range(seqs[0], seqs[0] + sent)), "the fast reader's seqs")
    slow.expect_closed(timeout=10)
    if slow.close_frame is not None or any(o["type"] == "bye" for o in slow.log):
        raise AssertionError("a slow consumer was sent a close frame or bye: %r"
                             % (slow.close_frame,))
    t.assert_eq(fast.listing({"type": "who", "room": "r"})[0]["names"],
                ["obs", "tina", "flooder", "fast"], "who after the drop")


@t.server_args("--max-text", "1000")
def test_a_fragment_that_cannot_fit_closes_1009_at_once_over_several_reads(srv):
    """A message whose last fragment would take it over max_message (7024
    bytes here), or past 256 fragments, is closed 1009 as soon as that
    fragment's head arrives, whatever earlier reads brought: the server
    neither waits for room that never comes nor spins."""
    def read_by_server(w, tag):
        at = len(w.ws_frames)
        w.send_ws(frame(PING, tag))
        w.expect_frame(PONG, tag, since=at, timeout=3)

    w = json_user(srv, "big")
    w.send_ws(frame(TEXT, b"x" * 7000, fin=False))
    read_by_server(w, b"first")
    w.send_ws(frame(CONT, b"y" * 1295))  # 8295 bytes in all
    w.expect_closed(3)
    t.assert_eq(w.close_code()[0], 1009, "close code, message too big")

    w = json_user(srv, "many")
    for i in range(256):
        w.send_ws(frame(TEXT if i == 0 else CONT, b"x" * 27, fin=False))
        read_by_server(w, b"%d" % i)
    w.send_ws(frame(CONT, b"x" * 108))  # the 257th fragment
    w.expect_closed(3)
    t.assert_eq(w.close_code()[0], 1009, "close code, too many fragments")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
