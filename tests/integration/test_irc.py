#!/usr/bin/env python3
"""IRC front end: IRC clients chat in chatd's rooms with everyone else.

Detection on the shared port from the first line (CAP, NICK, USER, PASS)
and a listener pinned to irc, registration in every order with CAP LS 302
/ REQ / END, the welcome burst 001-005 and 422, JOIN with NAMES and the
history as marked notices, PRIVMSG and NOTICE between IRC, framed and
text clients in one room, direct messages, PART, QUIT, NICK and drops
seen across front ends, nick collisions (433), and bad input: overlong
lines (417), unknown commands (421), bare CR, NUL and invalid UTF-8
(docs/irc.md).  The second slice: NAMES, WHO, WHOIS, LIST, MODE, AWAY,
ISON, USERHOST, MOTD, LUSERS, VERSION, TIME with their numerics, the
ISUPPORT additions, and the IRCv3 capabilities (server-time,
message-tags up to 8191 bytes of tags, echo-message, multi-prefix,
userhost-in-names, cap-notify, batch: history as a chathistory batch).
Run as

    python3 test_irc.py --chatd build/chatd
"""

import os
import re
import select
import socket
import sys
import tempfile
import time

import chatdtest as t
from chatdtest import MESSAGE, PRESENCE
from textclient import chat_re, listener_port, text_client

SERVER_ARGS = ("--detect-window", "0.2")


class IrcLine:
    """One parsed line from the server: .source, .cmd, .params, .raw."""

    __slots__ = ("source", "cmd", "params", "raw")

    def __init__(self, raw):
        self.raw = raw
        s = raw
        self.source = None
        if s.startswith("@"):  # tags (tags_of() reads them from .raw)
            s = s.partition(" ")[2]
        if s.startswith(":"):
            self.source, _, s = s[1:].partition(" ")
        trailing = None
        if " :" in s:
            s, _, trailing = s.partition(" :")
        words = s.split()
        self.cmd = words[0] if words else ""
        self.params = words[1:] + ([trailing] if trailing is not None else [])

    @property
    def nick(self):
        return (self.source or "").split("!", 1)[0]

    def __repr__(self):
        return repr(self.raw)


class IrcClient:
    """An IRC connection over a raw socket; lines wait in .inbox until an
    expect() claims them.  Server PINGs are answered while reading."""

    def __init__(self, port, label="irc", timeout=5.0, auto_pong=True):
        self.label = label
        self.timeout = timeout
        self.auto_pong = auto_pong
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self._poll = select.poll()
        self._poll.register(self.sock, select.POLLIN)
        self.buf = bytearray()
        self.raw = bytearray()
        self.inbox = []
        self.all = []
        self.eof = None
        self.closed = False
        self.nick = None

    def send_raw(self, data):
        self.sock.setblocking(True)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)

    def send(self, line):
        self.send_raw(line.encode() + b"\r\n")

    def _read_some(self, deadline):
        if self.eof or self.closed:
            return False
        data, ended = t.poll_recv(self.sock, self._poll, deadline, 1 << 16)
        if ended:
            self.eof = ended
            return True
        if not data:
            return False
        self.raw += data
        self.buf += data
        while True:
            i = self.buf.find(b"\r\n")
            if i < 0:
                break
            line = IrcLine(self.buf[:i].decode("utf-8", "replace"))
            del self.buf[:i + 2]
            self.all.append(line)
            if self.auto_pong and line.cmd == "PING":
                self.send("PONG :" + (line.params[-1] if line.params else ""))
                continue
            self.inbox.append(line)
        return True

    def expect(self, cmd, pred=None, timeout=None):
        """The first unclaimed line with command cmd (a numeric as "001")
        for which pred(line) holds; earlier lines stay unclaimed."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        i = 0
        while True:
            while i < len(self.inbox):
                ln = self.inbox[i]
                if ln.cmd == cmd and (pred is None or pred(ln)):
                    return self.inbox.pop(i)
                i += 1
            if self.eof:
                raise t.Closed("%s: connection ended (%s) waiting for %s; got %r"
                               % (self.label, self.eof, cmd, self.inbox[-12:]))
            if time.monotonic() >= deadline:
                raise t.Timeout("%s: no %s within %.1fs; got %r"
                                % (self.label, cmd, deadline - time.monotonic() + (
                                    self.timeout if timeout is None else timeout),
                                   self.inbox[-12:]))
            self._read_some(deadline)

    def expect_text(self, cmd, text, timeout=None):
        """A line cmd whose last parameter is text."""
        return self.expect(cmd, lambda ln: ln.params and ln.params[-1] == text, timeout)

    def sync(self, timeout=None):
        """A barrier: PING with a unique token and wait for its PONG;
        returns the unclaimed lines before it (left unclaimed)."""
        tok = "sync%f" % time.monotonic()
        self.send("PING :" + tok)
        self.expect("PONG", lambda ln: ln.params[-1] == tok, timeout)
        return list(self.inbox)

    def none(self, cmd, pred=None, wait=0.3):
        """Assert no unclaimed line cmd (matching pred) comes within wait."""
        end = time.monotonic() + wait
        while time.monotonic() < end and self._read_some(end):
            pass
        bad = [ln for ln in self.inbox if ln.cmd == cmd and (pred is None or pred(ln))]
        if bad:
            raise AssertionError("%s: unexpected %s: %r" % (self.label, cmd, bad))

    def register(self, nick, cap=False):
        if cap:
            self.send("CAP LS 302")
        self.send("NICK " + nick)
        self.send("USER %s 0 * :%s the tester" % (nick, nick))
        if cap:
            self.expect("CAP")
            self.send("CAP END")
        self.expect("001")
        self.expect("422")
        self.nick = nick
        self.label = nick
        self.inbox = []

    def join(self, channel):
        self.send("JOIN " + channel)
        self.expect("366", lambda ln: ln.params[1].lower() == channel.lower())

    def expect_closed(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.eof:
            if time.monotonic() >= deadline:
                raise t.Timeout("%s: still open; got %r" % (self.label, self.inbox[-12:]))
            self._read_some(deadline)

    def reset_close(self):
        import struct
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def close(self):
        if not self.closed:
            self.sock.close()
            self.closed = True


def irc(srv, nick=None, port=None, cap=False):
    c = IrcClient(srv.port if port is None else port, label=nick or "irc")
    srv.clients.append(c)
    if nick:
        c.register(nick, cap)
    return c


# ---------------------------------------------------------------------------
# Registration


def test_nick_user_gets_the_welcome_burst_001_to_005_then_422(srv):
    c = irc(srv)
    c.send("NICK alice")
    c.send("USER alice 0 * :Alice A")
    got = []
    for code in ("001", "002", "003", "004", "005", "422"):
        ln = c.expect(code)
        t.assert_eq(ln.params[0], "alice", "%s is addressed to the nick" % code)
        got.append(ln)
    if got[0].params[-1] != "Welcome to the chatd IRC network, alice":
        raise AssertionError("001 text %r" % got[0].params[-1])
    tokens = dict((w.split("=", 1) + [""])[:2] for w in got[4].params[1:-1])
    t.assert_eq(tokens.get("CASEMAPPING"), "ascii", "005 CASEMAPPING")
    t.assert_eq(tokens.get("CHANTYPES"), "#", "005 CHANTYPES")
    t.assert_eq(tokens.get("NICKLEN"), "32", "005 NICKLEN")
    t.assert_eq(tokens.get("CHANNELLEN"), "65", "005 CHANNELLEN")
    t.assert_eq(tokens.get("NETWORK"), "chatd", "005 NETWORK")
    t.assert_eq(got[4].params[-1], "are supported by this server", "005 trailing")
    # The raw bytes: every line ends in CR LF and is at most 512 bytes.
    for line in bytes(c.raw).split(b"\r\n")[:-1]:
        if len(line) + 2 > 512 or b"\r" in line or b"\n" in line:
            raise AssertionError("bad line %r" % line)


def test_user_before_nick_and_pass_accepted_in_any_order(srv):
    a = irc(srv)
    a.send("PASS secret")
    a.send("USER x 0 * :X")
    a.send("NICK alice")
    a.expect("001")
    b = irc(srv)
    b.send("USER y 0 * :Y")
    b.none("001", wait=0.3)  # no nick yet: not registered
    b.send("NICK bob")
    t.assert_eq(b.expect("001").params[0], "bob", "001 after USER then NICK")
    b.send("USER again 0 * :again")
    b.expect("462")


def test_cap_ls_302_holds_registration_until_cap_end(srv):
    c = irc(srv)
    c.send("CAP LS 302")
    c.send("NICK alice")
    c.send("USER alice 0 * :A")
    ls = c.expect("CAP")
    t.assert_eq(ls.params[:2], ["*", "LS"], "CAP LS reply")
    t.assert_eq(sorted(ls.params[-1].split()),
                ["away-notify", "batch", "cap-notify", "draft/chathistory", "echo-message",
                 "labeled-response", "message-tags", "multi-prefix", "server-time",
                 "userhost-in-names"], "CAP LS offers")
    # All or nothing: one unknown name refuses the whole request.
    c.send("CAP REQ :multi-prefix draft/nonesuch")
    nak = c.expect("CAP")
    t.assert_eq(nak.params, ["*", "NAK", "multi-prefix draft/nonesuch"], "CAP REQ refused")
    c.send("CAP REQ :multi-prefix server-time")
    ack = c.expect("CAP")
    t.assert_eq(ack.params, ["*", "ACK", "multi-prefix server-time"], "CAP REQ acknowledged")
    c.none("001", wait=0.4)
    c.send("CAP END")
    c.expect("001")
    c.expect("422")
    c.send("CAP LIST")
    t.assert_eq(c.expect("CAP").params, ["alice", "LIST", "multi-prefix server-time"],
                "CAP LIST after registration")
    c.send("CAP REQ -server-time")
    t.assert_eq(c.expect("CAP").params[1:], ["ACK", "-server-time"], "CAP REQ -cap")
    c.send("CAP LIST")
    t.assert_eq(c.expect("CAP").params[-1], "multi-prefix", "CAP LIST after -server-time")


def test_commands_before_registration_get_451_but_ping_works(srv):
    c = irc(srv)
    c.send("NICK alice")
    c.send("JOIN #r")
    c.expect("451")
    c.send("PING :early")
    t.assert_eq(c.expect("PONG").params[-1], "early", "PONG before registration")


def test_nick_collision_with_a_framed_user_gets_433(srv):
    srv.client("Bob")
    c = irc(srv)
    c.send("NICK bob")
    c.send("USER bob 0 * :B")
    ln = c.expect("433")
    t.assert_eq(ln.params[:2], ["*", "bob"], "433 * bob")
    c.send("NICK bob_")
    t.assert_eq(c.expect("001").params[0], "bob_", "registered under the second nick")
    # A nick change onto a framed user's nick, any case.
    c.send("NICK BOB")
    t.assert_eq(c.expect("433").params[:2], ["bob_", "BOB"], "433 on NICK change")
    c.send("NICK bad!nick")
    c.expect("432")


def test_framed_user_cannot_take_an_irc_nick(srv):
    irc(srv, "alice")
    f = srv.client()
    t.assert_error(f.hello("ALICE"), t.E_NICK_TAKEN, "HELLO ALICE while alice is on IRC")


# ---------------------------------------------------------------------------
# Detection


def test_text_and_framed_clients_still_detected_beside_irc(srv):
    a = irc(srv, "alice")
    txt = text_client(srv, "tom")   # sends its name line at once: still text
    f = srv.client("fred")
    for who in (a,):
        who.join("#r")
    txt.join("r")
    f.join("r")
    t.assert_ack(f.say("r", "hello all"), "fred's SAY")
    a.expect_text("PRIVMSG", "hello all")
    txt.expect_line(chat_re("r", "fred", "hello all"))


def test_a_text_client_typing_nick_without_space_is_text(srv):
    c = text_client(srv)
    c.send_line("nick")
    c.expect_line(r"^\* hello nick\b")


@t.server_args("--listen", "127.0.0.1:0/irc")
def test_irc_pinned_listener(srv):
    port = listener_port(srv, "irc")
    c = irc(srv, "alice", port=port)
    c.send("PING :x")
    c.expect("PONG")
    bad = IrcClient(port, "bad")
    srv.clients.append(bad)
    bad.send("HELLO there")
    ln = bad.expect("ERROR")
    if "IRC" not in ln.params[-1]:
        raise AssertionError("pinned listener's refusal: %r" % ln)
    bad.expect_closed()


# ---------------------------------------------------------------------------
# Rooms


def test_join_several_channels_gives_names_and_marked_history(srv):
    f = srv.client("fred")
    f.join("lobby")
    for i in range(3):
        t.assert_ack(f.say("lobby", "old %d" % i), "SAY")
    t.assert_ack(f.say("lobby", "/me waves"), "SAY /me")
    c = irc(srv, "alice")
    c.send("JOIN #lobby,#other")
    j = c.expect("JOIN")
    t.assert_eq((j.nick, j.params), ("alice", ["#lobby"]), "own JOIN echo")
    names = c.expect("353")
    t.assert_eq(names.params[:3], ["alice", "=", "#lobby"], "353 head")
    t.assert_eq(sorted(names.params[-1].split()), ["alice", "fred"], "353 names")
    c.expect("366", lambda ln: ln.params[1] == "#lobby")
    head = c.expect("NOTICE")
    if not head.params[-1].startswith("*** history: the last 4 messages of #lobby"):
        raise AssertionError("history header %r" % head)
    hist = [c.expect("NOTICE") for _ in range(4)]
    for i in range(3):
        if not re.match(r"^\[history \d\d:\d\d UTC\] <fred> old %d$" % i, hist[i].params[-1]):
            raise AssertionError("history line %r" % hist[i])
        t.assert_eq(hist[i].params[0], "#lobby", "history notice target")
        t.assert_eq(hist[i].source, "chatd", "history comes from the server")
    if not re.match(r"^\[history \d\d:\d\d UTC\] \* fred waves$", hist[3].params[-1]):
        raise AssertionError("history action %r" % hist[3])
    end = c.expect("NOTICE")
    if "end of history" not in end.params[-1]:
        raise AssertionError("history end %r" % end)
    t.assert_eq(c.expect("JOIN").params, ["#other"], "second channel joined")
    c.expect("366", lambda ln: ln.params[1] == "#other")
    # Joined again: ignored; a bad channel: 403.
    c.send("JOIN #lobby,&local,#bad/name")
    t.assert_eq(c.expect("403").params[1], "&local", "403 for a non-# channel")
    t.assert_eq(c.expect("403").params[1], "#bad/name", "403 for a name chatd refuses")
    c.sync()
    c.none("JOIN")
    f.expect(PRESENCE, kind=t.P_JOIN, nick="alice", room="lobby")


def test_privmsg_between_irc_framed_and_text_in_one_room(srv):
    a = irc(srv, "alice")
    f = srv.client("fred")
    txt = text_client(srv, "tom")
    a.join("#r")
    f.join("r")
    txt.join("r")
    a.send("PRIVMSG #r :hello from irc")
    m = f.expect(MESSAGE, text="hello from irc")
    t.assert_eq((m.room, m.from_), ("r", "alice"), "framed sees the IRC message")
    txt.expect_line(chat_re("r", "alice", "hello from irc"))
    t.assert_ack(f.say("r", "hello from framed"), "SAY")
    ln = a.expect_text("PRIVMSG", "hello from framed")
    t.assert_eq((ln.source, ln.params[0]), ("fred!fred@chatd", "#r"), "PRIVMSG source")
    txt.send_line("hello from text")
    ln = a.expect_text("PRIVMSG", "hello from text")
    t.assert_eq(ln.nick, "tom", "text user's line as PRIVMSG")
    # Actions both ways; NOTICE is delivered as a message.
    a.send("PRIVMSG #r :\x01ACTION dances\x01")
    txt.expect_line(r"#r \* alice dances$")
    txt.send_line("/me bows")
    a.expect_text("PRIVMSG", "\x01ACTION bows\x01")
    a.send("NOTICE #r :a notice")
    f.expect(MESSAGE, text="a notice")
    # The sender gets no echo.
    a.sync()
    a.none("PRIVMSG", lambda ln: ln.nick == "alice")
    # Not a member: 404; NOTICE errors are never answered.
    a.send("PRIVMSG #elsewhere :hi")
    t.assert_eq(a.expect("404").params[1], "#elsewhere", "404 outside the room")
    a.send("NOTICE #elsewhere :hi")
    a.send("NOTICE nobody :hi")
    a.sync()
    a.none("404")
    a.none("401")


def test_a_long_framed_message_is_cut_into_lines_of_512_bytes(srv):
    a = irc(srv, "alice")
    f = srv.client("fred")
    a.join("#r")
    f.join("r")
    text = ("\u00e9" * 700) + "\r\nQUIT :injected"
    t.assert_ack(f.say("r", text), "SAY")
    a.sync()
    got = [ln for ln in a.inbox if ln.cmd == "PRIVMSG"]
    if len(got) < 3:
        raise AssertionError("a 1416-byte message in %d lines" % len(got))
    for line in bytes(a.raw).split(b"\r\n"):
        if len(line) + 2 > 512:
            raise AssertionError("line of %d bytes" % (len(line) + 2))
    joined = "".join(ln.params[-1] for ln in got)
    t.assert_eq(joined, ("\u00e9" * 700) + "  QUIT :injected", "the text, CR LF as spaces")
    if any(ln.cmd == "QUIT" for ln in a.inbox):
        raise AssertionError("CR LF in a message made a line of its own")


def test_direct_messages_between_irc_and_framed(srv):
    a = irc(srv, "alice")
    f = srv.client("fred")
    a.send("PRIVMSG fred :psst")
    m = f.expect(MESSAGE, text="psst")
    t.assert_eq((m.from_, bool(m.flags & t.MSG_DIRECT)), ("alice", True), "direct MESSAGE")
    t.assert_ack(f.msg("alice", "back at you"), "MSG")
    ln = a.expect_text("PRIVMSG", "back at you")
    t.assert_eq((ln.source, ln.params[0]), ("fred!fred@chatd", "alice"), "direct PRIVMSG")
    a.send("PRIVMSG nobody :hello?")
    t.assert_eq(a.expect("401").params[1], "nobody", "401 no such nick")
    a.send("PRIVMSG fred,#nochan :two targets")
    f.expect(MESSAGE, text="two targets")
    a.expect("404")
    a.send("PRIVMSG")
    a.expect("411")
    a.send("PRIVMSG fred")
    a.expect("412")


def test_part_quit_and_nick_seen_across_front_ends(srv):
    a = irc(srv, "alice")
    b = irc(srv, "bob")
    f = srv.client("fred")
    for c in (a, b):
        c.join("#r")
        c.join("#s")
    f.join("r")
    a.expect("JOIN", lambda ln: ln.nick == "bob")
    # An IRC PART: others see it, the parter gets its echo.
    b.send("PART #s :see you")
    t.assert_eq(b.expect("PART").params[0], "#s", "own PART echo")
    t.assert_eq(a.expect("PART").nick, "bob", "alice sees bob part")
    b.send("PART #s")
    t.assert_eq(b.expect("442").params[1], "#s", "442 not on that channel")
    # A framed user's nick change and part.
    f.nick("freddy")
    ln = a.expect("NICK")
    t.assert_eq((ln.nick, ln.params[-1]), ("fred", "freddy"), "NICK from framed")
    f.part("r")
    t.assert_eq(a.expect("PART").nick, "freddy", "framed PART")
    # An IRC nick change.
    a.send("NICK alicia")
    ln = a.expect("NICK")
    t.assert_eq((ln.nick, ln.params[-1]), ("alice", "alicia"), "own NICK echo")
    t.assert_eq(b.expect("NICK", lambda ln: ln.nick == "alice").params[-1], "alicia",
                "bob sees the change")
    b.sync()
    b.none("NICK", lambda ln: ln.nick == "alice")  # once, though they share two rooms
    # QUIT: the quitter's ERROR, and one QUIT for bob though they share two rooms.
    a.send("QUIT :bye now")
    err = a.expect("ERROR")
    if "bye now" not in err.params[-1]:
        raise AssertionError("QUIT's ERROR %r" % err)
    a.expect_closed()
    q = b.expect("QUIT")
    t.assert_eq((q.nick, q.params[-1]), ("alicia", "Quit: bye now"),
                "QUIT seen with its reason")
    b.sync()
    b.none("QUIT")


def test_drops_are_quits_with_their_reason(srv):
    a = irc(srv, "alice")
    a.join("#r")
    f = srv.client("fred")
    f.join("r")
    f.reset_close()
    q = a.expect("QUIT")
    t.assert_eq((q.nick, q.params[-1]), ("fred", "Connection reset"), "drop as QUIT")
    b = irc(srv, "bob")
    b.join("#r")
    b.reset_close()
    t.assert_eq(a.expect("QUIT").params[-1], "Connection reset", "IRC user dropped")
    f2 = srv.client("fred2")
    f2.join("r")
    a.send("QUIT")
    a.expect_closed()
    p = f2.expect(PRESENCE, kind=t.P_QUIT, nick="alice")
    t.assert_eq(p.room, "r", "framed sees the IRC QUIT")


@t.server_args("--ping-interval", "0.3", "--ping-timeout", "0.4")
def test_silent_irc_client_is_pinged_then_dropped_as_ping_timeout(srv):
    a = irc(srv, "alice")
    a.join("#r")
    mute = IrcClient(srv.port, "mute", auto_pong=False)
    srv.clients.append(mute)
    mute.register("mute")
    mute.join("#r")
    # alice reads (and so answers her own pings) while mute stays silent.
    q = a.expect("QUIT", timeout=3)
    t.assert_eq((q.nick, q.params[-1]), ("mute", "Ping timeout"), "ping timeout as QUIT")
    ping = mute.expect("PING", timeout=3)
    t.assert_eq(ping.params[-1], "chatd", "server PING token")
    err = mute.expect("ERROR", timeout=3)
    if "Ping timeout" not in err.params[-1]:
        raise AssertionError("dropped client's ERROR %r" % err)
    a.sync()  # alice, who answered, is still there


# ---------------------------------------------------------------------------
# Bad input


def test_overlong_line_gets_417_and_the_connection_goes_on(srv):
    a = irc(srv, "alice")
    a.join("#r")
    f = srv.client("fred")
    f.join("r")
    a.send("PRIVMSG #r :" + "x" * 600)
    a.expect("417")
    # Exactly 510 bytes and CR LF is a line.
    line = "PRIVMSG #r :" + "y" * (510 - len("PRIVMSG #r :"))
    a.send(line)
    f.expect(MESSAGE, text="y" * (510 - len("PRIVMSG #r :")))
    # An overlong line sent in pieces, then a good one.
    a.send_raw(b"PRIVMSG #r :" + b"z" * 400)
    time.sleep(0.1)
    a.send_raw(b"z" * 400 + b"\r\nPRIVMSG #r :after\r\n")
    a.expect("417")
    f.expect(MESSAGE, text="after")


def test_unknown_command_gets_421(srv):
    a = irc(srv, "alice")
    a.send("FROBNICATE now")
    ln = a.expect("421")
    t.assert_eq(ln.params[:2], ["alice", "FROBNICATE"], "421 names the command")
    a.send("ping :lower case works")
    a.expect("PONG")


def test_bare_cr_nul_and_invalid_utf8(srv):
    a = irc(srv, "alice")
    a.join("#r")
    f = srv.client("fred")
    f.join("r")
    # A bare CR ends a line, as LF does.
    a.send_raw(b"PRIVMSG #r :one\rPRIVMSG #r :two\n")
    f.expect(MESSAGE, text="one")
    f.expect(MESSAGE, text="two")
    # NUL and invalid UTF-8 are refused with FAIL ... INVALID_UTF8, nothing delivered.
    a.send_raw(b"PRIVMSG #r :nul\x00byte\r\n")
    t.assert_eq(a.expect("FAIL").params[:2], ["PRIVMSG", "INVALID_UTF8"], "FAIL for NUL")
    a.send_raw(b"PRIVMSG #r :bad \xff\xfe utf8\r\n")
    t.assert_eq(a.expect("FAIL").params[:2], ["PRIVMSG", "INVALID_UTF8"], "FAIL for bad UTF-8")
    a.send_raw(b"NICK al\x00ice\r\n")
    a.expect("432")
    a.send("PRIVMSG #r :still here")
    f.expect(MESSAGE, text="still here")
    f.drain(0.2)
    if any(x.type == MESSAGE and ("nul" in x.text or "utf8" in x.text) for x in f.log):
        raise AssertionError("a refused message was delivered")


@t.server_args("--handshake-timeout", "0.5")
def test_registration_that_never_ends_cap_times_out(srv):
    c = irc(srv)
    c.send("CAP LS 302")
    c.send("NICK alice")
    c.send("USER alice 0 * :A")
    ln = c.expect("ERROR", timeout=3)
    if "Registration timeout" not in ln.params[-1]:
        raise AssertionError("handshake timeout ERROR %r" % ln)
    c.expect_closed()


@t.server_args("--flood-rate", "10", "--flood-burst", "5")
def test_flood_control_delays_irc_lines_and_drops_none(srv):
    a = irc(srv, "alice")
    a.join("#r")
    f = srv.client("fred")
    f.join("r")
    t0 = time.monotonic()
    a.send_raw(b"".join(b"PRIVMSG #r :line %d\r\n" % i for i in range(25)))
    for i in range(25):
        f.expect(MESSAGE, text="line %d" % i)
    took = time.monotonic() - t0
    if took < 1.2:
        raise AssertionError("25 lines at 10/s (burst 5) delivered in %.2f s" % took)


def test_sigterm_tells_irc_clients_before_closing(srv):
    import signal
    a = irc(srv, "alice")
    srv.send_signal(signal.SIGTERM)
    ln = a.expect("ERROR")
    t.assert_eq(ln.params[-1], "Closing Link: alice (Server shutting down)", "shutdown ERROR")
    a.expect_closed()
    t.assert_eq(srv.wait(10), 0, "chatd exit code after SIGTERM")


# ---------------------------------------------------------------------------
# Queries and info (second slice)


def test_welcome_burst_has_lusers_and_isupport_prefix_and_budgets(srv):
    f = srv.client("fred")
    f.join("lobby")
    c = irc(srv)
    c.send("NICK alice")
    c.send("USER alice 0 * :A")
    tokens = {}
    for _ in range(2):
        ln = c.expect("005")
        tokens.update(dict((w.split("=", 1) + [""])[:2] for w in ln.params[1:-1]))
    t.assert_eq(tokens.get("PREFIX"), "", "005 PREFIX (no operators)")
    t.assert_eq(tokens.get("CHANMODES"), ",,,nt", "005 CHANMODES")
    t.assert_eq(tokens.get("AWAYLEN"), "200", "005 AWAYLEN")
    t.assert_eq(tokens.get("MAXTARGETS"), "4", "005 MAXTARGETS")
    if "PRIVMSG:4" not in tokens.get("TARGMAX", ""):
        raise AssertionError("005 TARGMAX %r" % tokens.get("TARGMAX"))
    t.assert_eq(c.expect("251").params[-1], "There are 2 users and 0 invisible on 1 servers",
                "251 counts every front end's users")
    t.assert_eq(c.expect("254").params[1], "1", "254 channels")
    t.assert_eq(c.expect("255").params[-1], "I have 2 clients and 0 servers", "255")
    c.expect("422")
    c.send("LUSERS")
    c.expect("251")
    c.expect("255")
    c.send("MOTD")
    c.expect("422")


def fred_and_alice_in_lobby(srv):
    """A framed fred and an IRC alice, both in the room lobby."""
    f = srv.client("fred")
    f.join("lobby")
    a = irc(srv, "alice")
    a.join("#lobby")
    return f, a


def test_names_with_and_without_a_channel(srv):
    f, a = fred_and_alice_in_lobby(srv)
    a.send("NAMES #lobby,#nowhere")
    ln = a.expect("353")
    t.assert_eq(ln.params[:3], ["alice", "=", "#lobby"], "353 head")
    t.assert_eq(sorted(ln.params[-1].split()), ["alice", "fred"], "353 names")
    a.expect("366", lambda ln: ln.params[1] == "#lobby")
    t.assert_eq(a.expect("366").params[1], "#nowhere", "366 for a channel with nobody")
    a.send("NAMES")
    t.assert_eq(a.expect("353").params[2], "#lobby", "NAMES: the client's channels")
    t.assert_eq(a.expect("366").params[1], "*", "366 * ends a NAMES of all")


def test_who_of_a_channel_and_of_a_mask(srv):
    f, a = fred_and_alice_in_lobby(srv)
    a.send("WHO #lobby")
    lines = [a.expect("352"), a.expect("352")]
    t.assert_eq(sorted(ln.params[5] for ln in lines), ["alice", "fred"], "352 nicks")
    ln = [x for x in lines if x.params[5] == "fred"][0]
    t.assert_eq(ln.params[1:7], ["#lobby", "fred", "chatd", "chatd", "fred", "H"], "352 fields")
    t.assert_eq(ln.params[-1], "0 fred", "352 hopcount and real name")
    t.assert_eq(a.expect("315").params[1], "#lobby", "315 names the mask")
    a.send("WHO fr*")
    ln = a.expect("352")
    t.assert_eq((ln.params[1], ln.params[5]), ("*", "fred"), "WHO of a nick mask")
    t.assert_eq(a.expect("315").params[1], "fr*", "315 after a mask")
    srv.client("freddy")
    srv.client("fr")
    for mask, want in (("FRED", ["fred"]), ("fr*", ["fr", "fred", "freddy"]),
                       ("*d?", ["freddy"]), ("zz*", []), ("*", ["alice", "fr", "fred", "freddy"])):
        a.send("WHO " + mask)
        a.sync()  # the PONG comes after the whole answer
        got = [ln.params[5] for ln in a.inbox if ln.cmd == "352"]
        a.inbox = [ln for ln in a.inbox if ln.cmd != "352"]
        a.expect("315", lambda ln: ln.params[1] == mask)
        t.assert_eq(got, want, "WHO %s" % mask)


def test_whois_a_user_and_an_unknown_nick(srv):
    f = srv.client("fred")
    f.join("lobby")
    f.join("den")
    a = irc(srv, "alice")
    a.send("WHOIS FRED")
    t.assert_eq(a.expect("311").params[1:5], ["fred", "fred", "chatd", "*"], "311")
    t.assert_eq(sorted(a.expect("319").params[-1].split()), ["#den", "#lobby"], "319")
    t.assert_eq(a.expect("312").params[1:3], ["fred", "chatd"], "312")
    t.assert_eq(a.expect("318").params[1], "fred", "318")
    a.send("WHOIS nobody")
    t.assert_eq(a.expect("401").params[1], "nobody", "401 for an unknown nick")
    t.assert_eq(a.expect("318").params[1], "nobody", "318 after 401")


def test_list_gives_channels_with_member_counts(srv):
    f, a = fred_and_alice_in_lobby(srv)
    a.join("#den")
    a.send("LIST")
    a.expect("321")
    got = {}
    for _ in range(2):
        ln = a.expect("322")
        got[ln.params[1]] = ln.params[2]
    t.assert_eq(got, {"#lobby": "2", "#den": "1"}, "322 channels and counts")
    a.expect("323")
    a.send("LIST #den,#nowhere")
    a.expect("321")
    t.assert_eq(a.expect("322").params[1:3], ["#den", "1"], "LIST of one channel")
    a.expect("323")
    a.sync()
    a.none("322")


def test_mode_user_and_channel_and_refusals(srv):
    f = srv.client("fred")
    a = irc(srv, "alice")
    a.join("#r")
    a.send("MODE alice")
    t.assert_eq(a.expect("221").params[1], "+", "221 own modes")
    a.send("MODE alice +i")
    a.send("MODE alice +z")
    a.expect("501")
    a.send("MODE fred")
    a.expect("502")
    a.send("MODE nobody")
    a.expect("401")
    a.send("MODE #r")
    t.assert_eq(a.expect("324").params[1:], ["#r", "+nt"], "324 channel modes")
    a.send("MODE #r b")
    a.expect("368")
    a.send("MODE #r +nt")
    a.send("MODE #r +o fred")
    t.assert_eq(a.expect("482").params[1], "#r", "482: no operators")
    a.send("MODE #r +Z")
    t.assert_eq(a.expect("472").params[1], "Z", "472 unknown mode letter")
    a.send("MODE #nowhere")
    a.expect("403")
    a.sync()
    a.none("221")
    a.none("MODE")


def test_away_is_told_to_senders_and_in_who_whois_userhost(srv):
    a = irc(srv, "alice")
    b = irc(srv, "bob")
    a.join("#r")
    b.join("#r")
    a.send("AWAY :gone fishing")
    a.expect("306")
    b.send("PRIVMSG alice :there?")
    ln = b.expect("301")
    t.assert_eq(ln.params[1:], ["alice", "gone fishing"], "301 to the sender")
    a.expect_text("PRIVMSG", "there?")
    b.send("NOTICE alice :quiet")
    b.sync()
    b.none("301")
    b.send("WHO #r")
    flags = dict((x.params[5], x.params[6]) for x in (b.expect("352"), b.expect("352")))
    t.assert_eq(flags, {"alice": "G", "bob": "H"}, "352 G for away")
    b.send("USERHOST alice bob nobody")
    t.assert_eq(sorted(b.expect("302").params[-1].split()),
                ["alice=-alice@chatd", "bob=+bob@chatd"], "302")
    b.send("WHOIS alice")
    t.assert_eq(b.expect("301").params[-1], "gone fishing", "301 in WHOIS")
    b.expect("318")
    a.send("AWAY")
    a.expect("305")
    b.send("PRIVMSG alice :back?")
    b.sync()
    b.none("301")


def test_ison_version_and_time(srv):
    srv.client("fred")
    a = irc(srv, "alice")
    a.send("ISON Fred nobody alice")
    t.assert_eq(a.expect("303").params[-1].split(), ["fred", "alice"], "303")
    a.send("ISON :nobody")
    t.assert_eq(a.expect("303").params[-1], "", "303 empty")
    a.send("VERSION")
    ln = a.expect("351")
    if not ln.params[1].startswith("chatd-"):
        raise AssertionError("351 %r" % ln)
    a.expect("005")
    a.send("TIME")
    ln = a.expect("391")
    t.assert_eq(ln.params[1], "chatd", "391 server")
    if abs(int(ln.params[2]) - time.time()) > 5:
        raise AssertionError("391 timestamp %r" % ln)


# ---------------------------------------------------------------------------
# IRCv3 capabilities


ISO_MS = r"^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def tags_of(ln):
    """The tags of a raw line as a dict, and the line without them."""
    if not ln.raw.startswith("@"):
        return {}, ln
    head, _, rest = ln.raw.partition(" ")
    tags = dict((kv.split("=", 1) + [""])[:2] for kv in head[1:].split(";"))
    return tags, IrcLine(rest)


def capped(srv, nick, caps):
    c = irc(srv)
    c.send("CAP LS 302")
    c.send("CAP REQ :" + caps)
    c.send("NICK " + nick)
    c.send("USER %s 0 * :%s" % (nick, nick))
    t.assert_eq(c.expect("CAP", lambda ln: ln.params[1] == "ACK").params[-1], caps, "ACK")
    c.send("CAP END")
    c.expect("001")
    c.expect("422")
    c.nick = c.label = nick
    c.inbox = []
    return c


def test_server_time_tags_messages_and_events_with_iso_ms(srv):
    a = capped(srv, "alice", "server-time")
    a.join("#r")
    f = srv.client("fred")
    f.join("r")
    ln = a.expect("JOIN", lambda ln: ln.raw.find("fred!") >= 0)
    tags, _ = tags_of(ln)
    if not re.match(ISO_MS, "time=" + tags.get("time", "")):
        raise AssertionError("JOIN without @time: %r" % ln)
    t.assert_ack(f.say("r", "tick"), "SAY")
    ln = a.expect("PRIVMSG", lambda ln: ln.params[-1] == "tick")
    tags, _ = tags_of(ln)
    if not re.match(ISO_MS, "time=" + tags.get("time", "")):
        raise AssertionError("PRIVMSG without @time: %r" % ln)
    # A client without server-time gets no tags.
    b = irc(srv, "bob")
    b.join("#r")
    t.assert_ack(f.say("r", "tock"), "SAY")
    if not b.expect_text("PRIVMSG", "tock").raw.startswith(":fred!"):
        raise AssertionError("untagged client got tags")


def test_message_tags_accepted_up_to_8191_bytes_of_tags(srv):
    a = capped(srv, "alice", "message-tags")
    a.join("#r")
    f = srv.client("fred")
    f.join("r")
    tags = "@+draft/x=" + "v" * (8191 - len("@+draft/x=") - 1) + " "
    a.send(tags + "PRIVMSG #r :tagged")
    f.expect(MESSAGE, text="tagged")
    a.send("@" + "t" * 8191 + " PRIVMSG #r :too many tags")
    a.expect("417")
    a.send("@+typing=active TAGMSG #r")
    a.send("@a=b PRIVMSG #r :" + "x" * 600)
    a.expect("417")
    a.send("PRIVMSG #r :after")
    f.expect(MESSAGE, text="after")
    a.sync()
    a.none("421")


def test_echo_message_returns_own_privmsg_and_notice(srv):
    a = capped(srv, "alice", "echo-message")
    a.join("#r")
    f = srv.client("fred")
    a.send("PRIVMSG #r :hello me")
    ln = a.expect_text("PRIVMSG", "hello me")
    t.assert_eq((ln.source, ln.params[0]), ("alice!alice@chatd", "#r"), "echo of PRIVMSG")
    a.send("NOTICE fred :psst")
    f.expect(MESSAGE, text="psst")
    ln = a.expect_text("NOTICE", "psst")
    t.assert_eq(ln.params[0], "fred", "echo of a NOTICE to a nick")
    b = irc(srv, "bob")
    b.join("#r")
    b.send("PRIVMSG #r :no echo")
    b.sync()
    b.none("PRIVMSG")


def test_userhost_in_names_and_multi_prefix(srv):
    a = capped(srv, "alice", "multi-prefix userhost-in-names cap-notify")
    a.join("#r")
    a.send("NAMES #r")
    t.assert_eq(a.expect("353").params[-1], "alice!alice@chatd", "353 with userhost")


def test_batch_and_server_time_get_history_as_chathistory_batch(srv):
    f = srv.client("fred")
    f.join("lobby")
    for i in range(3):
        t.assert_ack(f.say("lobby", "old %d" % i), "SAY")
    t.assert_ack(f.say("lobby", "/me waves"), "SAY /me")
    a = capped(srv, "alice", "batch server-time")
    a.join("#lobby")
    start = a.expect("BATCH")
    t.assert_eq(start.params[1:], ["chathistory", "#lobby"], "BATCH + chathistory")
    ref = start.params[0]
    if not ref.startswith("+"):
        raise AssertionError("batch start %r" % start)
    got = []
    for _ in range(4):
        ln = a.expect("PRIVMSG")
        tags, _ = tags_of(ln)
        t.assert_eq(tags.get("batch"), ref[1:], "batch tag")
        if not re.match(ISO_MS, "time=" + tags.get("time", "")):
            raise AssertionError("history without @time: %r" % ln)
        t.assert_eq((ln.nick, ln.params[0]), ("fred", "#lobby"), "history PRIVMSG")
        got.append(ln.params[-1])
    t.assert_eq(got, ["old 0", "old 1", "old 2", "\x01ACTION waves\x01"], "history texts")
    t.assert_eq(a.expect("BATCH").params, ["-" + ref[1:]], "BATCH -")
    a.sync()
    a.none("NOTICE")
    # batch without server-time: the notices of today.
    b = capped(srv, "bob", "batch")
    b.join("#lobby")
    if "history" not in b.expect("NOTICE").params[-1]:
        raise AssertionError("no NOTICE playback without server-time")


# ---------------------------------------------------------------------------
# The third slice: msgid, labeled-response, away-notify, CHATHISTORY,
# PART and QUIT reasons, the line and tag lengths as configuration.


def test_msgid_is_epoch_dash_seq_of_the_framed_ack(srv):
    f = srv.client("fred")
    j = f.join("lobby")
    a = capped(srv, "alice", "message-tags")
    a.join("#lobby")
    ack = t.assert_ack(f.say("lobby", "hello"), "SAY")
    ln = a.expect("PRIVMSG")
    tags, _ = tags_of(ln)
    t.assert_eq(tags.get("msgid"), "%d-%d" % (j.joined.epoch, ack.seq), "msgid")
    # A client without message-tags gets no tags at all.
    b = irc(srv, "bob")
    b.join("#lobby")
    t.assert_ack(f.say("lobby", "again"), "SAY")
    if b.expect("PRIVMSG").raw.startswith("@"):
        raise AssertionError("tags for a client that did not ask")


def test_labeled_response_single_line_batch_and_ack(srv):
    a = capped(srv, "alice", "batch labeled-response")
    # One line of answer: it carries the label.
    a.send("@label=p1 PING :tok")
    pong = a.expect("PONG")
    t.assert_eq(tags_of(pong)[0].get("label"), "p1", "labeled PONG")
    # Several lines: a labeled-response batch holds them all.
    a.send("@label=j1 JOIN #lobby")
    start = a.expect("BATCH")
    t.assert_eq(tags_of(start)[0].get("label"), "j1", "label on BATCH +")
    t.assert_eq(start.params[1:], ["labeled-response"], "batch type")
    ref = start.params[0][1:]
    for cmd in ("JOIN", "353", "366"):
        ln = a.expect(cmd)
        t.assert_eq(tags_of(ln)[0].get("batch"), ref, "%s inside the batch" % cmd)
    t.assert_eq(a.expect("BATCH").params, ["-" + ref], "BATCH -")
    # No answer at all: ACK.
    a.send("@label=m1 PRIVMSG #lobby :hi")
    ack = a.expect("ACK")
    t.assert_eq(tags_of(ack)[0].get("label"), "m1", "labeled ACK")
    # An error is an answer too; a label too long is ignored.
    a.send("@label=u1 FROBNICATE")
    t.assert_eq(tags_of(a.expect("421"))[0].get("label"), "u1", "labeled 421")
    a.send("@label=%s PING :x" % ("z" * 65))
    if "label" in tags_of(a.expect("PONG"))[0]:
        raise AssertionError("a 65-byte label was used")
    # A labeled QUIT still says goodbye, labeled, before the close.
    q = capped(srv, "quinn", "batch labeled-response")
    q.send("@label=q1 QUIT :bye")
    err = q.expect("ERROR")
    t.assert_eq(tags_of(err)[0].get("label"), "q1", "labeled ERROR of a QUIT")
    q.expect_closed()
    # Without the capability the label is not echoed.
    b = irc(srv, "bob")
    b.send("@label=p2 PING :tok")
    if b.expect("PONG").raw.startswith("@"):
        raise AssertionError("label echoed without labeled-response")


def test_away_notify_tells_channel_peers_once(srv):
    a = capped(srv, "alice", "away-notify")
    b = irc(srv, "bob")
    c = irc(srv, "carol")
    for x in (a, b, c):
        x.join("#one")
    a.join("#two")
    b.join("#two")
    b.send("AWAY :lunch")
    b.expect("306")
    ln = a.expect("AWAY")
    t.assert_eq((ln.nick, ln.params), ("bob", ["lunch"]), "AWAY told")
    a.sync()
    a.none("AWAY")                       # once, though they share two channels
    c.none("AWAY")                       # carol did not ask for away-notify
    # A user who joins while away: its JOIN, then its AWAY.
    d = irc(srv, "dave")
    d.send("AWAY :gone")
    d.expect("306")
    d.join("#one")
    a.expect("JOIN", lambda ln: ln.nick == "dave")
    t.assert_eq(a.expect("AWAY").params, ["gone"], "AWAY after JOIN")
    b.send("AWAY")
    b.expect("305")
    t.assert_eq(a.expect("AWAY", lambda ln: ln.nick == "bob").params, [], "back: AWAY alone")
    # Cut at 200 bytes between characters; not UTF-8: refused.
    b.send("AWAY :" + "x" * 199 + "\u00e9\u00e9")
    b.expect("306")
    t.assert_eq(a.expect("AWAY").params, ["x" * 199], "cut before a split character")
    b.send_raw(b"AWAY :caf\xe9\r\n")
    t.assert_eq(b.expect("FAIL").params[:2], ["AWAY", "INVALID_UTF8"], "Latin-1 AWAY")
    # The same words again tell nobody.
    b.send("AWAY :" + "x" * 199)
    b.expect("306")
    a.sync()
    a.none("AWAY")


def chathistory_texts(c, cmd, target):
    """Send a CHATHISTORY, return [(msgid, text)] of its batch (what came
    before it is dropped)."""
    c.sync()
    c.inbox = []
    c.send(cmd)
    start = c.expect("BATCH")
    t.assert_eq(start.params[1:], ["chathistory", target], "batch of %s" % cmd)
    ref = start.params[0][1:]
    got = []
    # Lines come in order: PRIVMSGs then BATCH -ref.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        idx = [i for i, ln in enumerate(c.inbox) if ln.cmd == "BATCH"
               and ln.params == ["-" + ref]]
        if not idx:
            c._read_some(deadline)
            continue
        if idx:
            lines = c.inbox[:idx[0]]
            del c.inbox[:idx[0] + 1]
            for ln in lines:
                tags, _ = tags_of(ln)
                t.assert_eq(tags.get("batch"), ref, "batch tag")
                got.append((tags.get("msgid"), ln.params[-1]))
            return got
    raise t.Timeout("no end of batch for %s" % cmd)


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def test_chathistory_latest_before_after_around_between_targets(srv):
    f = srv.client("fred")
    j = f.join("lobby")
    acks = [t.assert_ack(f.say("lobby", "m%d" % i), "SAY") for i in range(10)]
    ids = ["%d-%d" % (j.joined.epoch, a.seq) for a in acks]
    texts = ["m%d" % i for i in range(10)]
    a = capped(srv, "alice", "batch draft/chathistory message-tags server-time")
    isup = " ".join(ln.raw for ln in a.all if ln.cmd == "005")
    if "CHATHISTORY=100" not in isup or "MSGREFTYPES=msgid,timestamp" not in isup:
        raise AssertionError("ISUPPORT lacks CHATHISTORY: %s" % isup)

    def q(cmd):
        return chathistory_texts(a, cmd, "#lobby")

    t.assert_eq(q("CHATHISTORY LATEST #lobby * 3"), list(zip(ids[7:], texts[7:])), "LATEST *")
    t.assert_eq(q("CHATHISTORY LATEST #lobby msgid=%s 50" % ids[6]),
                list(zip(ids[7:], texts[7:])), "LATEST after a msgid")
    t.assert_eq(q("CHATHISTORY BEFORE #lobby msgid=%s 2" % ids[5]),
                list(zip(ids[3:5], texts[3:5])), "BEFORE")
    t.assert_eq(q("CHATHISTORY AFTER #lobby msgid=%s 3" % ids[5]),
                list(zip(ids[6:9], texts[6:9])), "AFTER")
    t.assert_eq(q("CHATHISTORY AROUND #lobby msgid=%s 4" % ids[5]),
                list(zip(ids[3:7], texts[3:7])), "AROUND")
    t.assert_eq(q("CHATHISTORY BETWEEN #lobby msgid=%s msgid=%s 10" % (ids[2], ids[6])),
                list(zip(ids[3:6], texts[3:6])), "BETWEEN forward")
    t.assert_eq(q("CHATHISTORY BETWEEN #lobby msgid=%s msgid=%s 2" % (ids[8], ids[1])),
                list(zip(ids[6:8], texts[6:8])), "BETWEEN backward: the newest 2")
    # Timestamps: before the first message's time, nothing; after it, all.
    t0 = acks[0].time_ms
    t.assert_eq(q("CHATHISTORY BEFORE #lobby timestamp=%s 10" % iso(t0)), [],
                "BEFORE the first time")
    got = q("CHATHISTORY AFTER #lobby timestamp=%s 100" % iso(t0 - 1))
    t.assert_eq([x[1] for x in got], texts, "AFTER a time before all")
    # A nick's history is empty (direct messages are not kept), a
    # msgid of another epoch refers to nothing.
    t.assert_eq(chathistory_texts(a, "CHATHISTORY LATEST fred * 10", "fred"), [], "nick")
    t.assert_eq(q("CHATHISTORY BEFORE #lobby msgid=1-5 10"), [], "another epoch")
    # TARGETS: the channels of the client with messages in the window.
    a.join("#lobby")
    a.sync()
    a.inbox = []                         # the join's history batch
    a.send("CHATHISTORY TARGETS timestamp=%s timestamp=%s 10"
           % (iso(t0 - 1000), iso(acks[-1].time_ms + 1000)))
    start = a.expect("BATCH")
    t.assert_eq(start.params[1:], ["draft/chathistory-targets"], "TARGETS batch")
    ln = a.expect("CHATHISTORY")
    t.assert_eq(ln.params[:2], ["TARGETS", "#lobby"], "TARGETS line")
    t.assert_eq(ln.params[2], iso(acks[-1].time_ms), "TARGETS time")
    a.expect("BATCH")
    # Refusals.
    for cmd, code in (("CHATHISTORY FETCH #lobby * 5", "INVALID_PARAMS"),
                      ("CHATHISTORY BEFORE #lobby * 5", "INVALID_PARAMS"),
                      ("CHATHISTORY BEFORE #lobby msgid=zz 5", "INVALID_PARAMS"),
                      ("CHATHISTORY AFTER #lobby timestamp=2026-02-30T00:00:00Z 5",
                       "INVALID_PARAMS"),
                      ("CHATHISTORY LATEST #lobby * 0", "INVALID_PARAMS"),
                      ("CHATHISTORY LATEST #lobby *", "NEED_MORE_PARAMS"),
                      ("CHATHISTORY LATEST #a,b * 5", "INVALID_TARGET")):
        a.send(cmd)
        fail = a.expect("FAIL")
        t.assert_eq(fail.params[:2], ["CHATHISTORY", code], cmd)


def test_chathistory_reads_the_store_past_the_ring(srv):
    with tempfile.TemporaryDirectory() as d:
        with t.Server(srv.path, "--store", os.path.join(d, "c.db"), "--history", "10",
                      "--flood-rate", "0", *SERVER_ARGS) as s:
            f = s.client("fred")
            j = f.join("lobby")
            acks = [t.assert_ack(f.say("lobby", "s%d" % i), "SAY") for i in range(40)]
            a = capped(s, "alice", "batch draft/chathistory message-tags")
            got = chathistory_texts(a, "CHATHISTORY BEFORE #lobby msgid=%d-%d 25"
                                    % (j.joined.epoch, acks[30].seq), "#lobby")
            t.assert_eq([x[1] for x in got], ["s%d" % i for i in range(5, 30)],
                        "25 before the 31st, most from the store")
            got = chathistory_texts(a, "CHATHISTORY AFTER #lobby msgid=%d-%d 3"
                                    % (j.joined.epoch, acks[0].seq), "#lobby")
            t.assert_eq([x[1] for x in got], ["s1", "s2", "s3"], "AFTER from the store")


def test_part_and_quit_reasons_reach_irc_from_every_front_end(srv):
    a = irc(srv, "alice")
    a.join("#r")
    b = irc(srv, "bob")
    b.join("#r")
    b.send("PART #r :gone fishing")
    t.assert_eq(a.expect("PART").params, ["#r", "gone fishing"], "IRC PART reason")
    tc = text_client(srv, "tom")
    tc.join("r")
    a.expect("JOIN", lambda ln: ln.nick == "tom")
    tc.send_line("/part r see you")
    t.assert_eq(a.expect("PART", lambda ln: ln.nick == "tom").params, ["#r", "see you"],
                "telnet /part reason")
    tc.join("r")
    a.expect("JOIN", lambda ln: ln.nick == "tom")
    tc.send_line("/quit time for bed")
    t.assert_eq(a.expect("QUIT", lambda ln: ln.nick == "tom").params,
                ["Quit: time for bed"], "telnet /quit reason")
    # No reason: PART without a trailing parameter.
    b.join("#r")
    a.expect("JOIN", lambda ln: ln.nick == "bob")
    b.send("PART #r")
    t.assert_eq(a.expect("PART", lambda ln: ln.nick == "bob").params, ["#r"], "no reason")


@t.server_args("--irc-line-max", "1024", "--irc-tags-max", "600")
def test_line_and_tag_lengths_are_configuration_keys(srv):
    a = capped(srv, "alice", "message-tags")
    isup = " ".join(ln.raw for ln in a.all if ln.cmd == "005")
    if "LINELEN=1024" not in isup:
        raise AssertionError("005 LINELEN: %s" % isup)
    b = irc(srv, "bob")
    a.join("#r")
    b.join("#r")
    text = "x" * 950
    a.send("PRIVMSG #r :" + text)        # 964 bytes: past 512, within 1024
    t.assert_eq(b.expect("PRIVMSG").params[-1], text, "a 964-byte line arrives whole")
    a.send("PRIVMSG #r :" + "y" * 1020)  # 1032 bytes with CR LF: too long
    a.expect("417")
    a.send("@+x=%s PRIVMSG #r :tagged" % ("t" * 600))
    a.expect("417")
    a.send("@+x=%s PRIVMSG #r :tagged" % ("t" * 500))
    t.assert_eq(b.expect("PRIVMSG").params[-1], "tagged", "tags within 600 pass")
    a.sync()


@t.server_args("--flood-rate", "7", "--flood-burst", "9", "--max-queue", "131072",
               "--max-members", "300")
def test_isupport_gives_the_budgets_and_server_time_tags_numerics(srv):
    a = capped(srv, "alice", "server-time")
    isup = " ".join(ln.raw for ln in a.all if ln.cmd == "005")
    for tok in ("FLOODRATE=7", "FLOODBURST=9", "SENDQ=131072", "MAXMEMBERS=300"):
        if tok not in isup.split():
            raise AssertionError("005 lacks %s: %s" % (tok, isup))
    # What the server says itself carries the time it said it.
    a.send("PING :t")
    tags, _ = tags_of(a.expect("PONG"))
    if not re.match(ISO_MS, "time=" + tags.get("time", "")):
        raise AssertionError("PONG without @time: %r" % tags)
    a.send("MOTD")
    if "time" not in tags_of(a.expect("422"))[0]:
        raise AssertionError("numeric without @time")


@t.server_args("--server-name", "s" * 63)
def test_labeled_batch_with_the_longest_server_name(srv):
    a = capped(srv, "alice", "batch labeled-response")
    a.send("@label=j1 JOIN #lobby")
    start = a.expect("BATCH")
    t.assert_eq((start.source, start.params[1:]), ("s" * 63, ["labeled-response"]),
                "BATCH + whole with a 63-byte server name")
    a.expect("366")
    t.assert_eq(a.expect("BATCH").params, ["-" + start.params[0][1:]], "BATCH -")
    # NAMES of a 64-byte channel, 32-byte nicks: every nick listed, no
    # 353 line past 512 bytes though the server's name is 63.
    room = "#" + "r" * 64
    nicks = ["n%031d" % i for i in range(12)]
    for n in nicks:
        irc(srv, n).join(room)
    me = irc(srv, "m" * 32)
    me.join(room)
    me.send("NAMES " + room)
    me.expect("366", lambda ln: ln.params[-1] == "End of /NAMES list")
    raw = bytes(me.raw).split(b"\r\n")
    lines = [ln for ln in raw if b" 353 " in ln]
    for ln in lines:
        if len(ln) + 2 > 512:
            raise AssertionError("353 of %d bytes" % (len(ln) + 2))
    missing = set(nicks) - set(w for ln in lines for w in ln.decode().split(":")[-1].split())
    t.assert_eq(missing, set(), "nicks missing from 353")


def test_chathistory_time_further_back_than_5000_messages_is_refused(srv):
    with tempfile.TemporaryDirectory() as d:
        with t.Server(srv.path, "--store", os.path.join(d, "c.db"), "--history", "10",
                      "--flood-rate", "0", *SERVER_ARGS) as s:
            a = capped(s, "alice", "batch draft/chathistory message-tags server-time")
            a.join("#h")
            a.send_raw(b"".join(b"PRIVMSG #h :m%d\r\n" % i for i in range(5100)))
            a.sync(timeout=30)
            a.send("CHATHISTORY BEFORE #h timestamp=1970-01-01T00:00:00.000Z 5")
            fail = a.expect("FAIL")
            t.assert_eq(fail.params[:3], ["CHATHISTORY", "INVALID_PARAMS", "BEFORE"],
                        "a time past 5000 messages back")
            # A recent time is found: the last 3 after a time in the future
            # are none, and LATEST after the first of today's gives them.
            got = chathistory_texts(a, "CHATHISTORY AFTER #h timestamp=2999-01-01T00:00:00Z 3",
                                    "#h")
            t.assert_eq(got, [], "AFTER a future time")
            got = chathistory_texts(a, "CHATHISTORY LATEST #h * 2", "#h")
            t.assert_eq([x[1] for x in got], ["m5098", "m5099"], "LATEST *")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
