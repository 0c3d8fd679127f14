#!/usr/bin/env python3
"""Text mode: people chat with telnet or nc on the same port as programs.

Detection (the silent client greeted after the window, a line at once
meaning text at once, framed clients unaffected, pinned listeners), the
name prompt, every slash command, the shape of what a terminal shows
(join header, history marked "| ", chat lines "HH:MM #room <nick> text",
system lines "* " / "HH:MM * " / "! "), line endings and telnet bytes,
overlong lines, injection of terminal controls, mixed text and framed
rooms, drops, keepalive and shutdown.  Run as

    python3 test_text.py --chatd build/chatd
"""

import re
import signal
import socket
import sys
import time

import chatdtest as t
from chatdtest import MESSAGE, PRESENCE
from textclient import CLOCK, TextClient, chat_re, listener_port, text_client

# A short window keeps the suite quick; tests about the window set their own.
SERVER_ARGS = ("--detect-window", "0.2")

# Every line a text client may see is one of these: a chat line (live or
# history), a direct message or its confirmation, or a system line.
LINE_KINDS = [
    re.compile(r"^(\| )?%s #[A-Za-z0-9_.-]+ (<[^>]+>|\* \S+) " % CLOCK),  # chat, action
    re.compile(r"^%s \*[^*]+\* " % CLOCK),                               # direct message
    re.compile(r"^%s -> \*[^*]+\* " % CLOCK),                            # DM confirmation
    re.compile(r"^%s \* " % CLOCK),                                      # presence
    re.compile(r"^\* "),                                                 # server says
    re.compile(r"^! "),                                                  # error, hint
]


def line_kind(text):
    for i, rx in enumerate(LINE_KINDS):
        if rx.search(text):
            return i
    return None


def assert_clock_is_now(line):
    """The HH:MM of a line is the local time now (or a minute ago)."""
    m = re.search(r"(?:^|\| )(\d\d):(\d\d) ", line)
    if not m:
        raise AssertionError("no HH:MM clock in %r" % line)
    now = time.time()
    ok = {time.strftime("%H:%M", time.localtime(now - d)) for d in (0, 60)}
    if "%s:%s" % m.groups() not in ok:
        raise AssertionError("clock %s:%s in %r is not the local time now (%s)"
                             % (m.group(1), m.group(2), line, sorted(ok)))


# ---------------------------------------------------------------------------
# Detection


@t.server_args("--detect-window", "0.2", "--server-name", "testnet")
def test_silent_client_is_greeted_after_the_detection_window(srv):
    c = TextClient(srv.port, "silent")
    srv.clients.append(c)
    c.read_until("Your name: ", timeout=3)
    first = c.first_rx_at - c.connected_at
    if first < 0.15:
        raise AssertionError("silent client greeted after %.3f s: before the 0.2 s window"
                             % first)
    if first > 1.0:
        raise AssertionError("silent client greeted only after %.3f s (window 0.2 s)" % first)
    lines = c.lines()
    t.assert_eq(len(lines), 1, "lines before the prompt (the welcome)")
    if not re.match(r"^\* welcome to testnet\b", lines[0]):
        raise AssertionError("welcome line does not greet with the server name: %r"
                             % lines[0])
    t.assert_eq(bytes(c.raw).endswith(b"\r\nYour name: "), True,
                "the prompt follows the welcome line, with no line end after it")
    c.send_line("alice")
    c.expect_line(r"^\* hello alice\b")


@t.server_args("--detect-window", "3")
def test_client_sending_a_line_at_once_gets_text_mode_at_once(srv):
    c = TextClient(srv.port, "eager")
    srv.clients.append(c)
    c.send_line("alice")
    c.expect_line(r"^\* hello alice\b", timeout=2)
    elapsed = c.first_rx_at - c.connected_at
    if elapsed > 1.0:
        raise AssertionError("text client that sent a line waited %.2f s for the greeting "
                             "(the 3 s window must not apply)" % elapsed)
    t.assert_eq(bool(re.match(r"^\* welcome to ", c.all_lines[0].text)), True,
                "first line is the welcome (%r)" % c.all_lines[0].text)


@t.server_args("--detect-window", "3")
def test_framed_client_on_the_same_port_is_not_delayed_by_the_window(srv):
    t0 = time.monotonic()
    b = srv.client("bob")
    if time.monotonic() - t0 > 1.0:
        raise AssertionError("framed HELLO answered after %.2f s: it waited for the 3 s "
                             "text window" % (time.monotonic() - t0))
    a = text_client(srv)
    a.send_line("alice")
    a.expect_line(r"^\* hello alice\b", timeout=2)
    b.join("r")
    a.join("r")
    t.assert_ack(b.say("r", "hello from framed"), "bob's SAY")
    a.expect_line(chat_re("r", "bob", "hello from framed"))
    a.send_line("hello from text")
    m = b.expect(MESSAGE, text="hello from text")
    t.assert_eq((m.room, m.from_), ("r", "alice"), "bob's MESSAGE (room, from)")


@t.server_args("--detect-window", "1.5", "--listen", "127.0.0.1:0/text")
def test_text_pinned_listener_greets_at_once(srv):
    port = listener_port(srv, "text")
    c = TextClient(port, "pinned")
    srv.clients.append(c)
    c.read_until("Your name: ", timeout=2)
    elapsed = c.first_rx_at - c.connected_at
    if elapsed > 0.5:
        raise AssertionError("text-pinned listener greeted after %.2f s (no window expected)"
                             % elapsed)
    c.send_line("alice")
    c.expect_line(r"^\* hello alice\b")
    # The auto listener next to it still waits for its window.
    q = TextClient(srv.port, "auto")
    srv.clients.append(q)
    q.read_until("Your name: ", timeout=5)
    if q.first_rx_at - q.connected_at < 1.3:
        raise AssertionError("auto listener greeted a silent client after %.2f s "
                             "(window 1.5 s)" % (q.first_rx_at - q.connected_at))


@t.server_args("--detect-window", "0.1", "--listen", "127.0.0.1:0/framed")
def test_framed_pinned_listener_refuses_a_text_client_with_error_100(srv):
    port = listener_port(srv, "framed")
    c = TextClient(port, "typist")
    srv.clients.append(c)
    c.send_line("alice")
    c.expect_closed(timeout=3)
    frames, rest = t.framed_frames(c.raw)
    if len(frames) != 1 or frames[0].type != t.ERROR or frames[0].code != t.E_BAD_PREFACE:
        raise AssertionError("text client on a framed listener got %r (+%r), expected one "
                             "ERROR 100 frame then close" % (frames, rest))
    t.assert_eq(rest, b"", "bytes after the ERROR frame")
    # Silence is not a person there: no greeting, however long.
    s = TextClient(port, "silent")
    srv.clients.append(s)
    t.pause(0.5)
    s.pump()
    t.assert_eq(bytes(s.raw), b"", "what a silent client on a framed listener was sent")
    # A program is welcome on it.
    f = t.Client(port, label="prog")
    srv.clients.append(f)
    t.assert_eq(f.hello("prog").type, t.WELCOME, "HELLO on the framed listener")


@t.server_args("--detect-window", "0.2")
def test_framed_preface_split_across_slow_sends_is_not_taken_for_a_person(srv):
    f = t.Client(srv.port, label="slowprog", preface=False)
    srv.clients.append(f)
    f.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f.send_raw(t.PREFACE[:1])
    t.pause(0.4)  # twice the window, with one byte of the preface in
    f.send_raw(t.PREFACE[1:5])
    t.pause(0.4)
    f.send_raw(t.PREFACE[5:])
    t.assert_eq(f.hello("prog").type, t.WELCOME, "HELLO after a slow preface")
    t.assert_eq([x for x in f.log if x.type != t.WELCOME], [], "other frames received")


# ---------------------------------------------------------------------------
# The name prompt


def test_taken_name_is_explained_and_asked_again(srv):
    srv.client("Bob")  # a framed user holds "Bob"
    text_client(srv, "alice")
    c = text_client(srv)
    c.read_until("Your name: ")
    for tried in ("bob", "BOB", "Alice"):
        c.send_line(tried)
        m = c.expect_line(r"^! ")
        if "taken" not in m.string:
            raise AssertionError("refusal of taken name %r does not say it is taken: %r"
                                 % (tried, m.string))
        c.read_until("Your name: ", timeout=2)
    c.send_line("carol")
    c.expect_line(r"^\* hello carol\b")
    t.assert_eq(c.prompts, 4, "name prompts shown (first + one per refusal)")


def test_invalid_name_is_explained_and_asked_again(srv):
    c = text_client(srv)
    c.read_until("Your name: ")
    for bad in ("9lives", "two words", "x" * 40, "caf\u00e9", "#room"):
        c.send_line(bad)
        m = c.expect_line(r"^! ")
        if "name" not in m.string:
            raise AssertionError("refusal of %r does not explain names: %r" % (bad, m.string))
        c.read_until("Your name: ", timeout=2)
    # An empty line just asks again.
    c.send_line("")
    c.read_until("Your name: ", timeout=2)
    c.send_line("dave")
    c.expect_line(r"^\* hello dave\b")
    t.assert_eq(c.take_lines(r"^! "), [], "errors after the good name")


# ---------------------------------------------------------------------------
# Commands


def test_plain_line_before_any_join_gets_a_hint(srv):
    a = text_client(srv, "alice")
    a.send_line("is anybody there?")
    m = a.expect_line(r"^! ")
    if "/join" not in m.string:
        raise AssertionError("hint for a plain line outside any room does not mention "
                             "/join: %r" % m.string)
    a.sync()


def test_plain_lines_go_to_the_room_joined_last_or_chosen_again(srv):
    b = srv.client("bob")
    b.join("r1")
    b.join("r2")
    a = text_client(srv, "alice")
    a.join("r1")
    a.join("r2")
    a.send_line("to r2")
    m = b.expect(MESSAGE, text="to r2")
    t.assert_eq(m.room, "r2", "room of a plain line after joining r1 then r2")
    a.send_line("/join #R1")  # a room you are in, any case, IRC-style '#'
    a.expect_line(r"^\* now talking in #r1$")
    a.send_line("to r1")
    m = b.expect(MESSAGE, text="to r1")
    t.assert_eq(m.room, "r1", "room of a plain line after /join r1 again")
    b.sync()
    t.assert_eq([f for f in b.inbox if f.type == PRESENCE and f.nick == "alice"
                 and f.kind != t.P_JOIN], [], "presence from alice re-selecting r1")
    t.assert_eq(len(b.received(PRESENCE, kind=t.P_JOIN, nick="alice")), 2,
                "PRESENCE JOINs bob saw for alice (r1 and r2, not a third)")


def test_part_moves_the_current_room_to_the_last_joined_remaining(srv):
    b = srv.client("bob")
    for r in ("a", "b", "c", "d"):
        b.join(r)
    x = text_client(srv, "xena")
    for r in ("a", "b", "c", "d"):
        x.join(r)
    x.send_line("/part a")         # not the current room: current stays d
    b.expect(PRESENCE, kind=t.P_PART, nick="xena", room="a")
    x.send_line("still d")
    t.assert_eq(b.expect(MESSAGE, text="still d").room, "d", "room after /part a")
    x.send_line("/part")            # leaves d; b, c remain; c was joined last
    b.expect(PRESENCE, kind=t.P_PART, nick="xena", room="d")
    x.expect_line(r"^\* now talking in #c$")
    x.send_line("now c")
    t.assert_eq(b.expect(MESSAGE, text="now c").room, "c", "room after /part of d")
    x.send_line("/part #c")
    x.expect_line(r"^\* now talking in #b$")
    x.send_line("/part")
    b.expect(PRESENCE, kind=t.P_PART, nick="xena", room="b")
    x.send_line("/part")
    x.expect_line(r"^! ")
    x.send_line("nowhere")
    m = x.expect_line(r"^! ")
    if "/join" not in m.string:
        raise AssertionError("plain line after leaving every room: %r" % m.string)
    x.send_line("/part zz")
    m = x.expect_line(r"^! ")
    if "zz" not in m.string:
        raise AssertionError("/part of a room you are not in: %r" % m.string)
    b.sync()
    t.assert_eq([f.text for f in b.received(MESSAGE)], ["still d", "now c"],
                "messages bob got from xena")


def test_msg_is_delivered_and_confirmed_and_unknown_nick_explained(srv):
    a, b = text_client(srv, "alice"), text_client(srv, "bob")
    c = srv.client("carol")
    a.send_line("/msg bob psst, bob")
    line = b.expect_line(r"^%s \*alice\* psst, bob$" % CLOCK).string
    assert_clock_is_now(line)
    a.expect_line(r"^%s -> \*bob\* psst, bob$" % CLOCK)
    a.send_line("/msg Carol hi carol")
    m = c.expect(MESSAGE, text="hi carol")
    t.assert_eq((m.from_, m.flags & t.MSG_DIRECT, m.room), ("alice", t.MSG_DIRECT, ""),
                "carol's direct MESSAGE (from, DIRECT flag, room)")
    a.expect_line(r"^%s -> \*Carol\* hi carol$|^%s -> \*carol\* hi carol$" % (CLOCK, CLOCK))
    t.assert_ack(c.msg("alice", "hi alice"), "carol's MSG to alice")
    a.expect_line(r"^%s \*carol\* hi alice$" % CLOCK)
    a.send_line("/msg nobody are you there")
    m = a.expect_line(r"^! ")
    if "nobody called nobody" not in m.string:
        raise AssertionError("/msg to an unknown nick: %r" % m.string)
    a.send_line("/msg bob")
    a.expect_line(r"^! .*/msg")
    b.sync()
    t.assert_eq(b.take_lines(r"are you there|^%s \*alice\* $" % CLOCK), [],
                "lines bob got from failed /msg")


def test_nick_change_is_announced_and_used(srv):
    a, c = text_client(srv, "alice"), text_client(srv, "carol")
    b = srv.client("bob")
    for x in (a, c):
        x.join("r")
    b.join("r")
    a.send_line("/nick alicia")
    c.expect_line(r"^%s \* alice is now known as alicia$" % CLOCK)
    p = b.expect(PRESENCE, kind=t.P_NICK, nick="alice")
    t.assert_eq(p.new_nick, "alicia", "bob's PRESENCE NICK new_nick")
    a.expect_line(r"alice is now known as alicia")
    a.send_line("after the change")
    c.expect_line(chat_re("r", "alicia", "after the change"))
    t.assert_eq(b.expect(MESSAGE, text="after the change").from_, "alicia", "MESSAGE from")
    a.send_line("/nick BOB")
    m = a.expect_line(r"^! ")
    if "taken" not in m.string:
        raise AssertionError("/nick to a taken name: %r" % m.string)
    a.send_line("/nick 1bad")
    a.expect_line(r"^! .*name")
    a.send_line("/users")
    a.expect_line(r"^\* 3 users online: .*\balicia\b")


def test_rooms_who_and_users_list_what_is_there(srv):
    a, c = text_client(srv, "alice"), text_client(srv, "carol")
    b = srv.client("bob")
    a.send_line("/rooms")
    a.expect_line(r"^\* no rooms")
    a.join("r1")
    b.join("r1")
    b.join("r2")
    a.sync()
    a.take_lines()  # bob's join
    a.send_line("/rooms")
    t.assert_eq(a.next_line(), "* 2 rooms:", "/rooms heading")
    t.assert_eq(bool(re.match(r"^\*\s+#r1\s+2 members$", a.next_line())), True,
                "first /rooms entry is '#r1 2 members'")
    last = a.next_line()
    if not re.match(r"^\*\s+#r2\s+1 member$", last):
        raise AssertionError("second /rooms entry: %r" % last)
    a.send_line("/who")
    a.expect_line(r"^\* #r1, 2 members: alice bob$")
    a.send_line("/who #r2")
    a.expect_line(r"^\* #r2, 1 member: bob$")
    a.send_line("/who nowhere")
    a.expect_line(r"^! nobody is in #nowhere")
    c.send_line("/who")
    c.expect_line(r"^! ")
    a.send_line("/users")
    a.expect_line(r"^\* 3 users online: alice bob carol$")


def test_me_action_is_shown_as_action_and_reaches_framed_as_slash_me(srv):
    a, c = text_client(srv, "alice"), text_client(srv, "carol")
    b = srv.client("bob")
    a.join("r")
    c.join("r")
    b.join("r")
    a.send_line("/me waves")
    line = c.expect_line(r"^%s #r \* alice waves$" % CLOCK).string
    assert_clock_is_now(line)
    m = b.expect(MESSAGE, from_="alice")
    t.assert_eq((m.room, m.text), ("r", "/me waves"), "bob's MESSAGE for /me")
    t.assert_ack(b.say("r", "/me nods"), "bob's /me SAY")
    a.expect_line(r"^%s #r \* bob nods$" % CLOCK)
    a.send_line("/me")
    a.expect_line(r"^! .*/me")


def test_help_lists_the_commands(srv):
    a = text_client(srv, "alice")
    a.send_line("/help")
    a.expect_line(r"^\* ")
    help_lines = [a.expect_line(r"^\*").string]
    help_lines += a.sync()
    text = "\n".join(help_lines)
    missing = [cmd for cmd in ("/join", "/part", "/msg", "/nick", "/rooms", "/who",
                               "/users", "/me", "/quit") if cmd not in text]
    t.assert_eq(missing, [], "commands /help does not mention (in %r)" % help_lines)
    bad = [x for x in help_lines if len(x.encode()) > 80]
    t.assert_eq(bad, [], "/help lines wider than 80 columns")


def test_quit_says_bye_closes_and_others_see_the_quit(srv):
    a, c = text_client(srv, "alice"), text_client(srv, "carol")
    b = srv.client("bob")
    a.join("r")
    c.join("r")
    b.join("r")
    a.send_line("/quit")
    rest = a.expect_closed(timeout=3)
    t.assert_eq(rest[-1:], ["* bye"], "alice's last line before the close")
    p = b.expect(PRESENCE, nick="alice", pred=lambda f: f.kind != t.P_JOIN)
    t.assert_eq((p.kind, p.room), (t.P_QUIT, "r"), "bob's PRESENCE for alice (kind, room)")
    c.expect_line(r"^%s \* alice quit\b.*#r" % CLOCK)
    # The name is free again.
    text_client(srv, "alice")


def test_quit_at_the_name_prompt_closes(srv):
    a = text_client(srv)
    a.read_until("Your name: ")
    a.send_line("/quit")
    t.assert_eq(a.expect_closed(timeout=3)[-1:], ["* bye"], "last line before the close")


def test_unknown_command_gets_a_one_line_hint_and_the_connection_goes_on(srv):
    a = text_client(srv, "alice")
    b = srv.client("bob")
    a.join("r")
    b.join("r")
    a.expect_line(r"^%s \* bob joined #r$" % CLOCK)
    a.send_line("/dance wildly")
    m = a.expect_line(r"^! ")
    if "unknown command" not in m.string or "/help" not in m.string:
        raise AssertionError("hint for an unknown command: %r" % m.string)
    t.assert_eq(a.sync(), [], "lines after the hint (one line only)")
    a.send_line("//dance is a slash line")
    t.assert_eq(b.expect(MESSAGE, from_="alice").text, "/dance is a slash line",
                "text of '//dance ...' as received")
    a.send_line("still here")
    b.expect(MESSAGE, text="still here")
    b.sync()
    t.assert_eq([f.text for f in b.received(MESSAGE)], ["/dance is a slash line", "still here"],
                "bob's messages (no '/dance wildly')")


# ---------------------------------------------------------------------------
# What a terminal shows


@t.server_args("--history", "3")
def test_join_shows_header_then_marked_history_then_live_lines(srv):
    b, d = srv.client("bob"), srv.client("dave")
    b.join("r")
    d.join("r")
    for i in range(1, 5):
        t.assert_ack(b.say("r", "old %d" % i), "bob's SAY %d" % i)
    a = text_client(srv, "alice")
    a.send_line("/join r")
    head = a.next_line()
    if not re.match(r"^\* joined #r, 3 members: bob dave alice$", head):
        raise AssertionError("join header: %r" % head)
    intro = a.next_line()
    if not intro.startswith("* ") or "3" not in intro:
        raise AssertionError("line announcing the 3 history lines: %r" % intro)
    for i in (2, 3, 4):
        line = a.next_line()
        if not re.match(chat_re("r", "bob", "old %d" % i, history=True), line):
            raise AssertionError("history line %d: %r" % (i, line))
        assert_clock_is_now(line)
    t.assert_ack(b.say("r", "live one"), "bob's live SAY")
    line = a.next_line()
    if not re.match(chat_re("r", "bob", "live one"), line):
        raise AssertionError("live line after the history: %r (expected no '| ')" % line)
    assert_clock_is_now(line)
    t.assert_eq(a.sync(), [], "other lines")
    # An empty room: header only.
    a.send_line("/join empty")
    t.assert_eq(bool(re.match(r"^\* joined #empty, 1 member: alice$", a.next_line())), True,
                "header of an empty room")
    t.assert_eq(a.sync(), [], "history of a fresh room")


def test_system_lines_are_distinct_from_chat_lines(srv):
    a, c = text_client(srv, "alice"), text_client(srv, "carol")
    b = srv.client("bob")
    a.join("r")
    b.join("r")
    c.join("r")
    a.expect_line(r"^%s \* bob joined #r$" % CLOCK)
    a.expect_line(r"^%s \* carol joined #r$" % CLOCK)
    t.assert_ack(b.say("r", "* not a system line"), "bob's SAY")
    chat = a.expect_line(chat_re("r", "bob", "* not a system line")).string
    c.send_line("/part")
    a.expect_line(r"^%s \* carol left #r$" % CLOCK)
    c.join("r")
    c.reset_close()
    a.expect_line(r"^%s \* carol dropped from #r: connection reset$" % CLOCK)
    a.send_line("/join bad/room")
    a.expect_line(r"^! ")
    a.sync()
    chat_kinds, system_kinds = {0, 1, 2}, {3, 4, 5}
    for x in a.all_lines:
        k = line_kind(x.text)
        if k is None:
            raise AssertionError("line of no recognisable kind: %r" % x.text)
        is_chat = bool(re.match(r"^%s #r <bob> " % CLOCK, x.text))
        if is_chat != (k in chat_kinds):
            raise AssertionError("%r is a %s line but reads as a %s line"
                                 % (x.text, "chat" if is_chat else "system",
                                    "chat" if k in chat_kinds else "system"))
    t.assert_eq(line_kind(chat) in chat_kinds, True, "a chat line whose text starts with '*'")
    for x in a.all_lines:
        if re.search(r"joined #r$|left #r$|dropped from #r|^! ", x.text):
            t.assert_eq(line_kind(x.text) in system_kinds, True, "%r is a system line" % x.text)


# ---------------------------------------------------------------------------
# Input: line ends, telnet bytes, length


def test_lf_and_crlf_line_endings_both_work(srv):
    b = srv.client("bob")
    b.join("r")
    a = text_client(srv)
    a.login("alice", eol="\n")
    a.send_line("/join r", eol="\n")
    a.expect_line(r"^\* joined #r")
    a.send_line("with lf", eol="\n")
    a.send_line("with crlf", eol="\r\n")
    a.send_raw(b"mixed lf\ncrlf\r\n")
    got = [b.expect(MESSAGE, from_="alice").text for _ in range(4)]
    t.assert_eq(got, ["with lf", "with crlf", "mixed lf", "crlf"],
                "texts bob got (no CR left on any)")
    # The server ends its lines with CRLF, whatever the client sends.
    t.assert_eq(bytes(a.raw).replace(b"\r\n", b"").count(b"\n"), 0, "bare LFs sent to alice")


def test_telnet_negotiation_is_consumed_never_shown_nor_broadcast(srv):
    b = srv.client("bob")
    b.join("r")
    w = text_client(srv, "watcher")
    w.join("r")
    a = TextClient(srv.port, "telnet")
    srv.clients.append(a)
    # A telnet client's opening offers: WILL TTYPE, DO ECHO, WILL NAWS.
    a.send_raw(b"\xff\xfb\x18\xff\xfd\x01\xff\xfb\x1f")
    a.read_until("Your name: ", timeout=2)
    a.send_raw(b"ali\xff\xfd\x03ce\r\n")  # DO SGA inside the name
    a.expect_line(r"^\* hello alice\b")
    a.send_line("/join r")
    a.expect_line(r"^\* joined #r")
    # Subnegotiation (TTYPE IS xterm), IAC IAC, NOP, AYT inside a line.
    a.send_raw(b"he\xff\xfa\x18\x00xterm\xff\xf0llo\xff\xf1 wor\xff\xf6ld\r\n")
    a.send_raw(b"\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0second\xff\xfb\x22 line\r\n")
    m1 = b.expect(MESSAGE, from_="alice")
    m2 = b.expect(MESSAGE, from_="alice")
    t.assert_eq((m1.text, m2.text), ("hello world", "second line"),
                "texts bob got (telnet bytes removed)")
    w.expect_line(chat_re("r", "alice", "hello world"))
    w.expect_line(chat_re("r", "alice", "second line"))
    # IAC IAC (an escaped 0xFF data byte) is consumed like the rest.
    a.send_raw(b"price \xff\xff100\r\n")
    t.assert_eq(b.expect(MESSAGE, from_="alice").text, "price 100", "text of 'price IAC IAC 100'")
    w.expect_line(chat_re("r", "alice", "price 100"))
    b.sync()
    t.assert_eq(len(b.received(MESSAGE)), 3, "messages bob got")
    for who, raw in (("watcher", w.raw), ("telnet user", a.raw)):
        if b"\xff" in raw:
            raise AssertionError("%s was sent an 0xFF byte: %r" % (who, bytes(raw)))


@t.server_args("--max-text", "100")
def test_overlong_line_is_refused_discarded_to_its_end_and_the_connection_goes_on(srv):
    b = srv.client("bob")
    b.join("r")
    a = text_client(srv, "alice")
    a.join("r")
    a.send_line("x" * 100)
    t.assert_eq(b.expect(MESSAGE, from_="alice").text, "x" * 100, "a 100-byte message")
    a.send_line("y" * 101)
    m = a.expect_line(r"^! ")
    if "too long" not in m.string:
        raise AssertionError("101-byte message: %r" % m.string)
    a.send_line("z" * 300 + " TAIL-A")
    m = a.expect_line(r"^! ")
    if "that line is too long" not in m.string:
        raise AssertionError("300-byte line: %r" % m.string)
    a.send_line("next line works")
    t.assert_eq(b.expect(MESSAGE, from_="alice").text, "next line works",
                "the line after the overlong one")
    # Overlong, arriving in pieces: one error, and its tail is not a line.
    a.send_raw(b"q" * 120)
    t.pause(0.05)
    a.send_raw(b"q" * 120)
    t.pause(0.05)
    a.send_raw(b"q" * 120 + b" TAIL-B")
    t.pause(0.05)
    a.send_raw(b" TAIL-C\r\nafter pieces\r\n")
    t.assert_eq(b.expect(MESSAGE, from_="alice").text, "after pieces",
                "the line after the overlong one sent in pieces")
    a.sync()
    errors = [x.text for x in a.all_lines if re.match(r"^! .*too long", x.text)]
    t.assert_eq(len(errors), 3, "error lines (101-byte message, two overlong lines): %r"
                % errors)
    b.sync()
    leaked = [f.text for f in b.received(MESSAGE) if "TAIL" in f.text or "q" in f.text]
    t.assert_eq(leaked, [], "parts of overlong lines broadcast")


def test_a_line_split_across_several_sends_arrives_whole(srv):
    b = srv.client("bob")
    b.join("r")
    a = text_client(srv, "alice")
    a.join("r")
    text = "".join("word%02d " % i for i in range(40)).strip()  # 279 bytes
    data = text.encode() + b"\r\n"
    for i in range(0, len(data), 37):
        a.send_raw(data[i:i + 37])
        t.pause(0.02)
    t.assert_eq(b.expect(MESSAGE, from_="alice").text, text, "text of the split line")
    # A CRLF split between two sends, and a multi-byte character split too.
    a.send_raw("caf\u00e9".encode()[:4])
    t.pause(0.05)
    a.send_raw("caf\u00e9".encode()[4:] + b"\r")
    t.pause(0.05)
    a.send_raw(b"\n")
    t.assert_eq(b.expect(MESSAGE, from_="alice").text, "caf\u00e9", "split UTF-8 + CRLF")


@t.server_args("--flood-rate", "10", "--flood-burst", "5")
def test_pasted_lines_are_slowed_down_not_dropped(srv):
    b = srv.client("bob")
    b.join("r")
    a = text_client(srv, "alice")
    a.join("r")
    t0 = time.monotonic()
    a.send_raw(b"".join(b"pasted line %02d\r\n" % i for i in range(20)))
    got = [b.expect(MESSAGE, from_="alice", timeout=10).text for _ in range(20)]
    elapsed = time.monotonic() - t0
    t.assert_eq(got, ["pasted line %02d" % i for i in range(20)], "bob's messages, in order")
    # 20 lines at 10 a second after a burst of 5 (the join spent a token).
    if elapsed < 1.0:
        raise AssertionError("20 pasted lines all delivered in %.2f s: not slowed down "
                             "(flood rate 10/s, burst 5)" % elapsed)
    a.sync(timeout=10)
    t.assert_eq(a.take_lines(r"^! "), [], "error lines alice got for pasting")


# ---------------------------------------------------------------------------
# Injection

NASTY = ("A\x1b[31mRED\x1b[0m B\x07bell C\x08\x08bs D\rcr E\nlf F\u009b2Jcsi "
         "G\u202eevil H\tI\x1b]0;title\x07 J\x7fdel K\u2066iso\u2069 L")
FORBIDDEN = {
    b"\x1b": "ESC", b"\x07": "BEL", b"\x08": "BS", b"\t": "TAB", b"\x7f": "DEL",
    b"\xc2\x9b": "U+009B (C1 CSI)", b"\xe2\x80\xae": "U+202E (RLO)",
    b"\xe2\x81\xa6": "U+2066 (LRI)", b"\xe2\x81\xa9": "U+2069 (PDI)",
}


def assert_terminal_safe(raw, who):
    raw = bytes(raw)
    for seq, name in FORBIDDEN.items():
        if seq in raw:
            i = raw.index(seq)
            raise AssertionError("%s was sent %s: ...%r..." % (who, name, raw[max(0, i - 40):i + 20]))
    body = raw.replace(b"\r\n", b"")
    for ch, name in ((b"\r", "a bare CR"), (b"\n", "a bare LF")):
        if ch in body:
            i = body.index(ch)
            raise AssertionError("%s was sent %s: ...%r..." % (who, name, body[max(0, i - 40):i + 20]))
    bad = sorted({b for b in body if b < 0x20})
    if bad:
        raise AssertionError("%s was sent control bytes %s" % (who, [hex(x) for x in bad]))


def test_terminal_controls_from_a_framed_user_never_reach_a_text_terminal(srv):
    b = srv.client("bob")
    b.join("r")
    a = text_client(srv, "alice")
    a.join("r")
    t.assert_ack(b.say("r", NASTY), "bob's SAY of control characters")
    t.assert_ack(b.say("r", "/me \x1b[2J\x1b[Hcleared"), "bob's /me with escapes")
    t.assert_ack(b.msg("alice", "dm\x1b[5mblink\r\nforged"), "bob's MSG with escapes")
    live = a.expect_line(r"^%s #r <bob> A" % CLOCK).string
    act = a.expect_line(r"^%s #r \* bob " % CLOCK).string
    dm = a.expect_line(r"^%s \*bob\* dm" % CLOCK).string
    # History renders the same way.
    c = text_client(srv, "carol")
    c.join("r")
    hist = c.expect_line(r"^\| %s #r <bob> A" % CLOCK).string
    c.expect_line(r"^\| %s #r \* bob " % CLOCK)
    a.sync()
    c.sync()
    for who, x in (("alice", a), ("carol", c)):
        assert_terminal_safe(x.raw, who)
    # Everything bob wrote is on its one line, in order.
    for line in (live, hist):
        pos = [line.find(w) for w in ("RED", "bell", "bs", "cr", "lf", "csi", "evil", "I",
                                      "title", "del", "iso", " L")]
        if -1 in pos or pos != sorted(pos):
            raise AssertionError("bob's message is not whole on one line: %r" % line)
        if "\ufffd" not in line:
            raise AssertionError("no visible replacement for the controls: %r" % line)
    if "cleared" not in act or "forged" not in dm:
        raise AssertionError("action / DM not whole on one line: %r, %r" % (act, dm))
    t.assert_eq([x.text for x in a.all_lines if "forged" in x.text], [dm],
                "lines mentioning 'forged' (the DM only)")


def test_text_user_cannot_send_terminal_controls_or_forge_lines(srv):
    b = srv.client("bob")
    b.join("r")
    a, c = text_client(srv, "alice"), text_client(srv, "carol")
    a.join("r")
    c.join("r")
    a.send_raw(b"hi\x1b[2J\x07 there\r\n")
    # CR and LF inside what alice types can only end her line: each piece
    # is a line of her own, attributed to her.
    a.send_raw(b"one\r" + b"12:00 #r <bob> I owe alice 100 euros\n"
               b"12:00 #r <bob> forged too\r\n")
    a.send_line("last")
    got = [b.expect(MESSAGE, from_="alice").text for _ in range(5)]
    if got[0].replace("\x1b[2J", "").replace("\x07", "") != "hi there":
        raise AssertionError("bob's first message: %r" % got[0])
    t.assert_eq(got[1:], ["one", "12:00 #r <bob> I owe alice 100 euros",
                          "12:00 #r <bob> forged too", "last"],
                "alice's lines, each a message of her own")
    c.expect_line(chat_re("r", "alice", "last"))
    c.sync()
    assert_terminal_safe(c.raw, "carol")
    from_alice = [x.text for x in c.all_lines if "<" in x.text and "#r" in x.text]
    impostors = [x for x in from_alice if not re.match(chat_re("r", "alice"), x)]
    t.assert_eq(impostors, [], "chat lines carol sees that are not alice's")
    forged = [x for x in from_alice if "euros" in x or "forged" in x]
    if len(forged) != 2 or not all(x.startswith(tuple("0123456789")) and "<alice>" in x
                                   for x in forged):
        raise AssertionError("alice's CR/LF pieces as carol sees them: %r" % from_alice)


def test_error_lines_do_not_echo_control_characters_back(srv):
    b = srv.client("bob")
    b.join("r")
    a = text_client(srv, "alice")
    a.join("r")
    # Whatever alice typed (or pasted) that the server quotes back in an
    # error line is rendered like any other text.
    a.send_raw(b"/\x1b[2Jwipe\r\n")
    a.expect_line(r"^! unknown command")
    a.send_raw(b"/msg \x1b[31mbob hi\r\n")
    a.expect_line(r"^! ")
    a.sync()
    assert_terminal_safe(a.raw, "alice (her own typing quoted back)")


def test_invalid_utf8_from_a_text_user_is_refused_with_a_hint(srv):
    b = srv.client("bob")
    b.join("r")
    a = text_client(srv, "alice")
    a.join("r")
    a.send_raw(b"caf\xe9 latin-1\r\n")
    m = a.expect_line(r"^! ")
    if "UTF-8" not in m.string:
        raise AssertionError("hint for Latin-1 input: %r" % m.string)
    a.send_line("caf\u00e9 utf-8")
    t.assert_eq(b.expect(MESSAGE, from_="alice").text, "caf\u00e9 utf-8", "bob's message")
    b.sync()
    t.assert_eq(len(b.received(MESSAGE)), 1, "messages bob got")


# ---------------------------------------------------------------------------
# Mixed rooms


def test_text_and_framed_members_see_each_others_messages_and_presence(srv):
    b = srv.client("bob")
    b.join("r")
    a = text_client(srv, "alice")
    a.join("r")
    p = b.expect(PRESENCE, kind=t.P_JOIN, nick="alice")
    t.assert_eq(p.room, "r", "bob's PRESENCE JOIN room")
    a.send_line("hi bob")
    m = b.expect(MESSAGE, text="hi bob")
    t.assert_eq((m.from_, m.room, m.flags), ("alice", "r", 0), "bob's MESSAGE")
    ack = t.assert_ack(b.say("r", "hi alice"), "bob's SAY")
    line = a.expect_line(chat_re("r", "bob", "hi alice")).string
    assert_clock_is_now(line)
    t.assert_eq(ack.seq, m.seq + 1, "one sequence for both protocols")
    d = srv.client("dave")
    d.join("r")
    a.expect_line(r"^%s \* dave joined #r$" % CLOCK)
    d.part("r")
    a.expect_line(r"^%s \* dave left #r$" % CLOCK)
    a.send_line("/part")
    p = b.expect(PRESENCE, nick="alice", kind=t.P_PART)
    t.assert_eq(p.room, "r", "bob's PRESENCE PART room")
    t.assert_eq(b.who("r"), ["bob"], "WHO r after alice left")


def test_history_crosses_protocols(srv):
    a = text_client(srv, "alice")
    a.join("r")
    a.send_line("from text 1")
    a.send_line("from text 2")
    a.sync()
    b = srv.client("bob")
    j = b.join("r")
    t.assert_eq([(m.from_, m.text) for m in j.history],
                [("alice", "from text 1"), ("alice", "from text 2")],
                "history a framed joiner gets from a text sender")
    t.assert_ack(b.say("r", "from framed"), "bob's SAY")
    c = text_client(srv, "carol")
    c.send_line("/join r")
    c.expect_line(r"^\* joined #r, 3 members")
    intro = c.next_line()
    if not re.match(r"^\* .*\b3\b", intro):
        raise AssertionError("line announcing 3 history lines: %r" % intro)
    for who, text in (("alice", "from text 1"), ("alice", "from text 2"),
                      ("bob", "from framed")):
        line = c.next_line()
        if not re.match(chat_re("r", who, text, history=True), line):
            raise AssertionError("carol's history: expected %s's %r, got %r"
                                 % (who, text, line))


# ---------------------------------------------------------------------------
# Drops, keepalive, slow consumers


def test_reset_text_client_is_announced_as_drop_reset(srv):
    b = srv.client("bob")
    b.join("r")
    a, c = text_client(srv, "alice"), text_client(srv, "carol")
    a.join("r")
    c.join("r")
    b.expect(PRESENCE, kind=t.P_JOIN, nick="carol")
    t0 = time.monotonic()
    a.reset_close()
    p = b.expect(PRESENCE, kind=t.P_DROP, nick="alice", timeout=2)
    t.assert_eq((p.room, p.reason), ("r", t.R_RESET), "bob's PRESENCE DROP (room, reason)")
    if p.at - t0 > 0.5:
        raise AssertionError("reset of a text client announced after %.2f s" % (p.at - t0))
    c.expect_line(r"^%s \* alice dropped from #r: connection reset$" % CLOCK)
    t.assert_eq(b.who("r"), ["bob", "carol"], "WHO r after the drop")


def test_closed_text_client_is_announced_as_drop_closed(srv):
    b = srv.client("bob")
    b.join("r")
    a = text_client(srv, "alice")
    a.join("r")
    a.sock.shutdown(socket.SHUT_WR)  # nc after Ctrl-D
    p = b.expect(PRESENCE, kind=t.P_DROP, nick="alice", timeout=2)
    t.assert_eq((p.room, p.reason), ("r", t.R_CLOSED), "bob's PRESENCE DROP (room, reason)")
    a.expect_closed(timeout=3)


@t.server_args("--ping-interval", "0.3", "--ping-timeout", "0.3")
def test_idle_text_client_is_not_dropped_for_silence(srv):
    b = srv.client("bob")
    b.join("r")
    a = text_client(srv, "alice")
    a.join("r")
    shown = len(a.all_lines)
    # Four times interval + timeout without a byte from alice (bob reads
    # and answers its PINGs meanwhile).
    b.drain(2.4)
    t.assert_eq(b.eof, None, "bob (answering PINGs) still connected")
    drops = [f for f in b.log if f.type == PRESENCE and f.kind == t.P_DROP]
    t.assert_eq(drops, [], "drops bob saw while alice was silent")
    a.pump()
    t.assert_eq(a.eof, None, "alice's connection after 2.4 s of silence")
    t.assert_eq([x.text for x in a.all_lines[shown:]], [],
                "lines shown to an idle alice (no ping noise)")
    if a.raw.count(b"\r\n") != len(a.all_lines) or b"\xff" in a.raw:
        raise AssertionError("bytes other than lines sent to alice: %r" % bytes(a.raw[-100:]))
    a.send_line("still here")
    b.expect(MESSAGE, from_="alice", text="still here")
    t.assert_ack(b.say("r", "welcome back"), "bob's SAY")
    a.expect_line(chat_re("r", "bob", "welcome back"))


@t.server_args("--max-queue", "65536", "--flood-rate", "0")
def test_text_client_that_stops_reading_is_dropped_as_slow_consumer(srv):
    flooder, obs = srv.client("flooder"), srv.client("obs")
    slow = text_client(srv, "slow", rcvbuf=4096)
    slow.join("f")
    flooder.join("f")
    obs.join("f")
    flooder.drain()
    obs.drain()
    text = "x" * 1000
    sent = acked = 0
    drop = None
    deadline = time.monotonic() + 20
    while drop is None:
        if time.monotonic() > deadline:
            raise AssertionError("text client that stopped reading not dropped after %d "
                                 "SAYs of 1000 bytes" % sent)
        while sent - acked < 32:
            flooder.say("f", text, wait=False)
            sent += 1
        for f in flooder.drain(0.005):
            if f.type == t.ERROR:
                raise AssertionError("flooder got %r" % (f,))
            if f.type == t.ACK:
                acked += 1
        drop = next((f for f in obs.drain(0) if f.type == PRESENCE and f.kind == t.P_DROP),
                    None)
    t.assert_eq((drop.nick, drop.room, drop.reason), ("slow", "f", t.R_SLOW_CONSUMER),
                "obs's PRESENCE DROP (nick, room, reason)")
    if sent * 1000 < 65536:
        raise AssertionError("dropped after only %d bytes of messages" % (sent * 1000))
    t.assert_eq(obs.who("f"), ["flooder", "obs"], "WHO f after the drop")


# ---------------------------------------------------------------------------
# Shutdown


def test_sigterm_tells_text_clients_before_closing(srv):
    a = text_client(srv, "alice")
    a.join("r")
    p = text_client(srv)
    p.read_until("Your name: ")   # still at the name prompt
    srv.send_signal(signal.SIGTERM)
    t.assert_eq(a.expect_closed(timeout=5)[-1:], ["* the server is shutting down; bye"],
                "alice's last line")
    t.assert_eq(p.expect_closed(timeout=5)[-1:], ["* the server is shutting down; bye"],
                "last line of the client at the name prompt")
    t.assert_eq(srv.wait(10), 0, "chatd exit code after SIGTERM")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
