#!/usr/bin/env python3
"""Part and quit reasons across front ends, and IRC formatting on terminals.

A user who leaves a room or the server may say why (protocol.md 5.3, 6.12,
17.5; http.md 4): `/part ROOM WHY` and `/quit WHY` on a terminal, `PART
#room :WHY` and `QUIT :WHY` on IRC.  Every member hears the words on every
front end:

- telnet: the presence line ends in ": WHY" ("HH:MM * alice left #r: WHY",
  "HH:MM * alice quit (#r): WHY"); without words nothing is appended;
- framed: the PRESENCE PART or QUIT is followed at once by a REASON frame
  (0x4c: kind, room, nick, text); without words no REASON is sent, and a
  client that skips unknown types sees exactly what it saw before;
- WebSocket JSON and the HTTP mailbox: the presence event gains "text".

A reason is UTF-8 text: one over 200 bytes is cut to at most 200 between
characters, and one that is not UTF-8 is dropped while the part still
happens.  /help shows the new arguments in its column.  mIRC formatting
codes sent by an IRC user reach telnet readers as plain text (protocol.md
17.8) and IRC and framed readers byte for byte.

Run as

    python3 test_reasons.py --chatd build/chatd [-k NAME]
"""

import re
import select
import socket
import sys
import time

import chatdtest as t
from chatdtest import MESSAGE, PRESENCE, REASON
from test_http import Session, collect_events
from textclient import CLOCK, chat_re, text_client
from wsclient import WsJson

# Text clients log in after a short window.
SERVER_ARGS = ("--detect-window", "0.2")

REASON_MAX = 200  # CORE_REASON_MAX: bytes of a reason kept


# ---------------------------------------------------------------------------
# A bare IRC client (docs/irc.md): registration, then raw lines.


class Irc:
    """An IRC connection over a raw socket.  Lines are kept as bytes
    (formatting codes and all); PINGs are answered while reading."""

    def __init__(self, srv, nick, timeout=5.0):
        self.label = nick
        self.nick = nick
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self._poll = select.poll()
        self._poll.register(self.sock, select.POLLIN)
        self.buf = bytearray()
        self.inbox = []
        self.eof = None
        self.closed = False
        srv.clients.append(self)
        self.send("NICK " + nick)
        self.send("USER %s 0 * :%s" % (nick, nick))
        self.expect(rb"^:\S+ 001 %s " % re.escape(nick.encode()))

    def send(self, line):
        b = line.encode("utf-8") if isinstance(line, str) else bytes(line)
        self.sock.setblocking(True)
        try:
            self.sock.sendall(b + b"\r\n")
        finally:
            self.sock.setblocking(False)

    def _read_some(self, deadline):
        if self.eof or self.closed:
            return
        data, ended = t.poll_recv(self.sock, self._poll, deadline, 1 << 16)
        if ended:
            self.eof = ended
            return
        self.buf += data
        while True:
            i = self.buf.find(b"\r\n")
            if i < 0:
                return
            line = bytes(self.buf[:i])
            del self.buf[:i + 2]
            if line.startswith(b"PING"):
                self.send(b"PONG" + line[4:])
                continue
            self.inbox.append(line)

    def expect(self, pattern, timeout=None):
        """The first unclaimed line matching pattern (a bytes regex,
        re.search); earlier lines stay unclaimed."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        i = 0
        while True:
            while i < len(self.inbox):
                if rx.search(self.inbox[i]):
                    return self.inbox.pop(i)
                i += 1
            if self.eof:
                raise t.Closed("%s: connection ended (%s) waiting for /%r/; got %r"
                               % (self.label, self.eof, pattern, self.inbox[-12:]))
            if time.monotonic() >= deadline:
                raise t.Timeout("%s: no line /%r/; got %r"
                                % (self.label, pattern, self.inbox[-12:]))
            self._read_some(deadline)

    def join(self, room):
        self.send("JOIN #" + room)
        self.expect(rb"^:%s!\S* JOIN :?#%s$" % (re.escape(self.nick.encode()),
                                                re.escape(room.encode())))

    def close(self):
        if not self.closed:
            self.sock.close()
            self.closed = True


# ---------------------------------------------------------------------------
# The readers: one of each front end in room r


class Readers:
    """bob on telnet, fred framed, jay on WebSocket JSON and hank over HTTP,
    all members of room."""

    def __init__(self, srv, room="r"):
        self.room = room
        self.bob = text_client(srv, "bob")
        self.bob.join(room)
        self.fred = srv.client("fred")
        self.fred.join(room)
        self.jay = WsJson(srv.port, "jay")
        srv.clients.append(self.jay)
        self.jay.join(room)
        self.hank = Session(srv, "hank")
        self.hank.join(room)
        self.after = 0  # the mailbox read so far
        self.sync()

    def sync(self):
        """Everything queued for the push readers so far has arrived; what
        came is left unclaimed."""
        self.bob.sync()
        self.fred.ping()
        self.jay.sync()

    def expect_leave(self, kind, nick, text, joined=False):
        """Every reader hears nick leave room (kind P_PART or P_QUIT) with
        the words text (None: none); with joined, it joined again first
        (the telnet reader skips that line)."""
        room = self.room
        # telnet
        if kind == t.P_PART:
            head = r"^%s \* %s left #%s" % (CLOCK, re.escape(nick), re.escape(room))
        else:
            head = r"^%s \* %s quit \(#%s\)" % (CLOCK, re.escape(nick), re.escape(room))
        tail = "$" if text is None else re.escape(": " + text) + "$"
        line = self.bob.expect_line(head + tail, timeout=3).string
        if text is None:
            t.assert_eq(": " in line[6:], False, "telnet line without a reason: %r" % line)
        # framed: PRESENCE, then REASON right after it, or nothing after it
        p = self.fred.expect(PRESENCE, kind=kind, nick=nick, timeout=3)
        t.assert_eq((p.room, p.reason, p.new_nick), (room, 0, ""), "fred's PRESENCE")
        self.fred.ping()
        after = [f for f in self.fred.received_after(p) if f.type != t.PONG]
        if text is None:
            t.assert_eq([f for f in after if f.type == REASON], [],
                        "REASON frames after a leave without words")
        else:
            if not after or after[0].type != REASON:
                raise AssertionError("fred: the frame after %r is not a REASON: %r"
                                     % (p, after[:3]))
            r = after[0]
            t.assert_eq((r.kind, r.room, r.nick, r.text), (kind, room, nick, text),
                        "fred's REASON")
            self.fred.inbox.remove(r)
        # WebSocket JSON
        name = "part" if kind == t.P_PART else "quit"
        o = self.jay.expect(name, nick=nick, timeout=3)
        t.assert_eq(o.get("room"), room, "jay's %s room" % name)
        t.assert_eq(o.get("text"), text, "jay's %s text" % name)
        if text is None:
            t.assert_eq("text" in o, False, "a %s without words has no text: %r" % (name, o))
        # HTTP mailbox
        evs, self.after = collect_events(
            self.hank, self.after,
            lambda e: any(x["type"] == name and x["nick"] == nick for x in e),
            what="hank's mailbox")
        e = [x for x in evs if x["type"] == name and x["nick"] == nick][-1]
        t.assert_eq(e.get("room"), room, "hank's %s room" % name)
        t.assert_eq(e.get("text"), text, "hank's %s text" % name)
        if text is None:
            t.assert_eq("text" in e, False, "a %s without words has no text: %r" % (name, e))
        return line, r if text is not None else None


# ---------------------------------------------------------------------------
# Reasons from telnet users


def test_telnet_part_with_reason_reaches_every_front_end(srv):
    rd = Readers(srv)
    alice = text_client(srv, "alice")
    alice.join("r")
    alice.send_line("/part r gone fishing")
    line, r = rd.expect_leave(t.P_PART, "alice", "gone fishing")
    t.assert_eq(re.match(r"^\d\d:\d\d \* alice left #r: gone fishing$", line) is not None,
                True, "the telnet line %r" % line)
    # The leaver is told too, and is out of the room.
    alice.expect_line(r"^%s \* alice left #r(: gone fishing)?$" % CLOCK, timeout=3)
    t.assert_eq(sorted(rd.fred.who("r")), ["bob", "fred", "hank", "jay"],
                "members after the part")


def test_telnet_quit_with_reason_reaches_every_front_end(srv):
    rd = Readers(srv)
    alice = text_client(srv, "alice")
    alice.join("r")
    alice.send_line("/quit off to bed, \u00e0 demain")
    alice.expect_closed(timeout=3)
    rd.expect_leave(t.P_QUIT, "alice", "off to bed, \u00e0 demain")
    t.assert_eq(sorted(rd.fred.users()), ["bob", "fred", "hank", "jay"], "users after the quit")


def test_leaving_without_words_adds_nothing(srv):
    rd = Readers(srv)
    alice = text_client(srv, "alice")
    alice.join("r")
    alice.send_line("/part r")
    rd.expect_leave(t.P_PART, "alice", None)
    alice.join("r")
    alice.send_line("/part")  # the current room
    rd.expect_leave(t.P_PART, "alice", None)
    alice.join("r")
    alice.send_line("/quit")
    alice.expect_closed(timeout=3)
    rd.expect_leave(t.P_QUIT, "alice", None)
    # A framed client's PART and QUIT carry no words.
    x = srv.client("xavier")
    x.join("r")
    x.part("r")
    rd.expect_leave(t.P_PART, "xavier", None)
    x.join("r")
    x.quit()
    rd.expect_leave(t.P_QUIT, "xavier", None)
    rd.fred.ping()
    t.assert_eq(rd.fred.received(REASON), [], "REASON frames received by fred")


def test_overlong_reason_is_cut_to_200_bytes_between_characters(srv):
    rd = Readers(srv)
    alice = text_client(srv, "alice")
    alice.join("r")
    # 300 bytes of three-byte characters: 200 falls inside the 67th.
    words = "\u65e5" * 100
    assert len(words.encode()) == 300
    alice.send_line("/part r " + words)
    _, r = rd.expect_leave(t.P_PART, "alice", "\u65e5" * 66)
    n = len(r.text.encode())
    if not REASON_MAX - 3 < n <= REASON_MAX:
        raise AssertionError("REASON text of %d bytes, want the most that fits 200" % n)
    # Four-byte characters: 200 bytes is exactly 50 of them.
    alice.join("r")
    alice.send_line("/part r " + "\U0001f600" * 75)
    rd.expect_leave(t.P_PART, "alice", "\U0001f600" * 50)
    # ASCII before them shifts the cut: 1 + 3 * 66 = 199 bytes.
    alice.join("r")
    alice.send_line("/quit x" + "\u65e5" * 100)
    alice.expect_closed(timeout=3)
    rd.expect_leave(t.P_QUIT, "alice", "x" + "\u65e5" * 66)


def test_reason_that_is_not_utf8_is_dropped_but_the_part_happens(srv):
    rd = Readers(srv)
    alice = text_client(srv, "alice")
    alice.join("r")
    alice.send_line(b"/part r bad \xc3\x28 bytes")
    rd.expect_leave(t.P_PART, "alice", None)
    t.assert_eq(sorted(rd.fred.who("r")), ["bob", "fred", "hank", "jay"],
                "members after the part")
    alice.join("r")
    alice.send_line(b"/part r nul \x00 inside")  # text holds no NUL (protocol.md 9.3)
    rd.expect_leave(t.P_PART, "alice", None)
    alice.join("r")
    alice.send_line(b"/quit \xed\xa0\x80 surrogate")
    alice.expect_closed(timeout=3)
    rd.expect_leave(t.P_QUIT, "alice", None)


def test_help_names_the_reasons_in_its_column(srv):
    """/help shows `/part [ROOM [WHY]]` and `/quit [WHY]`, and every
    command's words start in one column, after at least one space."""
    a = text_client(srv, "alice")
    a.send_line("/help")
    a.expect_line(r"^\* plain lines")
    a.expect_line(r"^\* a line starting with //")
    rows = [x for x in a.skipped if x.startswith("*   /")]
    usages = [re.match(r"^\*   (/\S+(?: \[[^\]]*\]*\]| [A-Z]+)*)", x).group(1) for x in rows]
    for usage in ("/part [ROOM [WHY]]", "/quit [WHY]"):
        t.assert_eq(usage in usages, True, "%s in /help (%r)" % (usage, rows))
    cols = set()
    for x, u in zip(rows, usages):
        rest = x[4 + len(u):]
        if not rest.startswith(" "):
            raise AssertionError("/help row %r: no space after %s" % (x, u))
        cols.add(len(x) - len(rest.lstrip(" ")))
    t.assert_eq(len(cols), 1, "columns where the /help rows' words start (%r)" % rows)
    t.assert_eq([x for x in rows if len(x) > 78], [], "/help rows wider than 78 columns")


def test_a_framed_client_of_before_skips_the_reason_frame(srv):
    """A client that knows only the frame types up to 0x4b reads on past
    the REASON by its length (protocol.md 4.2): it sees the PRESENCE, then
    the next message whole, and its connection goes on."""
    old = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    srv.clients.append(old)
    old.sendall(t.PREFACE + t.encode(t.HELLO, nick="olga") + t.encode(t.JOIN, room="r"))
    alice = text_client(srv, "alice")
    alice.join("r")
    bob = text_client(srv, "bob")
    bob.join("r")
    alice.send_line("/part r gone fishing")
    bob.expect_line(r"left #r: gone fishing$", timeout=3)
    bob.send_line("after the part")
    known = set(t.LAYOUTS) - {REASON}
    buf, seen, skipped = bytearray(), [], []
    deadline = time.monotonic() + 5
    while not any(f.type == MESSAGE for f in seen):
        if time.monotonic() > deadline:
            raise t.Timeout("olga: no MESSAGE after the part; saw %r" % seen)
        old.settimeout(max(0.01, deadline - time.monotonic()))
        data = old.recv(1 << 16)
        if not data:
            raise t.Closed("olga: connection ended; saw %r" % seen)
        buf += data
        while True:
            got = t.split_frame(buf)
            if got is None:
                break
            ftype, payload, used = got
            del buf[:used]
            if ftype in known:
                seen.append(t.decode(ftype, payload))
            else:
                skipped.append((ftype, len(payload)))
    t.assert_eq([x[0] for x in skipped], [REASON], "frame types olga skipped")
    i = next(k for k, f in enumerate(seen) if f.type == PRESENCE and f.kind == t.P_PART)
    t.assert_eq((seen[i].nick, seen[i].room), ("alice", "r"), "olga's PRESENCE PART")
    m = seen[-1]
    t.assert_eq((m.room, m.from_, m.text), ("r", "bob", "after the part"), "olga's MESSAGE")


# ---------------------------------------------------------------------------
# Reasons from IRC users


def test_irc_part_and_quit_reasons_reach_telnet_framed_and_json(srv):
    rd = Readers(srv)
    ivan = Irc(srv, "ivan")
    ivan.join("r")
    ivan.send("PART #r :off to #dev")
    ivan.expect(rb"^:ivan!\S* PART #r")
    rd.expect_leave(t.P_PART, "ivan", "off to #dev")
    ivan.join("r")
    ivan.send("PART #r")  # no words
    ivan.expect(rb"^:ivan!\S* PART #r")
    rd.expect_leave(t.P_PART, "ivan", None)
    ivan.join("r")
    # Formatting in a reason: plain on a terminal, intact elsewhere.
    ivan.send(b"PART #r :\x02later\x02 \x0304all\x03")
    ivan.expect(rb"^:ivan!\S* PART #r")
    line = rd.bob.expect_line(r"^%s \* ivan left #r: " % CLOCK, timeout=3).string
    t.assert_eq(line[6:], "* ivan left #r: later all", "telnet line of a formatted reason")
    r = rd.fred.expect(REASON, nick="ivan", timeout=3)
    t.assert_eq(r.text, "\x02later\x02 \x0304all\x03", "REASON text keeps the codes")
    o = rd.jay.expect("part", nick="ivan", pred=lambda o: "text" in o, timeout=3)
    t.assert_eq(o["text"], "\x02later\x02 \x0304all\x03", "JSON text keeps the codes")
    ivan.join("r")
    ivan.send("QUIT :see you")
    rd.expect_leave(t.P_QUIT, "ivan", "see you")


def test_irc_formatting_is_plain_on_telnet_and_intact_on_irc(srv):
    room = "r"
    bob = text_client(srv, "bob")
    bob.join(room)
    fred = srv.client("fred")
    fred.join(room)
    ira = Irc(srv, "ira")
    ira.join(room)
    ivan = Irc(srv, "ivan")
    ivan.join(room)
    text = b"\x02bold\x02 \x0304,01red\x03 plain \x0410ff20,000000hex\x04"
    ivan.send(b"PRIVMSG #r :" + text)
    bob.expect_line(chat_re(room, "ivan", "bold red plain hex"), timeout=3)
    got = ira.expect(rb"^:ivan!\S* PRIVMSG #r :", timeout=3)
    t.assert_eq(got.split(b" :", 1)[1], text, "the IRC reader's PRIVMSG text")
    m = fred.expect(MESSAGE, from_="ivan", timeout=3)
    t.assert_eq(m.text.encode("utf-8", "surrogateescape"), text, "the framed MESSAGE text")
    # Nothing of the codes reached the terminal, not even as U+FFFD.
    raw = bytes(bob.raw)
    for b in (0x02, 0x03, 0x04, 0x0F, 0x11, 0x16, 0x1D, 0x1E, 0x1F):
        t.assert_eq(bytes([b]) in raw, False, "byte 0x%02x sent to the telnet reader" % b)
    t.assert_eq("\ufffd" in raw.decode("utf-8", "replace"), False,
                "a replacement character on the terminal")
    # Every code, each alone.
    ivan.send(b"PRIVMSG #r :\x1di\x1d\x1fu\x1f\x1es\x1e\x11m\x11\x16r\x16\x0f!")
    bob.expect_line(chat_re(room, "ivan", "iusmr!"), timeout=3)
    got = ira.expect(rb"^:ivan!\S* PRIVMSG #r :", timeout=3)
    t.assert_eq(got.split(b" :", 1)[1], b"\x1di\x1d\x1fu\x1f\x1es\x1e\x11m\x11\x16r\x16\x0f!",
                "the IRC reader's PRIVMSG text")
    # Digits after a colour that are not part of it stay.
    ivan.send(b"PRIVMSG #r :\x03123 \x0312,345 \x03,12 \x04abc")
    bob.expect_line(chat_re(room, "ivan", "3 5 ,12 abc"), timeout=3)


if __name__ == "__main__":
    sys.exit(t.main(globals()))
