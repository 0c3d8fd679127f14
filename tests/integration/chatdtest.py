#!/usr/bin/env python3
"""Harness for chatd's integration tests: a framed protocol v1 codec, a
client over a real socket, a Server that runs the real daemon, and a tiny
test runner.

The codec is written from docs/protocol.md and include/chatd/wire.h alone,
independently of src/proto/framed/wire.c, so it doubles as proof that an outsider can
implement the protocol.  Run this file directly to self-test the codec:

    python3 chatdtest.py

Each scenario file ends with `sys.exit(chatdtest.main(globals()))` and runs
as `python3 test_x.py --chatd PATH [-k NAME]...`: every function named
test_* gets a freshly started chatd (with the file's SERVER_ARGS plus the
function's @server_args) as its only argument.  Standard library only,
Python 3.11.
"""

import argparse
import itertools
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

# ---------------------------------------------------------------------------
# Protocol constants (include/chatd/wire.h)

PREFACE = b"\x89CHATD\x00\x01"
HEADER_LEN = 5

HELLO, JOIN, PART, SAY, MSG, NICK = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
LIST, WHO, USERS, PING, PONG, QUIT = 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C
HISTORY = 0x0D
TOPIC = 0x0E
WELCOME, JOINED, HISTORY_END, MESSAGE, PRESENCE = 0x41, 0x42, 0x43, 0x44, 0x45
ROOMS, NAMES, ACK, ERROR, BYE = 0x46, 0x47, 0x48, 0x49, 0x4A
SUMMARY = 0x4B
REASON = 0x4C
ROOM_TOPIC = 0x4D

TYPE_NAMES = {
    HELLO: "HELLO", JOIN: "JOIN", PART: "PART", SAY: "SAY", MSG: "MSG",
    NICK: "NICK", LIST: "LIST", WHO: "WHO", USERS: "USERS", PING: "PING",
    PONG: "PONG", QUIT: "QUIT", HISTORY: "HISTORY", WELCOME: "WELCOME", JOINED: "JOINED",
    HISTORY_END: "HISTORY_END", MESSAGE: "MESSAGE", PRESENCE: "PRESENCE",
    ROOMS: "ROOMS", NAMES: "NAMES", ACK: "ACK", ERROR: "ERROR", BYE: "BYE",
    SUMMARY: "SUMMARY", REASON: "REASON", TOPIC: "TOPIC", ROOM_TOPIC: "ROOM_TOPIC",
}
CLIENT_ONLY_TYPES = {HELLO, JOIN, PART, SAY, MSG, NICK, LIST, WHO, USERS, QUIT, HISTORY, TOPIC}

# Error codes: 1xx close the connection, 2xx refuse the request only.
E_BAD_PREFACE = 100
E_BAD_VERSION = 101
E_FRAME_TOO_LARGE = 102
E_MALFORMED = 103
E_HANDSHAKE_TIMEOUT = 104
E_SERVER_FULL = 105
E_UNKNOWN_TYPE = 200
E_NOT_REGISTERED = 201
E_ALREADY_REGISTERED = 202
E_NICK_INVALID = 203
E_NICK_TAKEN = 204
E_ROOM_INVALID = 205
E_TEXT_INVALID = 206
E_TEXT_TOO_LONG = 207
E_NOT_IN_ROOM = 208
E_ALREADY_IN_ROOM = 209
E_NO_SUCH_ROOM = 210
E_NO_SUCH_USER = 211
E_TOO_MANY_ROOMS = 212
E_ROOM_FULL = 213
E_ROOM_LIMIT = 214
E_STORE_UNAVAILABLE = 215

# PRESENCE kinds.
P_JOIN, P_PART, P_QUIT, P_NICK, P_DROP = 1, 2, 3, 4, 5

# PRESENCE DROP and BYE reasons.
R_NONE = 0
R_CLOSED = 1
R_RESET = 2
R_PING_TIMEOUT = 3
R_SLOW_CONSUMER = 4
R_PROTOCOL_ERROR = 5
R_SHUTDOWN = 6
R_HANDSHAKE_TIMEOUT = 7
R_TIMEOUT = 8
R_NODE_LOST = 9

MSG_HISTORY = 0x01
MSG_DIRECT = 0x02
HIST_TRUNCATED = 0x01
HIST_EPOCH_CHANGED = 0x02
HIST_MORE = 0x04
LIST_LAST = 0x01
LIST_PARTIAL = 0x02
SUMMARY_OMITTED = 0x01
TOPIC_CURRENT = 0x01
TOPIC_MAX = 390

# Payload layouts, field by field, in wire order.  Field kinds: u8, u16,
# u32, u64, str8, str16, rooms (u16 count, count x (str8 name, u32
# members)), nicks (u16 count, count x str8), events (u16 count, count x
# (u8 kind, u8 reason, str8 nick, str8 new_nick)).  The ERROR field that names
# the request type is called req_type here so that it does not shadow the
# frame's own type.
LAYOUTS = {
    HELLO: (("nick", "str8"),),
    JOIN: (("room", "str8"), ("epoch", "u64"), ("since", "u64")),
    PART: (("room", "str8"),),
    SAY: (("ref", "u32"), ("room", "str8"), ("text", "str16")),
    MSG: (("ref", "u32"), ("nick", "str8"), ("text", "str16")),
    NICK: (("nick", "str8"),),
    LIST: (),
    WHO: (("room", "str8"),),
    USERS: (),
    PING: (("token", "u64"),),
    PONG: (("token", "u64"),),
    QUIT: (),
    HISTORY: (("room", "str8"), ("before", "u64"), ("limit", "u16")),
    TOPIC: (("room", "str8"), ("text", "str16")),
    WELCOME: (
        ("version", "u8"), ("nick", "str8"), ("server", "str8"),
        ("max_frame", "u32"), ("max_text", "u16"), ("max_nick", "u8"),
        ("max_room", "u8"), ("flood_rate", "u32"), ("flood_burst", "u32"),
        ("max_queue", "u32"), ("history_len", "u16"), ("max_rooms", "u16"),
        ("ping_interval_ms", "u32"), ("ping_timeout_ms", "u32"),
    ),
    JOINED: (("room", "str8"), ("epoch", "u64"), ("last_seq", "u64"),
             ("members", "u32")),
    HISTORY_END: (("room", "str8"), ("epoch", "u64"), ("last_seq", "u64"),
                  ("count", "u16"), ("flags", "u8")),
    MESSAGE: (("flags", "u8"), ("room", "str8"), ("from", "str8"),
              ("seq", "u64"), ("time_ms", "u64"), ("text", "str16")),
    PRESENCE: (("kind", "u8"), ("reason", "u8"), ("room", "str8"),
               ("nick", "str8"), ("new_nick", "str8"), ("time_ms", "u64")),
    ROOMS: (("flags", "u8"), ("rooms", "rooms")),
    NAMES: (("flags", "u8"), ("room", "str8"), ("nicks", "nicks")),
    ACK: (("ref", "u32"), ("seq", "u64"), ("time_ms", "u64")),
    ERROR: (("code", "u16"), ("req_type", "u8"), ("ref", "u32"),
            ("text", "str16")),
    BYE: (("reason", "u8"), ("text", "str16")),
    SUMMARY: (("flags", "u8"), ("room", "str8"), ("members", "u32"), ("joins", "u32"),
              ("leaves", "u32"), ("time_ms", "u64"), ("events", "events")),
    # After a PRESENCE PART or QUIT that came with the user's words (protocol.md 6.12).
    REASON: (("kind", "u8"), ("room", "str8"), ("nick", "str8"), ("text", "str16")),
    ROOM_TOPIC: (("flags", "u8"), ("room", "str8"), ("nick", "str8"), ("time_ms", "u64"),
                 ("text", "str16")),
}

_INT = {"u8": struct.Struct(">B"), "u16": struct.Struct(">H"),
        "u32": struct.Struct(">I"), "u64": struct.Struct(">Q")}


class DecodeError(ValueError):
    """A payload that does not match its type's layout exactly."""


def _bytes(v):
    """Strings go out as UTF-8; bytes go out as they are (for bad input)."""
    return v.encode("utf-8") if isinstance(v, str) else bytes(v)


def _put_str(v, wide):
    b = _bytes(v)
    if len(b) > (0xFFFF if wide else 0xFF):
        raise ValueError("string of %d bytes does not fit a %s"
                         % (len(b), "str16" if wide else "str8"))
    return (_INT["u16"] if wide else _INT["u8"]).pack(len(b)) + b


def encode_payload(ftype, **fields):
    """Encode a payload of a known type from its named fields; missing
    integers default to 0 and missing strings to ""."""
    if "from_" in fields:
        fields["from"] = fields.pop("from_")
    unknown = set(fields) - {name for name, _ in LAYOUTS[ftype]}
    if unknown:
        raise TypeError("%s has no field(s) %s" % (TYPE_NAMES[ftype], sorted(unknown)))
    out = bytearray()
    for name, kind in LAYOUTS[ftype]:
        if kind in _INT:
            out += _INT[kind].pack(fields.get(name, 0))
        elif kind == "str8":
            out += _put_str(fields.get(name, ""), False)
        elif kind == "str16":
            out += _put_str(fields.get(name, ""), True)
        elif kind == "rooms":
            entries = fields.get(name, ())
            out += _INT["u16"].pack(len(entries))
            for room, members in entries:
                out += _put_str(room, False) + _INT["u32"].pack(members)
        elif kind == "nicks":
            entries = fields.get(name, ())
            out += _INT["u16"].pack(len(entries))
            for nick in entries:
                out += _put_str(nick, False)
        elif kind == "events":
            entries = fields.get(name, ())
            out += _INT["u16"].pack(len(entries))
            for ekind, reason, nick, new_nick in entries:
                out += bytes([ekind, reason]) + _put_str(nick, False) + _put_str(new_nick, False)
    return bytes(out)


def raw_frame(ftype, payload=b"", length=None):
    """A frame with any type and payload; length overrides the header's
    announced payload length (for oversized or lying headers)."""
    n = len(payload) if length is None else length
    return struct.pack(">IB", n, ftype) + payload


def encode(ftype, **fields):
    """One whole frame: header and payload."""
    return raw_frame(ftype, encode_payload(ftype, **fields))


def decode_payload(ftype, payload):
    """Decode a payload into a dict of its fields.  Raises DecodeError for
    an unknown type, a short field, a string running past the end or
    trailing bytes.  Strings decode as UTF-8 with surrogateescape, so a
    bad byte survives for inspection instead of raising."""
    layout = LAYOUTS.get(ftype)
    if layout is None:
        raise DecodeError("unknown frame type 0x%02x" % ftype)
    p = memoryview(payload)
    pos = 0

    def take(n):
        nonlocal pos
        if len(p) - pos < n:
            raise DecodeError("%s payload too short at offset %d"
                              % (TYPE_NAMES[ftype], pos))
        b = bytes(p[pos:pos + n])
        pos += n
        return b

    def integer(kind):
        st = _INT[kind]
        return st.unpack(take(st.size))[0]

    def string(wide):
        return take(integer("u16" if wide else "u8")).decode("utf-8", "surrogateescape")

    fields = {}
    for name, kind in layout:
        if kind in _INT:
            fields[name] = integer(kind)
        elif kind == "str8":
            fields[name] = string(False)
        elif kind == "str16":
            fields[name] = string(True)
        elif kind == "rooms":
            fields[name] = [(string(False), integer("u32")) for _ in range(integer("u16"))]
        elif kind == "nicks":
            fields[name] = [string(False) for _ in range(integer("u16"))]
        elif kind == "events":
            fields[name] = [(integer("u8"), integer("u8"), string(False), string(False))
                            for _ in range(integer("u16"))]
    if pos != len(p):
        raise DecodeError("%s payload has %d trailing byte(s)"
                          % (TYPE_NAMES[ftype], len(p) - pos))
    return fields


def split_frame(buf):
    """Return (type, payload, used) for the first whole frame in buf, or
    None when more bytes are needed."""
    if len(buf) < HEADER_LEN:
        return None
    n, ftype = struct.unpack_from(">IB", buf)
    if len(buf) - HEADER_LEN < n:
        return None
    return ftype, bytes(buf[HEADER_LEN:HEADER_LEN + n]), HEADER_LEN + n


class Frame:
    """A decoded frame: .type and its fields as attributes (MESSAGE's
    `from` is .from_ or f["from"])."""

    __slots__ = ("type", "fields", "at")

    def __init__(self, ftype, fields, at=None):
        self.type = ftype
        self.fields = fields
        self.at = at  # time.monotonic() when it was decoded

    def __getattr__(self, name):
        fields = object.__getattribute__(self, "fields")
        key = "from" if name == "from_" else name
        try:
            return fields[key]
        except KeyError:
            raise AttributeError("%s frame has no field %r"
                                 % (self.type_name, name)) from None

    def __getitem__(self, key):
        return self.fields[key]

    def get(self, key, default=None):
        return self.fields.get("from" if key == "from_" else key, default)

    @property
    def type_name(self):
        return TYPE_NAMES.get(self.type, "0x%02x" % self.type)

    def __repr__(self):
        parts = []
        for k, v in self.fields.items():
            if isinstance(v, str) and len(v) > 40:
                v = v[:37] + "...(%d)" % len(v)
            elif isinstance(v, list) and len(v) > 8:
                v = repr(v[:8])[:-1] + ", ...(%d)]" % len(v)
            parts.append("%s=%r" % (k, v))
        return "%s(%s)" % (self.type_name, ", ".join(parts))


def decode(ftype, payload):
    return Frame(ftype, decode_payload(ftype, payload))


# ---------------------------------------------------------------------------
# Client


class Closed(AssertionError):
    """The connection ended while a frame was expected."""


class Timeout(AssertionError):
    """An awaited frame or event did not come before its deadline."""


class ProtocolViolation(AssertionError):
    """The server sent bytes that do not follow the protocol."""


class ServerError(AssertionError):
    """A request that should have succeeded got an ERROR frame."""

    def __init__(self, frame):
        super().__init__("server answered %r" % (frame,))
        self.frame = frame


def _fold(s):
    """ASCII case folding, as the server compares nicks and rooms."""
    if isinstance(s, (bytes, bytearray)):
        s = bytes(s).decode("utf-8", "surrogateescape")
    return s.translate(_FOLD)


_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_client_ids = itertools.count(1)


class JoinResult:
    """A whole JOIN reply: JOINED, the NAMES, the topic (a ROOM_TOPIC
    flagged CURRENT, or None), the history, HISTORY_END (or the ERROR that
    refused it)."""

    def __init__(self, joined=None, names=(), history=(), end=None, error=None):
        self.joined = joined
        self.topic = None
        self.names = list(names)
        self.names_flags = 0     # of the last NAMES: LAST, and PARTIAL if cut short
        self.history = list(history)
        self.end = end
        self.error = error

    @property
    def ok(self):
        return self.error is None

    @property
    def epoch(self):
        return self.joined.epoch

    @property
    def last_seq(self):
        return self.joined.last_seq

    @property
    def seqs(self):
        return [m.seq for m in self.history]

    @property
    def flags(self):
        return self.end.flags

    def __repr__(self):
        if self.error is not None:
            return "JoinResult(error=%r)" % (self.error,)
        return "JoinResult(%r, names=%r, history seqs=%s, %r)" % (
            self.joined, self.names, _span(self.seqs), self.end)


def _span(seqs):
    if len(seqs) > 6:
        return "[%s, %s, ... %s, %s] (%d)" % (seqs[0], seqs[1], seqs[-2], seqs[-1], len(seqs))
    return repr(seqs)


class Client:
    """One framed-protocol connection to chatd over a real TCP socket.

    Frames the client has read but no one has claimed wait in .inbox in
    arrival order; expect() takes the first matching one and leaves the
    rest for later.  .log holds every frame ever received, .skipped the
    inbox frames that preceded the last expect()'s match.  With auto_pong
    (the default) server PINGs are answered while reading and not put in
    the inbox (they are still in .log).  Every wait has a deadline."""

    def __init__(self, port, nick=None, *, host="127.0.0.1", preface=True,
                 auto_pong=True, rcvbuf=None, timeout=5.0, label=None):
        self.label = label or nick or "conn%d" % next(_client_ids)
        self.auto_pong = auto_pong
        self.timeout = timeout
        self.name = None         # nick as registered (WELCOME / NICK)
        self.welcome = None      # the WELCOME frame
        self.inbox = []
        self.log = []
        self.skipped = []
        self.pings_answered = 0
        self.eof = None          # None, "eof" or "reset" once the server ended it
        self.closed = False      # we closed our end
        self.trailing = b""      # bytes of an incomplete frame left at EOF
        self.last_send = None    # time.monotonic() of our last send
        self._buf = bytearray()
        self._refs = itertools.count(0x10000)  # clear of the small refs tests pick
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            if rcvbuf:
                # Before connect, so that the window it implies is what the
                # handshake advertises.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.settimeout(timeout)  # bounds connect and sendall
            s.connect((host, port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except BaseException:
            s.close()
            raise
        self.sock = s
        self._poll = select.poll()
        self._poll.register(s.fileno(), select.POLLIN)
        if preface:
            self.send_raw(PREFACE)
        if nick is not None:
            f = self.hello(nick)
            if f.type != WELCOME:
                raise AssertionError("%s: HELLO %r refused: %r" % (self.label, nick, f))

    def __repr__(self):
        return "Client(%s)" % self.label

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- sending ----------------------------------------------------------

    def send_raw(self, data):
        """Send bytes as they are."""
        if self.closed:
            raise AssertionError("%s: send on a connection we closed" % self.label)
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise Timeout("%s: could not send %d bytes within %.1fs (server not reading?)"
                          % (self.label, len(data), self.timeout)) from None
        except OSError as e:
            raise Closed("%s: send failed: %s" % (self.label, e)) from None
        self.last_send = time.monotonic()

    def send(self, ftype, **fields):
        """Encode and send one frame."""
        self.send_raw(encode(ftype, **fields))

    def next_ref(self):
        return next(self._refs)

    # -- receiving --------------------------------------------------------

    def _read_some(self, deadline):
        """Wait until deadline for bytes, read them and decode whole frames.
        Returns True if anything happened (bytes or end of stream)."""
        if self.eof or self.closed:
            return False
        data, ended = poll_recv(self.sock, self._poll, deadline, 1 << 18)
        if ended:
            self._ended(ended)
            return True
        if not data:
            return False
        self._buf += data
        self._parse()
        return True

    def _ended(self, how):
        self.eof = how
        self.trailing = bytes(self._buf)

    def _parse(self):
        while True:
            got = split_frame(self._buf)
            if got is None:
                return
            ftype, payload, used = got
            del self._buf[:used]
            try:
                f = decode(ftype, payload)
            except DecodeError as e:
                raise ProtocolViolation("%s: server sent an undecodable frame (%s): %s"
                                        % (self.label, e, (struct.pack(">IB", len(payload), ftype)
                                                           + payload)[:64].hex())) from None
            if ftype in CLIENT_ONLY_TYPES:
                raise ProtocolViolation("%s: server sent client-only frame %r" % (self.label, f))
            f.at = time.monotonic()
            self.log.append(f)
            if ftype == PING and self.auto_pong:
                self.pings_answered += 1
                try:
                    self.send(PONG, token=f.token)
                except AssertionError:
                    pass  # the server went away; reading will tell
                continue
            self.inbox.append(f)

    def _deadline(self, timeout):
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def recv_frame(self, timeout=None):
        """The next unclaimed frame, or None if none came in time.  Raises
        Closed when the connection has ended and nothing is left."""
        deadline = self._deadline(timeout)
        while not self.inbox:
            if self.eof:
                raise Closed("%s: connection ended (%s)" % (self.label, self.eof))
            if not self._read_some(deadline) and time.monotonic() >= deadline:
                return None
        return self.inbox.pop(0)

    def _take_at(self, i, deadline, what):
        """The frame right after position i-1 of the inbox in arrival order
        (used for replies whose frames must be contiguous)."""
        while len(self.inbox) <= i:
            if self.eof:
                raise Closed("%s: connection ended (%s) while reading %s"
                             % (self.label, self.eof, what))
            if time.monotonic() >= deadline:
                raise Timeout("%s: %s incomplete after deadline" % (self.label, what))
            self._read_some(deadline)
        return self.inbox.pop(i)

    def expect(self, ftype=None, timeout=None, pred=None, **fields):
        """Read until a frame matches: its type is ftype (or one of a tuple
        of types), every keyword field equals the given value and pred(f)
        is true.  Returns it; frames before it stay in the inbox and are
        also listed in .skipped.  Raises Timeout or Closed with what did
        come."""
        types = None if ftype is None else (ftype if isinstance(ftype, tuple) else (ftype,))
        if "from_" in fields:
            fields["from"] = fields.pop("from_")

        def match(f):
            if types is not None and f.type not in types:
                return False
            for k, v in fields.items():
                if f.get(k, _MISSING) != v:
                    return False
            return pred is None or pred(f)

        deadline = self._deadline(timeout)
        i = 0
        while True:
            while i < len(self.inbox):
                if match(self.inbox[i]):
                    self.skipped = self.inbox[:i]
                    return self.inbox.pop(i)
                i += 1
            want = self._describe(types, fields, pred)
            if self.eof:
                raise Closed("%s: connection ended (%s) while waiting for %s; unclaimed: %s"
                             % (self.label, self.eof, want, self._tail()))
            if time.monotonic() >= deadline:
                raise Timeout("%s: no %s within %.2fs; unclaimed: %s"
                              % (self.label, want, timeout if timeout is not None
                                 else self.timeout, self._tail()))
            self._read_some(deadline)

    @staticmethod
    def _describe(types, fields, pred):
        t = "|".join(TYPE_NAMES.get(x, "0x%02x" % x) for x in types) if types else "frame"
        bits = ["%s=%r" % kv for kv in fields.items()]
        if pred is not None:
            bits.append("pred")
        return "%s(%s)" % (t, ", ".join(bits))

    def _tail(self, n=12):
        if not self.inbox:
            return "nothing"
        s = ", ".join(repr(f) for f in self.inbox[-n:])
        return ("... %d more, " % (len(self.inbox) - n) if len(self.inbox) > n else "") + s

    def expect_closed(self, timeout=None):
        """Read until the server ends the connection (EOF or reset); returns
        every unclaimed frame that came before the end, in order."""
        deadline = self._deadline(timeout)
        while not self.eof:
            if self.closed:
                raise AssertionError("%s: we closed this connection ourselves" % self.label)
            if time.monotonic() >= deadline:
                raise Timeout("%s: connection still open after %.2fs; unclaimed: %s"
                              % (self.label, timeout if timeout is not None else self.timeout,
                                 self._tail()))
            self._read_some(deadline)
        frames, self.inbox = self.inbox, []
        return frames

    def drain(self, duration=0.0, max_reads=64):
        """Read for duration seconds (0: only what is already here), then
        stop as soon as nothing more is waiting (or after max_reads reads in
        all, so that a flood cannot keep it going), and return every
        unclaimed frame, claiming them.  Never raises on end of stream:
        check .eof."""
        deadline = time.monotonic() + duration
        reads = 0
        while not self.eof and not self.closed:
            got = self._read_some(deadline)
            reads += got
            if time.monotonic() >= deadline and (not got or reads >= max_reads):
                break
        frames, self.inbox = self.inbox, []
        return frames

    def received_after(self, frame):
        """Every frame received after the given one (PINGs included)."""
        for i, f in enumerate(self.log):
            if f is frame:
                return self.log[i + 1:]
        raise AssertionError("%s: %r was not received here" % (self.label, frame))

    def received(self, ftype=None, **fields):
        """Every frame ever received (PINGs included) matching type and fields."""
        out = []
        for f in self.log:
            if ftype is not None and f.type != ftype:
                continue
            if all(f.get(k, _MISSING) == v for k, v in fields.items()):
                out.append(f)
        return out

    # -- requests ---------------------------------------------------------

    def hello(self, nick, timeout=None):
        """HELLO; returns WELCOME or the ERROR that refused it."""
        self.send(HELLO, nick=nick)
        f = self.expect((WELCOME, ERROR), timeout,
                        pred=lambda f: f.type == WELCOME or f.req_type == HELLO)
        if f.type == WELCOME:
            self.name = f.nick
            self.welcome = f
            if self.label.startswith("conn"):
                self.label = f.nick
        return f

    def join(self, room, epoch=0, since=0, timeout=None):
        """JOIN; returns a JoinResult.  The reply must be contiguous:
        JOINED, NAMES up to LAST, a ROOM_TOPIC flagged CURRENT when the
        room has a topic, MESSAGE frames flagged HISTORY, then HISTORY_END,
        all for this room; anything else in between is a
        ProtocolViolation."""
        deadline = self._deadline(timeout)
        self.send(JOIN, room=room, epoch=epoch, since=since)
        key = _fold(room)
        f = self.expect((JOINED, ERROR), timeout,
                        pred=lambda f: (f.type == JOINED and _fold(f.room) == key)
                        or (f.type == ERROR and f.req_type == JOIN))
        if f.type == ERROR:
            return JoinResult(error=f)
        at = len(self.skipped)
        res = JoinResult(joined=f)
        what = "JOIN %r reply" % (room,)
        while True:
            g = self._take_at(at, deadline, what)
            if g.type != NAMES or g.room != f.room:
                raise ProtocolViolation("%s: %s: expected NAMES(room=%r), got %r"
                                        % (self.label, what, f.room, g))
            res.names += g.nicks
            if g.flags & LIST_LAST:
                res.names_flags = g.flags
                break
        while True:
            g = self._take_at(at, deadline, what)
            if (g.type == ROOM_TOPIC and g.room == f.room and g.flags & TOPIC_CURRENT
                    and res.topic is None and not res.history):
                res.topic = g
                continue
            if g.type == HISTORY_END and g.room == f.room:
                res.end = g
                return res
            if g.type != MESSAGE or g.room != f.room or not g.flags & MSG_HISTORY:
                raise ProtocolViolation("%s: %s: expected a HISTORY MESSAGE or HISTORY_END "
                                        "for %r, got %r" % (self.label, what, f.room, g))
            res.history.append(g)

    def history(self, room, before=0, limit=0, timeout=None):
        """HISTORY; returns (messages, HISTORY_END) or (None, ERROR).  The
        answer must be contiguous: MESSAGE frames flagged HISTORY for this
        room, then HISTORY_END."""
        deadline = self._deadline(timeout)
        self.send(HISTORY, room=room, before=before, limit=limit)
        key = _fold(room)
        f = self.expect((MESSAGE, HISTORY_END, ERROR), timeout,
                        pred=lambda f: (f.type == ERROR and f.req_type == HISTORY)
                        or (f.type in (MESSAGE, HISTORY_END) and _fold(f.room) == key
                            and (f.type == HISTORY_END or f.flags & MSG_HISTORY)))
        if f.type == ERROR:
            return None, f
        at = len(self.skipped)
        got = []
        while f.type != HISTORY_END:
            if f.type != MESSAGE or _fold(f.room) != key or not f.flags & MSG_HISTORY:
                raise ProtocolViolation("%s: HISTORY %r: expected a HISTORY MESSAGE or "
                                        "HISTORY_END, got %r" % (self.label, room, f))
            got.append(f)
            f = self._take_at(at, deadline, "HISTORY %r answer" % (room,))
        return got, f

    def say(self, room, text, ref=None, wait=True, timeout=None):
        """SAY; with wait, returns the ACK or ERROR carrying its ref, else
        returns the ref."""
        ref = self.next_ref() if ref is None else ref
        self.send(SAY, ref=ref, room=room, text=text)
        if not wait:
            return ref
        return self.expect((ACK, ERROR), timeout,
                           pred=lambda f: f.ref == ref and (f.type == ACK or f.req_type == SAY))

    def msg(self, nick, text, ref=None, wait=True, timeout=None):
        """MSG (direct message); like say()."""
        ref = self.next_ref() if ref is None else ref
        self.send(MSG, ref=ref, nick=nick, text=text)
        if not wait:
            return ref
        return self.expect((ACK, ERROR), timeout,
                           pred=lambda f: f.ref == ref and (f.type == ACK or f.req_type == MSG))

    def nick(self, new, timeout=None):
        """NICK; returns our PRESENCE NICK or the ERROR."""
        old = _fold(self.name or "")
        self.send(NICK, nick=new)
        f = self.expect((PRESENCE, ERROR), timeout,
                        pred=lambda f: (f.type == PRESENCE and f.kind == P_NICK
                                        and _fold(f.nick) == old
                                        and _fold(f.new_nick) == _fold(new))
                        or (f.type == ERROR and f.req_type == NICK))
        if f.type == PRESENCE:
            self.name = f.new_nick
        return f

    def part(self, room, timeout=None):
        """PART; returns our PRESENCE PART or the ERROR."""
        me, key = _fold(self.name or ""), _fold(room)
        self.send(PART, room=room)
        return self.expect((PRESENCE, ERROR), timeout,
                           pred=lambda f: (f.type == PRESENCE and f.kind == P_PART
                                           and _fold(f.nick) == me and _fold(f.room) == key)
                           or (f.type == ERROR and f.req_type == PART))

    def topic(self, room, text, timeout=None):
        """TOPIC; returns our ROOM_TOPIC (the change, told to every member
        and to us) or the ERROR."""
        me, key = _fold(self.name or ""), _fold(room)
        self.send(TOPIC, room=room, text=text)
        return self.expect((ROOM_TOPIC, ERROR), timeout,
                           pred=lambda f: (f.type == ROOM_TOPIC and not f.flags & TOPIC_CURRENT
                                           and _fold(f.nick) == me and _fold(f.room) == key)
                           or (f.type == ERROR and f.req_type == TOPIC))

    def _collect_list(self, ftype, req, pred, timeout):
        """Frames of a ROOMS/NAMES reply up to the LAST one."""
        deadline = self._deadline(timeout)
        frames = []
        while True:
            f = self.expect((ftype, ERROR), max(0.0, deadline - time.monotonic()),
                            pred=lambda f: (f.type == ERROR and f.req_type == req)
                            or (f.type == ftype and pred(f)))
            if f.type == ERROR:
                raise ServerError(f)
            frames.append(f)
            if f.flags & LIST_LAST:
                self.last_reply = frames
                return frames

    def list(self, timeout=None):
        """LIST; returns [(room, members)] over all ROOMS frames (the frames
        are in .last_reply).  Raises ServerError on ERROR."""
        self.send(LIST)
        frames = self._collect_list(ROOMS, LIST, lambda f: True, timeout)
        return [entry for f in frames for entry in f.rooms]

    def who(self, room, timeout=None):
        """WHO; returns the member nicks in order.  Raises ServerError."""
        key = _fold(room)
        self.send(WHO, room=room)
        frames = self._collect_list(NAMES, WHO, lambda f: f.room != "" and _fold(f.room) == key,
                                    timeout)
        return [n for f in frames for n in f.nicks]

    def users(self, timeout=None):
        """USERS; returns every online nick.  Raises ServerError."""
        self.send(USERS)
        frames = self._collect_list(NAMES, USERS, lambda f: f.room == "", timeout)
        return [n for f in frames for n in f.nicks]

    def ping(self, token=None, timeout=None):
        """PING and wait for the PONG with its token: a barrier, since the
        server answers in order, so anything it queued for us before
        handling the PING has arrived.  Returns the unclaimed frames that
        came before the PONG (they stay unclaimed)."""
        token = random.getrandbits(64) if token is None else token
        self.send(PING, token=token)
        self.expect(PONG, timeout, token=token)
        return list(self.skipped)

    sync = ping

    def quit(self, timeout=None):
        """QUIT; returns the BYE after checking the server closes."""
        self.send(QUIT)
        bye = self.expect(BYE, timeout)
        self.expect_closed(timeout)
        return bye

    # -- ending -----------------------------------------------------------

    def reset_close(self):
        """Abortive close: SO_LINGER 0 then close, which sends an RST."""
        if not self.closed:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
            self.closed = True

    def finish(self, timeout=None):
        """Orderly close: send FIN (even with unread input here), then read
        until the server closes its side; returns the frames before that."""
        self.sock.shutdown(socket.SHUT_WR)
        frames = self.expect_closed(timeout)
        self.close()
        return frames

    def close(self):
        if not self.closed:
            self.sock.close()
            self.closed = True


_MISSING = object()


# ---------------------------------------------------------------------------
# Server

SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error")


class Server:
    """The real chatd on an ephemeral port of 127.0.0.1.  A context
    manager: leaving it closes the clients made by client(), stops chatd
    with SIGTERM and asserts exit code 0 and no sanitizer report."""

    def __init__(self, chatd_path, *extra_args, start_timeout=10.0):
        self.path = chatd_path
        self.args = [chatd_path, "--listen", "127.0.0.1:0", *map(str, extra_args)]
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.lines = []
        self.clients = []
        self.problems = []
        self._cond = threading.Condition()
        self._eof = False
        self._reader = None

    # -- life cycle -------------------------------------------------------

    def start(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        try:
            m = self.wait_for_line(r"listening on (\S+):(\d+)", self.start_timeout)
        except BaseException:
            self.stop(signal.SIGKILL, 5)
            raise
        self.port = int(m.group(2))
        return self

    def _read_stderr(self):
        for raw in iter(self.proc.stdout.readline, b""):
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    @property
    def pid(self):
        return self.proc.pid

    def wait_for_line(self, regex, timeout=5.0, start=0):
        """Wait for a stderr line matching regex (from line index start);
        returns the match."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return m
                    i += 1
                if self._eof:
                    rc = self.proc.wait(5)
                    raise AssertionError("chatd exited (code %s) before logging /%s/"
                                         % (rc, regex))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Timeout("chatd logged no line matching /%s/ within %.1fs"
                                  % (regex, timeout))
                self._cond.wait(remaining)

    def rss_kb(self):
        """Resident set size from /proc/PID/status, in KiB."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for pid %d" % self.proc.pid)

    def send_signal(self, sig):
        """Send a signal to chatd (only the process we started, by pid)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout):
        """Wait up to timeout for chatd to exit; returns its exit code or
        None if it is still running."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal chatd and wait for it to exit; returns the exit code.
        SIGKILLs it and raises if it does not exit in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._join_reader()
                raise AssertionError("chatd did not exit within %.1fs of %s"
                                     % (timeout, signal.Signals(sig).name)) from None
        self._join_reader()
        return self.proc.returncode

    def _join_reader(self):
        if self._reader is not None:
            self._reader.join(5)

    def check(self):
        """What is wrong with how chatd ended: exit code and sanitizers."""
        problems = []
        rc = self.proc.returncode
        if rc != 0:
            what = ("killed by %s" % signal.Signals(-rc).name if rc is not None and rc < 0
                    else "exit code %s" % rc)
            problems.append("chatd ended with %s (expected 0)" % what)
        with self._cond:
            for line in self.lines:
                if any(mark in line for mark in SANITIZER_MARKS):
                    problems.append("sanitizer report in stderr: %s" % line.strip())
                    break
        return problems

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        for c in self.clients:
            c.close()
        try:
            self.stop()
        except AssertionError as e:
            self.problems.append(str(e))
        self.problems += self.check()
        if self.problems and exc_type is None:
            raise AssertionError("; ".join(self.problems))
        return False

    # -- helpers ----------------------------------------------------------

    def client(self, nick=None, **kw):
        """A Client of this server, closed when the server context ends;
        with nick it is registered (WELCOME asserted)."""
        c = Client(self.port, None, label=kw.pop("label", nick), **kw)
        self.clients.append(c)
        if nick is not None:
            f = c.hello(nick)
            if f.type != WELCOME:
                raise AssertionError("%s: HELLO %r refused: %r" % (c.label, nick, f))
        return c

    def stderr_tail(self, n=40):
        with self._cond:
            return list(self.lines[-n:])


# ---------------------------------------------------------------------------
# Small helpers for scenarios


def maps_mention(pid, *names):
    """True if chatd's memory map names one of these (valgrind's preload,
    a shared sanitizer runtime)."""
    with open("/proc/%d/maps" % pid) as f:
        text = f.read()
    return any(n in text for n in names)


def instrumented(pid):
    """True if chatd runs under valgrind or with AddressSanitizer (shared
    runtime with gcc, linked in with clang): RSS figures mean little then."""
    if maps_mention(pid, "vgpreload", "libasan"):
        return True
    with open("/proc/%d/exe" % pid, "rb") as f:
        return b"__asan_init" in f.read()


def pause(seconds):
    """A deliberate idle period that is itself part of a scenario (a client
    that stays silent, a linger that must run out): not a wait for an
    event, which must use expect() with a deadline instead."""
    time.sleep(seconds)


def wait_until(cond, timeout, interval=0.01, what="condition"):
    """Poll cond() until true or the deadline; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise Timeout("%s not met within %.2fs" % (what, timeout))
        time.sleep(interval)


def assert_eq(got, want, what):
    if got != want:
        raise AssertionError("%s: expected %r, got %r" % (what, want, got))


def assert_error(frame, code, what, ref=None, req_type=None):
    """frame is an ERROR with this code (and ref / request type if given)."""
    if frame is None or frame.type != ERROR or frame.code != code:
        raise AssertionError("%s: expected ERROR %d, got %r" % (what, code, frame))
    if ref is not None and frame.ref != ref:
        raise AssertionError("%s: ERROR %d carries ref %d, expected %d"
                             % (what, code, frame.ref, ref))
    if req_type is not None and frame.req_type != req_type:
        raise AssertionError("%s: ERROR %d names request type 0x%02x, expected 0x%02x"
                             % (what, code, frame.req_type, req_type))


def assert_ack(frame, what):
    if frame is None or frame.type != ACK:
        raise AssertionError("%s: expected ACK, got %r" % (what, frame))
    return frame


_chat_ids = itertools.count(1)


def assert_room_works(sender, receiver, room, text=None):
    """A SAY from sender is ACKed and reaches receiver with the same seq
    (text defaults to a fresh one).  Returns (ACK, MESSAGE)."""
    if text is None:
        text = "still chatting %d" % next(_chat_ids)
    ack = assert_ack(sender.say(room, text), "%s SAY in %s" % (sender.label, room))
    m = receiver.expect(MESSAGE, room=room, text=text)
    assert_eq((m.from_, m.seq, m.flags), (sender.name, ack.seq, 0),
              "%s's MESSAGE (from, seq, flags)" % receiver.label)
    return ack, m


def poll_recv(sock, poll, deadline, size):
    """Wait until deadline for bytes on sock and read up to size of them.
    Returns (data, ended): ended is "eof" or "reset" when the stream is
    over, else None; data is b"" when nothing came in time."""
    remaining = max(0.0, deadline - time.monotonic())
    if not poll.poll(int(remaining * 1000 + 0.999)):
        return b"", None
    try:
        data = sock.recv(size)
    except (BlockingIOError, InterruptedError, socket.timeout):
        return b"", None
    except ConnectionResetError:
        return b"", "reset"
    return data, (None if data else "eof")


def framed_frames(raw):
    """Whole frames decoded from raw bytes, and the bytes left over (for
    what a text client read from a framed listener)."""
    out, buf = [], bytearray(raw)
    while True:
        got = split_frame(buf)
        if got is None:
            return out, bytes(buf)
        ftype, payload, used = got
        del buf[:used]
        out.append(decode(ftype, payload))


def room_pair(srv, room="r"):
    """alice and bob, framed, chatting in room."""
    a, b = srv.client("alice"), srv.client("bob")
    a.join(room)
    b.join(room)
    return a, b


def expect_fatal(x, code, what):
    """x gets ERROR code, nothing after it, and the server closes."""
    err = x.expect(ERROR, timeout=3)
    assert_error(err, code, what)
    x.expect_closed(timeout=3)
    assert_eq(x.received_after(err), [], "%s: frames after the ERROR" % what)
    return err


# ---------------------------------------------------------------------------
# Runner


class TestTimeout(AssertionError):
    pass


class Skip(Exception):
    """Raised by a test that cannot run here (say why): it is reported as
    skipped, never as passed."""


# The exit status of a scenario file whose every test was skipped; ctest
# reports it as skipped (SKIP_RETURN_CODE in tests/CMakeLists.txt).
EXIT_SKIPPED = 77


def chatd_argument():
    """The --chatd path from the command line, for tests that need the
    binary itself rather than a running server."""
    argv = sys.argv
    for i, a in enumerate(argv):
        if a == "--chatd" and i + 1 < len(argv):
            return os.path.abspath(argv[i + 1])
        if a.startswith("--chatd="):
            return os.path.abspath(a.split("=", 1)[1])
    raise AssertionError("no --chatd argument")


def server_args(*args):
    """Decorator: extra chatd arguments for one test."""
    def deco(fn):
        fn.server_args = tuple(map(str, args))
        return fn
    return deco


def _on_alarm(signum, frame):
    raise TestTimeout("test exceeded its overall time bound")


def main(namespace, argv=None):
    """Run the test_* functions of a scenario module; returns the exit code."""
    ap = argparse.ArgumentParser(description="chatd integration scenarios")
    ap.add_argument("--chatd", required=True, help="path to the chatd binary")
    ap.add_argument("-k", action="append", default=[], metavar="NAME",
                    help="run only tests whose name contains NAME (repeatable)")
    ap.add_argument("--time-limit", type=float, default=60.0,
                    help="hard bound per test in seconds (default 60)")
    args = ap.parse_args(argv)
    chatd = os.path.abspath(args.chatd)
    if not (os.path.isfile(chatd) and os.access(chatd, os.X_OK)):
        print("error: %s is not an executable file" % chatd, file=sys.stderr)
        return 2
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    if args.k:
        tests = [(n, f) for n, f in tests if any(k in n for k in args.k)]
    if not tests:
        print("error: no test matches", file=sys.stderr)
        return 2
    module_args = tuple(map(str, namespace.get("SERVER_ARGS", ())))
    # A module whose scenarios take longer than the default bound says so.
    time_limit = max(args.time_limit, float(namespace.get("TIME_LIMIT", 0)))
    signal.signal(signal.SIGALRM, _on_alarm)
    failed = skipped = 0
    for name, fn in tests:
        srv = Server(chatd, *module_args, *getattr(fn, "server_args", ()))
        t0 = time.monotonic()
        err = None
        signal.setitimer(signal.ITIMER_REAL, time_limit)
        try:
            with srv:
                fn(srv)
        except Skip as e:
            err = e
        except Exception as e:  # noqa: BLE001 - every failure is reported
            err = e
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        dt = time.monotonic() - t0
        if isinstance(err, Skip):
            skipped += 1
            print("SKIP %s: %s" % (name, err), flush=True)
            continue
        if err is None:
            print("PASS %s (%.2fs)" % (name, dt), flush=True)
            continue
        failed += 1
        reason = str(err).strip() or type(err).__name__
        print("FAIL %s (%.2fs): %s: %s" % (name, dt, type(err).__name__, reason), flush=True)
        tb = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        print("    " + tb.rstrip().replace("\n", "\n    "))
        for p in srv.problems:
            if p not in reason:
                print("    also: %s" % p)
        if srv.lines:
            print("    --- chatd output (last 40 lines) ---")
            for line in srv.stderr_tail(40):
                print("    | " + line)
        sys.stdout.flush()
    print("%d passed, %d failed, %d skipped" % (len(tests) - failed - skipped, failed, skipped),
          flush=True)
    if failed:
        return 1
    return EXIT_SKIPPED if skipped == len(tests) else 0


# ---------------------------------------------------------------------------
# Codec self-test: round trips, exactness, and vectors produced by the C
# encoders of src/proto/framed/wire.c (checked once against them when written).

VECTORS = [
    # (frame hex, type, fields)
    ("000000060105616c696365", HELLO, dict(nick="alice")),
    ("0000001602056c6f6262790102030405060708000000000000002a", JOIN,
     dict(room="lobby", epoch=0x0102030405060708, since=42)),
    ("00000002030172", PART, dict(room="r")),
    ("000000140400000007027231000b68c3a96c6c6f20f09d849e", SAY,
     dict(ref=7, room="r1", text="h\u00e9llo \U0001d11e")),
    ("0000000c05ffffffff03626f6200026869", MSG, dict(ref=0xFFFFFFFF, nick="bob", text="hi")),
    ("000000060605414c494345", NICK, dict(nick="ALICE")),
    ("0000000007", LIST, {}),
    ("0000000308027232", WHO, dict(room="r2")),
    ("0000000009", USERS, {}),
    ("000000000c", QUIT, {}),
    ("000000080affffffffffffffff", PING, dict(token=0xFFFFFFFFFFFFFFFF)),
    ("000000080b0000000000000001", PONG, dict(token=1)),
    ("0000002d410105616c6963650563686174640000200010002040000000000000000000100000003200"
     "400000753000007530", WELCOME,
     dict(version=1, nick="alice", server="chatd", max_frame=8192, max_text=4096,
          max_nick=32, max_room=64, flood_rate=0, flood_burst=0, max_queue=1 << 20,
          history_len=50, max_rooms=64, ping_interval_ms=30000, ping_timeout_ms=30000)),
    ("000000164201720000000000000009000000000000007800000003", JOINED,
     dict(room="r", epoch=9, last_seq=120, members=3)),
    ("0000001543017200000000000000090000000000000078003203", HISTORY_END,
     dict(room="r", epoch=9, last_seq=120, count=50, flags=3)),
    ("0000001a44010172016100000000000000470000018bcfe56800000378797a", MESSAGE,
     {"flags": 1, "room": "r", "from": "a", "seq": 71, "time_ms": 1700000000000,
      "text": "xyz"}),
    ("0000000f45040000016101620000000000000005", PRESENCE,
     dict(kind=P_NICK, reason=0, room="", nick="a", new_nick="b", time_ms=5)),
    ("0000000f46010002016100000001014200011170", ROOMS, dict(flags=1, rooms=[("a", 1), ("B", 70000)])),
    ("0000000947000000020178027979", NAMES, dict(flags=0, room="", nicks=["x", "yy"])),
    ("0000001448000000030000000000000000000000000000000c", ACK, dict(ref=3, seq=0, time_ms=12)),
    ("000000154900d30500000003000c6e6f20737563682075736572", ERROR,
     dict(code=211, req_type=MSG, ref=3, text="no such user")),
    ("000000174a060014736572766572207368757474696e6720646f776e", BYE,
     dict(reason=6, text="server shutting down")),
    ("000000384b00056c6f62627900000" "4b0000000010000000100000193" "5d78867b0003010003657665"
     "0005030464617665000400036" "26f6205626f626279", SUMMARY,
     dict(flags=0, room="lobby", members=1200, joins=1, leaves=1, time_ms=1732440000123,
          events=[(1, 0, "eve", ""), (5, 3, "dave", ""), (4, 0, "bob", "bobby")])),
    ("0000001b4c02056c6f626279056361726f6c000c676f6e652066697368696e67", REASON,
     dict(kind=P_PART, room="lobby", nick="carol", text="gone fishing")),
]


def _selftest():
    samples = {
        HELLO: dict(nick="alice"),
        JOIN: dict(room="lobby", epoch=0x0102030405060708, since=42),
        PART: dict(room="r"),
        SAY: dict(ref=7, room="r1", text="h\u00e9llo \U0001d11e"),
        MSG: dict(ref=0xFFFFFFFF, nick="bob", text="hi"),
        NICK: dict(nick="ALICE"),
        LIST: {}, WHO: dict(room="r2"), USERS: {}, QUIT: {},
        HISTORY: dict(room="r", before=71, limit=50),
        TOPIC: dict(room="r", text="plans for friday"),
        ROOM_TOPIC: dict(flags=TOPIC_CURRENT, room="r", nick="bob", time_ms=7, text=""),
        PING: dict(token=0xFFFFFFFFFFFFFFFF), PONG: dict(token=1),
        WELCOME: dict(version=1, nick="alice", server="chatd", max_frame=8192,
                      max_text=4096, max_nick=32, max_room=64, flood_rate=0,
                      flood_burst=0, max_queue=1 << 20, history_len=50, max_rooms=64,
                      ping_interval_ms=30000, ping_timeout_ms=30000),
        JOINED: dict(room="r", epoch=9, last_seq=120, members=3),
        HISTORY_END: dict(room="r", epoch=9, last_seq=120, count=50, flags=3),
        MESSAGE: {"flags": 1, "room": "r", "from": "a", "seq": 71,
                  "time_ms": 1700000000000, "text": "x" * 300},
        PRESENCE: dict(kind=P_NICK, reason=0, room="", nick="a", new_nick="b", time_ms=5),
        ROOMS: dict(flags=1, rooms=[("a", 1), ("B", 70000)]),
        NAMES: dict(flags=0, room="", nicks=["x", "yy"]),
        ACK: dict(ref=3, seq=0, time_ms=12),
        ERROR: dict(code=211, req_type=MSG, ref=3, text="no such user"),
        BYE: dict(reason=6, text="server shutting down"),
        SUMMARY: dict(flags=1, room="r", members=200, joins=70, leaves=2, time_ms=9,
                      events=[(4, 0, "a", "b")]),
        REASON: dict(kind=P_QUIT, room="r", nick="a", text="bye \u00e0 tous"),
    }
    assert set(samples) == set(LAYOUTS)
    for t, fields in samples.items():
        wire = encode(t, **fields)
        ft, payload, used = split_frame(wire + b"\x00\x00")
        assert (ft, used) == (t, len(wire)), t
        assert decode_payload(t, payload) == fields, (t, decode_payload(t, payload))
        if payload:
            try:
                decode_payload(t, payload[:-1])
                raise AssertionError("short %s accepted" % TYPE_NAMES[t])
            except DecodeError:
                pass
        try:
            decode_payload(t, payload + b"\x00")
            raise AssertionError("trailing byte after %s accepted" % TYPE_NAMES[t])
        except DecodeError:
            pass
    try:
        decode_payload(0x3E, b"")
        raise AssertionError("unknown type decoded")
    except DecodeError:
        pass
    assert split_frame(b"\x00\x00\x00") is None
    assert split_frame(b"\x00\x00\x00\x02\x0a\x00") is None
    for hexframe, t, fields in VECTORS:
        wire = bytes.fromhex(hexframe)
        assert encode(t, **fields) == wire, (TYPE_NAMES[t], encode(t, **fields).hex(), hexframe)
        ft, payload, _ = split_frame(wire)
        assert ft == t and decode_payload(t, payload) == fields, TYPE_NAMES[t]
    doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                       "protocol.md")
    ndoc = 0
    if os.path.exists(doc):
        with open(doc, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"vector (\w+): ([0-9a-f ]+)$", line.rstrip("\n"))
                if not m or m.group(1) == "preface":
                    if m:
                        assert bytes.fromhex(m.group(2)) == PREFACE, "doc preface"
                    continue
                wire = bytes.fromhex(m.group(2))
                got = split_frame(wire)
                assert got is not None and got[2] == len(wire), "doc vector %s" % m.group(1)
                fields = decode_payload(got[0], got[1])
                assert encode(got[0], **fields) == wire, "doc vector %s" % m.group(1)
                ndoc += 1
    print("codec self-test passed (%d round trips, %d C vectors, %d docs/protocol.md vectors)"
          % (len(samples), len(VECTORS), ndoc))


if __name__ == "__main__":
    _selftest()
