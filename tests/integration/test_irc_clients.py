#!/usr/bin/env python3
"""Real IRC clients from Debian against chatd (issue 15): irssi in a tmux
pane, read off the screen; weechat-headless, driven by a startup command
list and its FIFO and read from its log files; ii, through its FIFO and
out files.  Each joins #lobby where a framed program (fred) and a telnet
user (tom) already are, sees fred's earlier message marked as history,
sees what fred and tom say, says something that both of them get, and
quits, which both of them see.

Every client runs with a private HOME and configuration directory in a
temporary directory, so nothing of the user's leaks in; every process the
test starts (chatd, the tmux server on its own socket, weechat-headless,
ii) is stopped by the test itself, by pid or tmux socket name, whether it
passes or fails.  Waits poll the screen or a file with a deadline.  Needs
irssi, tmux, weechat-headless and ii on PATH (contrib/chatd-dev installs
them); a missing one fails the test with a message saying which.  Run as

    python3 test_irc_clients.py --chatd build/chatd
"""

import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile

import chatdtest as t
from chatdtest import MESSAGE, PRESENCE
from test_text_terminal import Tmux, need
from textclient import CLOCK, chat_re, text_client

SERVER_ARGS = ("--detect-window", "0.2")
ROOM = "lobby"
# Generous: a client's start-up on a slow shared machine, chatd under ASan,
# and the clients' own pacing (irssi sends a line every 2.2 s at most, so
# its JOIN leaves it about 5 s after it registered; WeeChat every 2 s).
DEADLINE = 15.0


# ---------------------------------------------------------------------------
# The room the IRC client comes into, and what its other members see


def room_with_fred_and_tom(srv, nick):
    """fred (framed) and tom (telnet) in ROOM, and a message of fred's
    from before nick came, for nick's client to show as history."""
    fred = srv.client("fred", timeout=DEADLINE)
    fred.join(ROOM)
    tom = text_client(srv, "tom", timeout=DEADLINE)
    tom.join(ROOM)
    t.assert_ack(fred.say(ROOM, "said before %s came" % nick), "fred's SAY before %s" % nick)
    return fred, tom


def history_re(nick):
    """The history notice of fred's earlier message, as docs/irc.md gives
    it to a client without batch and server-time."""
    return r"\[history %s UTC\] <fred> said before %s came" % (CLOCK, re.escape(nick))


def irc_user_joined(fred, tom, nick):
    fred.expect(PRESENCE, kind=t.P_JOIN, nick=nick, room=ROOM)
    tom.expect_line(r"^%s \* %s joined #%s$" % (CLOCK, re.escape(nick), ROOM))


def fred_and_tom_speak(fred, tom):
    """tom and fred each say one line in ROOM (the IRC client must show
    "<tom> hello from telnet" and "<fred> hello from framed")."""
    tom.send_line("hello from telnet")
    fred.expect(MESSAGE, from_="tom", text="hello from telnet")
    t.assert_ack(fred.say(ROOM, "hello from framed"), "fred's SAY")


def fred_and_tom_hear(fred, tom, nick, text):
    """What nick's client said in ROOM reached fred and tom as it was
    typed; an action ("/me waves", a CTCP ACTION on IRC) as an action."""
    m = fred.expect(MESSAGE, from_=nick)
    t.assert_eq((m.room, m.text, m.flags), (ROOM, text, 0),
                "fred's MESSAGE from %s (room, text, flags)" % nick)
    if text.startswith("/me "):
        tom.expect_line(r"^%s #%s \* %s %s$" % (CLOCK, ROOM, re.escape(nick),
                                                re.escape(text[4:])))
    else:
        tom.expect_line(chat_re(ROOM, nick, text))


def irc_user_quit(fred, tom, nick, why="see you"):
    """The client's quit, with the words it quit with, reach both."""
    p = fred.expect(PRESENCE, nick=nick, pred=lambda f: f.kind != t.P_JOIN)
    t.assert_eq((p.kind, p.room), (t.P_QUIT, ROOM), "fred's PRESENCE for %s" % nick)
    t.assert_eq(fred.expect(t.REASON, nick=nick).text, why, "fred's REASON for %s" % nick)
    tom.expect_line(r"^%s \* %s quit \(#%s\): %s$"
                    % (CLOCK, re.escape(nick), ROOM, re.escape(why)))


# ---------------------------------------------------------------------------
# Processes and files


def client_env(home):
    """The environment of a client: HOME in the test's temporary directory."""
    return dict(os.environ, HOME=home, LANG="C.UTF-8", LC_ALL="C.UTF-8")


def start(argv, home, log):
    """Start a client process in home, its output to the file log."""
    with open(log, "wb") as out:
        return subprocess.Popen(argv, cwd=home, env=client_env(home), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def exited(proc, what, timeout=DEADLINE):
    """proc (which was told to quit) exits within timeout."""
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise t.Timeout("%s still running %.0f s after it was told to quit"
                        % (what, timeout)) from None


def stop(proc):
    """End a process this test started (by its pid): SIGTERM, then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def contents(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def tail(path, n=25):
    lines = contents(path).splitlines()
    if not lines:
        return "      (%s is empty or missing)" % path
    return "\n".join("      |" + ln for ln in lines[-n:])


def wait_in_file(path, regex, what, also=None):
    """Poll the file at path until a line matches regex; returns the match.
    On timeout the message shows the file's last lines (and those of the
    file also, the client's own output)."""
    rx = re.compile(regex, re.M)
    try:
        return t.wait_until(lambda: rx.search(contents(path)), DEADLINE, 0.05,
                            "%s (/%s/ in %s)" % (what, regex, os.path.basename(path)))
    except t.Timeout as e:
        more = "" if also is None else "\n    %s:\n%s" % (also, tail(also))
        raise t.Timeout("%s; it holds:\n%s%s" % (e, tail(path), more)) from None


def write_fifo(path, line):
    """Write one line to a client's FIFO once the client reads it (a FIFO
    without a reader refuses a non-blocking writer: ENXIO)."""
    fds = []

    def opened():
        try:
            fds.append(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # not there yet, or no reader yet
            return False
        return True
    t.wait_until(opened, DEADLINE, 0.05, "a reader on the FIFO %s" % path)
    try:
        os.write(fds[0], line.encode() + b"\n")
    finally:
        os.close(fds[0])


# ---------------------------------------------------------------------------
# irssi in a terminal


def test_irssi_in_tmux_chats_with_framed_and_telnet_users(srv):
    need("irssi", "irssi")
    fred, tom = room_with_fred_and_tom(srv, "irsuser")
    with tempfile.TemporaryDirectory(prefix="chatd-irssi-") as home:
        cmd = "env HOME=%s irssi --home=%s -n irsuser -c 127.0.0.1 -p %d" % (
            shlex.quote(home), shlex.quote(os.path.join(home, ".irssi")), srv.port)
        term = Tmux(cmd, width=120, height=50)
        try:
            term.wait_for(r"-!- MOTD File is missing$", DEADLINE, "the end of the welcome")
            term.type("/join #%s" % ROOM)
            term.wait_for(r"^%s -!- irsuser \[irsuser@chatd\] has joined #%s$" % (CLOCK, ROOM),
                          DEADLINE, "irsuser's own join")
            term.wait_for(r"^%s !chatd %s$" % (CLOCK, history_re("irsuser")), DEADLINE,
                          "fred's earlier message as a history notice")
            irc_user_joined(fred, tom, "irsuser")

            fred_and_tom_speak(fred, tom)
            term.wait_for(r"^%s < tom> hello from telnet$" % CLOCK, DEADLINE, "tom's line")
            term.wait_for(r"^%s < fred> hello from framed$" % CLOCK, DEADLINE, "fred's line")

            term.type("hello from irssi")
            fred_and_tom_hear(fred, tom, "irsuser", "hello from irssi")
            term.type("/me waves")
            fred_and_tom_hear(fred, tom, "irsuser", "/me waves")

            term.type("/quit see you")
            t.wait_until(term.dead, DEADLINE, 0.05, "irssi exited after /quit")
            irc_user_quit(fred, tom, "irsuser")
        finally:
            term.kill()


# ---------------------------------------------------------------------------
# WeeChat, headless


def test_weechat_headless_chats_with_framed_and_telnet_users(srv):
    weechat = need("weechat-headless", "weechat-headless")
    fred, tom = room_with_fred_and_tom(srv, "weeuser")
    with tempfile.TemporaryDirectory(prefix="chatd-weechat-") as home:
        wdir = os.path.join(home, "weechat")
        # The command script: run once WeeChat has started.  Buffer logs are
        # written at once (not every 120 s), the server joins #lobby itself.
        script = ["/set logger.file.flush_delay 0",
                  "/server add chatd 127.0.0.1/%d -nicks=weeuser -username=weeuser "
                  "-realname=weeuser -autojoin=#%s" % (srv.port, ROOM),
                  "/connect chatd"]
        out = os.path.join(home, "weechat.out")
        proc = start([weechat, "--dir", wdir, "--stdout", "--no-script",
                      "--plugins", "irc,logger,fifo", "--run-command", ";".join(script)],
                     home, out)
        try:
            log = os.path.join(wdir, "logs", "irc.chatd.#%s.weechatlog" % ROOM)
            fifo = os.path.join(wdir, "weechat_fifo_%d" % proc.pid)
            line = r"^\S+ \S+\t%s\t%s$"  # date time, prefix, message
            wait_in_file(log, line % ("-->", r"weeuser \(weeuser@chatd\) has joined #" + ROOM),
                         "weeuser's own join", out)
            wait_in_file(log, line % ("--", r"Notice\(chatd\): " + history_re("weeuser")),
                         "fred's earlier message as a history notice", out)
            irc_user_joined(fred, tom, "weeuser")
            t.wait_until(lambda: os.path.exists(fifo), DEADLINE, 0.05,
                         "WeeChat's FIFO %s (its fifo plugin is in Debian's weechat-plugins)"
                         % fifo)

            fred_and_tom_speak(fred, tom)
            wait_in_file(log, line % ("tom", "hello from telnet"), "tom's line", out)
            wait_in_file(log, line % ("fred", "hello from framed"), "fred's line", out)

            buffer = "irc.chatd.#" + ROOM
            write_fifo(fifo, buffer + " *hello from weechat")
            fred_and_tom_hear(fred, tom, "weeuser", "hello from weechat")
            write_fifo(fifo, buffer + " */me waves")
            fred_and_tom_hear(fred, tom, "weeuser", "/me waves")

            write_fifo(fifo, "*/quit see you")
            exited(proc, "weechat-headless")
            irc_user_quit(fred, tom, "weeuser")
            # Nothing chatd answered was an error to WeeChat ("=!=" lines).
            for name in (log, os.path.join(wdir, "logs", "irc.server.chatd.weechatlog")):
                errors = [ln for ln in contents(name).splitlines() if "\t=!=\t" in ln]
                t.assert_eq(errors, [], "error lines in %s" % os.path.basename(name))
        finally:
            stop(proc)


# ---------------------------------------------------------------------------
# ii, files and FIFOs


def test_ii_fifo_chats_with_framed_and_telnet_users(srv):
    ii = need("ii", "ii")
    fred, tom = room_with_fred_and_tom(srv, "iiuser")
    with tempfile.TemporaryDirectory(prefix="chatd-ii-") as home:
        tree = os.path.join(home, "irc")
        out = os.path.join(home, "ii.out")
        proc = start([ii, "-s", "127.0.0.1", "-p", str(srv.port), "-n", "iiuser",
                      "-f", "iiuser", "-i", tree], home, out)
        try:
            server = os.path.join(tree, "127.0.0.1")
            chan = os.path.join(server, "#" + ROOM)
            line = r"^\d+ %s$"  # unix time, then the line
            wait_in_file(os.path.join(server, "out"),
                         line % "Welcome to the chatd IRC network, iiuser", "the welcome", out)
            write_fifo(os.path.join(server, "in"), "/j #" + ROOM)
            wait_in_file(os.path.join(chan, "out"),
                         line % (r"-!- iiuser\(iiuser@chatd\) has joined #" + ROOM),
                         "iiuser's own join", out)
            # ii files every line from a server (a source without "!") in
            # the server's out file, the history notices too.
            wait_in_file(os.path.join(server, "out"), line % history_re("iiuser"),
                         "fred's earlier message as a history notice", out)
            irc_user_joined(fred, tom, "iiuser")

            fred_and_tom_speak(fred, tom)
            wait_in_file(os.path.join(chan, "out"), line % "<tom> hello from telnet",
                         "tom's line", out)
            wait_in_file(os.path.join(chan, "out"), line % "<fred> hello from framed",
                         "fred's line", out)

            write_fifo(os.path.join(chan, "in"), "hello from ii")
            fred_and_tom_hear(fred, tom, "iiuser", "hello from ii")

            write_fifo(os.path.join(server, "in"), "/q see you")
            exited(proc, "ii")
            irc_user_quit(fred, tom, "iiuser")
        finally:
            stop(proc)


if __name__ == "__main__":
    sys.exit(t.main(globals()))
