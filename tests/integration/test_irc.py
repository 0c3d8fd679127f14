#!/usr/bin/env python3
"""IRC front end: IRC clients chat in chatd's rooms with everyone else.

Detection on the shared port from the first line (CAP, NICK, USER, PASS)
and a listener pinned to irc, registration in every order with CAP LS 302
/ REQ / END, the welcome burst 001-005 and 422, JOIN with NAMES and the
history as marked notices, PRIVMSG and NOTICE between IRC, framed and
text clients in one room, direct messages, PART, QUIT, NICK and drops
seen across front ends, nick collisions (433), and bad input: overlong
lines (417), unknown commands (421), bare CR, NUL and invalid UTF-8
(docs/irc.md).  Run as

    python3 test_irc.py --chatd build/chatd
"""

import re
import select
import socket
import sys
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
    c.send("CAP REQ :multi-prefix server-time")
    nak = c.expect("CAP")
    t.assert_eq(nak.params, ["*", "NAK", "multi-prefix server-time"], "CAP REQ refused")
    c.none("001", wait=0.4)
    c.send("CAP END")
    c.expect("001")
    c.expect("422")
    c.send("CAP LIST")
    t.assert_eq(c.expect("CAP").params, ["alice", "LIST", ""], "CAP LIST after registration")


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
    t.assert_eq((q.nick, q.params[-1]), ("alicia", "Quit"), "QUIT seen")
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


if __name__ == "__main__":
    sys.exit(t.main(globals()))
