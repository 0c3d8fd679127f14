#!/usr/bin/env python3
"""Text mode end to end with real clients: `telnet` running in a tmux
pane, driven with send-keys and checked with capture-pane for what a
person would see on the screen, and `nc` over pipes.

Needs tmux, telnet and nc (OpenBSD netcat) on PATH; a missing tool fails
the test with a message saying which.  Each tmux server runs on its own
socket (-L chatdtest-PID-N) and is killed by that socket name only.  Run
as

    python3 test_text_terminal.py --chatd build/chatd
"""

import itertools
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

import chatdtest as t
from chatdtest import MESSAGE, PRESENCE

SERVER_ARGS = ("--detect-window", "0.2")
CLOCK = r"\d\d:\d\d"
_tmux_ids = itertools.count(1)


def need(tool, package):
    path = shutil.which(tool)
    if path is None:
        raise AssertionError("%s is not installed (apt-get install %s): this test needs it"
                             % (tool, package))
    return path


class Tmux:
    """One detached tmux session on a private server socket, running a
    command in a fixed-size pane."""

    def __init__(self, command, width=100, height=40):
        self.tmux = need("tmux", "tmux")
        self.sock = "chatdtest-%d-%d" % (os.getpid(), next(_tmux_ids))
        self.name = "chat"
        self.env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", TERM="xterm")
        self.env.pop("TMUX", None)
        self.socket_path = ""
        self._run("-f", "/dev/null", "new-session", "-d", "-s", self.name,
                  "-x", str(width), "-y", str(height), command)
        try:
            self.socket_path = self._run("display-message", "-p", "#{socket_path}").strip()
            # Keep the pane (and what it shows) when the client program exits.
            self._run("set-option", "-w", "-t", self.name, "remain-on-exit", "on")
        except BaseException:
            self.kill()
            raise

    def _run(self, *args, check=True):
        p = subprocess.run([self.tmux, "-u", "-L", self.sock, *args], env=self.env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        if check and p.returncode != 0:
            raise AssertionError("tmux %s failed (%d): %s"
                                 % (" ".join(args), p.returncode,
                                    p.stderr.decode(errors="replace").strip()))
        return p.stdout.decode("utf-8", "replace")

    def type(self, text):
        """Type text (literally) and press Enter."""
        self._run("send-keys", "-t", self.name, "-l", text)
        self._run("send-keys", "-t", self.name, "Enter")

    def screen(self, escapes=False):
        """What the pane shows now, one string per row (trailing blanks
        stripped); with escapes, attributes as escape sequences too."""
        args = ["capture-pane", "-p", "-t", self.name]
        if escapes:
            args.append("-e")
        return [row.rstrip() for row in self._run(*args).split("\n")]

    def wait_for(self, regex, timeout=5.0, what=None):
        """Poll the screen until a row matches regex; returns the match."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            rows = self.screen()
            for row in rows:
                m = rx.search(row)
                if m:
                    return m
            if time.monotonic() >= deadline:
                raise t.Timeout("screen shows no %s (/%s/) within %.1fs; it shows:\n%s"
                                % (what or "row", regex, timeout,
                                   "\n".join("      |" + r for r in rows if r)))
            time.sleep(0.05)

    def dead(self):
        return self._run("display-message", "-p", "-t", self.name, "#{pane_dead}",
                         check=False).strip() == "1"

    def kill(self):
        """Kill this tmux server (by its private socket) and remove the
        socket file it leaves behind."""
        self._run("kill-server", check=False)
        if self.socket_path.endswith("/" + self.sock):
            try:
                os.unlink(self.socket_path)
            except FileNotFoundError:
                pass


def test_telnet_in_a_terminal_chats_with_a_framed_user(srv):
    need("telnet", "telnet")
    bob = srv.client("bob")
    bob.join("lobby")
    t.assert_ack(bob.say("lobby", "said before alice came"), "bob's SAY before alice")

    term = Tmux("telnet 127.0.0.1 %d" % srv.port)
    try:
        term.wait_for(r"^\* welcome to chatd\b", what="the welcome")
        term.wait_for(r"^Your name:$", what="the name prompt")
        term.type("alice")
        term.wait_for(r"^\* hello alice\b", what="the hello")

        term.type("/join lobby")
        term.wait_for(r"^\* joined #lobby, 2 members: bob alice$", what="the join header")
        term.wait_for(r"^\| %s #lobby <bob> said before alice came$" % CLOCK,
                      what="bob's earlier message marked as history")
        bob.expect(PRESENCE, kind=t.P_JOIN, nick="alice")

        t.assert_ack(bob.say("lobby", "hi"), "bob's SAY hi")
        term.wait_for(r"^%s #lobby <bob> hi$" % CLOCK, what="bob's live message")

        # Escape sequences, a clear-screen, CR and BEL from bob: shown as
        # replacement characters, with no effect on the screen.
        nasty = "A\x1b[31mRED\x1b[0m B\x1b[2J\x1b[Hstill C\rFAKE D\x07end"
        t.assert_ack(bob.say("lobby", nasty), "bob's SAY with escapes")
        m = term.wait_for(r"^%s #lobby <bob> A.*$" % CLOCK, what="bob's message with escapes")
        row = m.group(0)
        for word in ("RED", "still", "FAKE", "end"):
            if word not in row:
                raise AssertionError("%r is not on the line of bob's message: %r" % (word, row))
        if "\ufffd" not in row:
            raise AssertionError("the controls are not shown as replacement characters: %r"
                                 % row)
        rows = term.screen()
        if not any(r.startswith("* welcome to chatd") for r in rows):
            raise AssertionError("the screen was cleared by bob's message:\n%s"
                                 % "\n".join(rows))
        if any(r.startswith("FAKE") for r in rows):
            raise AssertionError("bob's CR moved the cursor back: %r" % rows)
        styled = [r for r in term.screen(escapes=True) if "RED" in r]
        if any(re.search(r"\x1b\[[0-9;]*3[1-7][;m]", r) for r in styled):
            raise AssertionError("bob's colour reached the screen: %r" % styled)

        # What alice types reaches bob exactly.
        term.type("hello bob, nice to see you")
        m = bob.expect(MESSAGE, from_="alice")
        t.assert_eq((m.room, m.text), ("lobby", "hello bob, nice to see you"),
                    "bob's MESSAGE from the telnet user")
        term.type("/msg bob psst")
        d = bob.expect(MESSAGE, from_="alice")
        t.assert_eq((d.text, bool(d.flags & t.MSG_DIRECT)), ("psst", True),
                    "bob's direct MESSAGE")
        term.wait_for(r"^%s -> \*bob\* psst$" % CLOCK, what="the /msg confirmation")

        t.assert_ack(bob.msg("alice", "psst back"), "bob's MSG to alice")
        term.wait_for(r"^%s \*bob\* psst back$" % CLOCK, what="bob's direct message")

        term.type("/quit")
        term.wait_for(r"^\* bye$", what="the goodbye")
        term.wait_for(r"Connection closed by foreign host", what="telnet seeing the close")
        p = bob.expect(PRESENCE, nick="alice", pred=lambda f: f.kind != t.P_JOIN)
        t.assert_eq((p.kind, p.room), (t.P_QUIT, "lobby"), "bob's PRESENCE for alice")
        t.wait_until(term.dead, 5, what="telnet exited")
        junk = [r for r in term.screen() if "\ufffd" in r and "<bob>" not in r]
        t.assert_eq(junk, [], "rows with replacement characters besides bob's message")
    finally:
        term.kill()


def test_telnet_in_an_80_column_terminal_fits_server_lines(srv):
    need("telnet", "telnet")
    term = Tmux("telnet 127.0.0.1 %d" % srv.port, width=80, height=40)
    try:
        term.wait_for(r"^Your name:$", what="the name prompt")
        term.type("alice")
        term.wait_for(r"^\* (limits|hello)", what="the hello")
        term.type("/help")
        term.wait_for(r"/quit", what="the help")
        term.type("/join lobby")
        term.wait_for(r"^\* joined #lobby", what="the join header")
        rows = [r for r in term.screen() if r]
        # A row that does not start like any line is the wrapped tail of
        # the line above it: the server's own lines should fit.
        starts = (r"^\* ", r"^! ", r"^Your name: ", r"^%s " % CLOCK, r"^Trying ",
                  r"^Connected to ", r"^Escape character", r"^/")
        wrapped = [r for r in rows if not any(re.match(s, r) for s in starts)]
        t.assert_eq(wrapped, [], "rows that are the wrapped tail of a server line at 80 "
                                 "columns (screen:\n%s\n)" % "\n".join(rows))
    finally:
        term.kill()


class Nc:
    """nc 127.0.0.1 PORT as a subprocess with pipes."""

    def __init__(self, port):
        nc = need("nc", "netcat-openbsd")
        self.proc = subprocess.Popen([nc, "127.0.0.1", str(port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = b""

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def wait_for(self, regex, timeout=5.0):
        rx = re.compile(regex.encode() if isinstance(regex, str) else regex, re.M)
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            m = rx.search(self.out)
            if m:
                return m
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise t.Timeout("nc printed no /%s/ within %.1fs; it printed %r"
                                % (rx.pattern, timeout, self.out[-400:]))
            r, _, _ = select.select([fd], [], [], remaining)
            if r:
                data = os.read(fd, 65536)
                if not data:
                    raise t.Closed("nc ended before /%s/; it printed %r"
                                   % (rx.pattern, self.out[-400:]))
                self.out += data

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


def test_nc_chats_with_a_framed_user(srv):
    alice = srv.client("alice")
    alice.join("r")
    nc = Nc(srv.port)
    try:
        nc.wait_for(r"^\* welcome to chatd\b")
        nc.wait_for(r"Your name: $")
        nc.send("bob")
        nc.wait_for(r"(^|Your name: )\* hello bob\b")
        nc.send("/join r")
        nc.wait_for(r"^\* joined #r, 2 members: alice bob\r$")
        t.assert_ack(alice.say("r", "hi nc user"), "alice's SAY")
        nc.wait_for(r"^%s #r <alice> hi nc user\r$" % CLOCK)
        nc.send("hi framed user")
        m = alice.expect(MESSAGE, from_="bob")
        t.assert_eq((m.room, m.text), ("r", "hi framed user"), "alice's MESSAGE from nc")
        nc.send("/quit")
        nc.wait_for(r"^\* bye\r$")
        p = alice.expect(PRESENCE, nick="bob", pred=lambda f: f.kind != t.P_JOIN)
        t.assert_eq(p.kind, t.P_QUIT, "alice's PRESENCE kind for bob")
        # nc exits once its input ends too.
        nc.proc.stdin.close()
        try:
            nc.proc.wait(5)
        except subprocess.TimeoutExpired:
            raise AssertionError("nc still running 5 s after the server said bye and its "
                                 "input ended") from None
    finally:
        nc.stop()


if __name__ == "__main__":
    sys.exit(t.main(globals()))
