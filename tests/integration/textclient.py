#!/usr/bin/env python3
"""A text-mode (telnet / nc) client of chatd over a raw socket, for the
integration tests.

The server's output is kept twice:

- .raw holds every byte ever received, exactly, so that tests can assert
  on what reaches a terminal (no escape sequences, no stray CR or LF);
- complete lines (ended by CRLF or LF) are decoded as UTF-8 (errors
  replaced) into Line objects: .all_lines holds every one, .inbox the
  ones no expect_line() has claimed yet.

The name prompt "Your name: " has no line end, so the server's next line
follows it on the same terminal line; the prompt is stripped from the
start of lines (line.prompted says it was there) and counted in .prompts,
so that "! the name is taken" or "* hello alice" still starts its line.
read_until() works on the raw byte stream with its own cursor, for
things that are not lines, such as the prompt itself.

Every wait has a deadline and raises chatdtest.Timeout or chatdtest.Closed
with what did come.  Standard library only.
"""

import itertools
import re
import select
import socket
import struct
import time

import chatdtest as t

PROMPT = "Your name: "
_PROMPT_B = PROMPT.encode()
_ids = itertools.count(1)
_sync_ids = itertools.count(1)


class Line:
    """One line from the server: .text (decoded, no line end, prompt
    stripped), .raw (its bytes, line end excluded), .at (monotonic time it
    was complete), .prompted (the name prompt preceded it)."""

    __slots__ = ("text", "raw", "at", "prompted")

    def __init__(self, text, raw, at, prompted):
        self.text = text
        self.raw = raw
        self.at = at
        self.prompted = prompted

    def __repr__(self):
        return repr(self.text)


def _rx(pattern):
    return pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)


class TextClient:
    """One text-mode connection.  label names it in failure messages."""

    def __init__(self, port, label=None, *, host="127.0.0.1", timeout=5.0, rcvbuf=None,
                 nodelay=True):
        self.label = label or "text%d" % next(_ids)
        self.timeout = timeout
        self.name = None
        self.raw = bytearray()
        self.all_lines = []
        self.inbox = []
        self.skipped = []
        self.prompts = 0
        self.eof = None           # None, "eof" or "reset"
        self.closed = False
        self.connected_at = None  # monotonic time connect() returned
        self.first_rx_at = None   # monotonic time of the first byte received
        self._rpos = 0            # read_until() cursor into .raw
        self._lpos = 0            # start of the next unsplit line in .raw
        self._prompt_scan = 0     # where counting prompts goes on
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connect, so that the window is small from the start.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.connected_at = time.monotonic()
        self.sock.setblocking(False)
        self._poll = select.poll()
        self._poll.register(self.sock, select.POLLIN)

    # -- sending ----------------------------------------------------------

    def send_raw(self, data):
        """Send bytes as they are (blocking up to the client timeout)."""
        if self.closed:
            raise AssertionError("%s: send on a connection we closed" % self.label)
        data = bytes(data)
        deadline = time.monotonic() + self.timeout
        while data:
            try:
                n = self.sock.send(data)
                data = data[n:]
            except (BlockingIOError, InterruptedError):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise t.Timeout("%s: could not send within %.1fs (server not reading?)"
                                    % (self.label, self.timeout)) from None
                select.select([], [self.sock], [], remaining)
            except OSError as e:
                raise t.Closed("%s: send failed: %s" % (self.label, e)) from None

    def send_line(self, s, eol="\r\n"):
        """Send one line: s (str as UTF-8, or bytes) followed by eol
        ("\\r\\n" as telnet sends, "\\n" as nc sends)."""
        b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
        e = eol.encode() if isinstance(eol, str) else bytes(eol)
        self.send_raw(b + e)

    # -- receiving --------------------------------------------------------

    def _read_some(self, deadline):
        """Wait until deadline for bytes and take them in.  Returns True if
        anything happened (bytes or end of stream)."""
        if self.eof or self.closed:
            return False
        data, ended = t.poll_recv(self.sock, self._poll, deadline, 1 << 16)
        if ended:
            self.eof = ended
            return True
        if not data:
            return False
        if self.first_rx_at is None:
            self.first_rx_at = time.monotonic()
        self.raw += data
        self._split()
        return True

    def _split(self):
        now = time.monotonic()
        while True:
            i = self.raw.find(b"\n", self._lpos)
            if i < 0:
                break
            chunk = bytes(self.raw[self._lpos:i])
            self._lpos = i + 1
            if chunk.endswith(b"\r"):
                chunk = chunk[:-1]
            prompted = False
            while chunk.startswith(_PROMPT_B):
                chunk = chunk[len(_PROMPT_B):]
                prompted = True
            line = Line(chunk.decode("utf-8", "replace"), chunk, now, prompted)
            self.all_lines.append(line)
            self.inbox.append(line)
        # Prompts: every occurrence in the stream, counted once.
        while True:
            j = self.raw.find(_PROMPT_B, self._prompt_scan)
            if j < 0:
                break
            self.prompts += 1
            self._prompt_scan = j + len(_PROMPT_B)

    def _deadline(self, timeout):
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def _tail(self, n=12):
        if not self.inbox:
            partial = bytes(self.raw[self._lpos:])
            return "no unclaimed lines" + (" (partial: %r)" % partial if partial else "")
        s = ", ".join(repr(x.text) for x in self.inbox[-n:])
        return ("... %d more, " % (len(self.inbox) - n) if len(self.inbox) > n else "") + s

    def pump(self, duration=0.0):
        """Read whatever arrives for duration seconds (0: only what is
        already waiting).  Never raises on end of stream: check .eof."""
        deadline = time.monotonic() + duration
        while self._read_some(deadline):
            pass

    def read_until(self, pattern, timeout=None):
        """Read the raw stream until pattern (a literal str or bytes, or a
        compiled regex over bytes or str) appears after the read_until
        cursor; returns the text seen from the cursor to the end of the
        match (decoded, errors replaced) and moves the cursor past it."""
        if isinstance(pattern, str):
            pattern = re.compile(re.escape(pattern.encode()))
        elif isinstance(pattern, (bytes, bytearray)):
            pattern = re.compile(re.escape(bytes(pattern)))
        deadline = self._deadline(timeout)
        while True:
            seg = bytes(self.raw[self._rpos:])
            if isinstance(pattern.pattern, str):
                text = seg.decode("utf-8", "surrogateescape")
                m = pattern.search(text)
                if m:
                    used = len(text[:m.end()].encode("utf-8", "surrogateescape"))
                    self._rpos += used
                    return seg[:used].decode("utf-8", "replace")
            else:
                m = pattern.search(seg)
                if m:
                    self._rpos += m.end()
                    return seg[:m.end()].decode("utf-8", "replace")
            if self.eof:
                raise t.Closed("%s: connection ended (%s) before %r; got %r"
                               % (self.label, self.eof, pattern.pattern, seg[-300:]))
            if time.monotonic() >= deadline:
                raise t.Timeout("%s: no %r within %.2fs; got %r"
                                % (self.label, pattern.pattern,
                                   timeout if timeout is not None else self.timeout,
                                   seg[-300:]))
            self._read_some(deadline)

    def lines(self):
        """The text of every line received so far (claimed or not)."""
        self.pump()
        return [x.text for x in self.all_lines]

    def next_line(self, timeout=None):
        """The next unclaimed line, in order."""
        deadline = self._deadline(timeout)
        while not self.inbox:
            if self.eof:
                raise t.Closed("%s: connection ended (%s) while a line was expected"
                               % (self.label, self.eof))
            if time.monotonic() >= deadline:
                raise t.Timeout("%s: no line within %.2fs; %s"
                                % (self.label, timeout if timeout is not None
                                   else self.timeout, self._tail()))
            self._read_some(deadline)
        return self.inbox.pop(0).text

    def expect_line(self, pattern, timeout=None):
        """Read until an unclaimed line matches pattern (re.search on its
        text); returns the re.Match (its .string is the whole line).
        Lines before it stay unclaimed and are listed in .skipped."""
        rx = _rx(pattern)
        deadline = self._deadline(timeout)
        i = 0
        while True:
            while i < len(self.inbox):
                m = rx.search(self.inbox[i].text)
                if m:
                    self.skipped = [x.text for x in self.inbox[:i]]
                    self.inbox.pop(i)
                    return m
                i += 1
            if self.eof:
                raise t.Closed("%s: connection ended (%s) while waiting for a line "
                               "matching /%s/; %s" % (self.label, self.eof, rx.pattern,
                                                      self._tail()))
            if time.monotonic() >= deadline:
                raise t.Timeout("%s: no line matching /%s/ within %.2fs; %s"
                                % (self.label, rx.pattern, timeout if timeout is not None
                                   else self.timeout, self._tail()))
            self._read_some(deadline)

    def take_lines(self, pattern=None):
        """Claim and return the text of every unclaimed line (matching
        pattern, if given) received so far."""
        self.pump()
        if pattern is None:
            out, self.inbox = self.inbox, []
            return [x.text for x in out]
        rx = _rx(pattern)
        out = [x for x in self.inbox if rx.search(x.text)]
        self.inbox = [x for x in self.inbox if not rx.search(x.text)]
        return [x.text for x in out]

    def sync(self, timeout=None):
        """A barrier: send an unknown command with a unique name and wait
        for its one-line hint.  The server answers lines in order, so
        everything it queued for us before has arrived.  Returns the text
        of the unclaimed lines that came before the hint (they stay
        unclaimed)."""
        word = "sync%d" % next(_sync_ids)
        self.send_line("/" + word)
        self.expect_line(r"^! unknown command /%s\b" % word, timeout)
        return list(self.skipped)

    def expect_closed(self, timeout=None):
        """Read until the server ends the connection; returns the text of
        the unclaimed lines that came before (claiming them)."""
        deadline = self._deadline(timeout)
        while not self.eof:
            if self.closed:
                raise AssertionError("%s: we closed this connection ourselves" % self.label)
            if time.monotonic() >= deadline:
                raise t.Timeout("%s: connection still open after %.2fs; %s"
                                % (self.label, timeout if timeout is not None
                                   else self.timeout, self._tail()))
            self._read_some(deadline)
        out, self.inbox = self.inbox, []
        return [x.text for x in out]

    # -- a person's steps ---------------------------------------------------

    def login(self, name, timeout=None, eol="\r\n", settle=True):
        """Wait for the name prompt, give name, wait for "* hello NAME".
        With settle, also sync() and claim every line so far (the welcome,
        the hello, the limits), so that the inbox starts empty.  Returns
        the hello line."""
        self.read_until(PROMPT, timeout)
        self.send_line(name, eol)
        m = self.expect_line(r"^\* hello %s\b" % re.escape(name), timeout)
        self.name = name
        if self.label.startswith("text"):
            self.label = name
        if settle:
            self.sync(timeout)
            self.inbox = []
        return m.string

    def join(self, room, timeout=None):
        """/join ROOM; returns the header line "* joined #ROOM, N member(s): ..."."""
        self.send_line("/join " + room)
        return self.expect_line(r"^\* joined #%s, \d+ members?:" % re.escape(room),
                                timeout).string

    # -- ending -----------------------------------------------------------

    def reset_close(self):
        """Abortive close (RST), as when a client is killed."""
        if not self.closed:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
            self.closed = True

    def close(self):
        if not self.closed:
            self.sock.close()
            self.closed = True


def text_client(srv, name=None, port=None, **kw):
    """A TextClient of srv (closed when the server context ends); with
    name it is logged in."""
    c = TextClient(srv.port if port is None else port, label=kw.pop("label", name), **kw)
    srv.clients.append(c)
    if name is not None:
        c.login(name)
    return c


# Lines as chatd renders them (docs/protocol.md, text mode).
CLOCK = r"\d\d:\d\d"


def chat_re(room, nick, text=None, history=False):
    """Regex for a chat line "[| ]HH:MM #room <nick> text" (the whole line
    when text is given)."""
    head = (r"^\| " if history else r"^") + CLOCK + r" #%s <%s> " % (re.escape(room),
                                                                     re.escape(nick))
    return head + (re.escape(text) + "$" if text is not None else "")


def listener_port(srv, proto, timeout=5.0):
    """Port of srv's listener logged as "listening on ADDR:PORT (proto)"."""
    m = srv.wait_for_line(r"listening on 127\.0\.0\.1:(\d+) \(%s\)" % re.escape(proto), timeout)
    return int(m.group(1))
