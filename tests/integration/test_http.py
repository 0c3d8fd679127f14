#!/usr/bin/env python3
"""The HTTP/JSON front end, against its contract docs/http.md.

chatd answers HTTP/1.1 on the port its framed and text clients use.  These
scenarios talk to the real daemon with http.client, and with raw sockets
where the wire itself is the subject (pipelining, long polls held on a
connection, the event stream, slow or malformed requests):

- connecting: detection on the shared port, keep-alive, pipelining,
  HTTP/1.0 and Connection: close, --http-max-requests, a pinned /http
  listener, flood control that delays and never refuses;
- sessions: sign-in (token, limits, cookie), nicks unique across front
  ends, 401 with WWW-Authenticate, DELETE announced as a quit, the idle
  timeout (reason `timeout`) and what keeps a session alive;
- rooms: join, leave, members, the room list and the user list, paged
  with `next` so that everyone present throughout is named exactly once;
- messages: sending, direct messages, reading with and without a cursor
  (exact, truncated, epoch_changed), `next`, `limit`;
- long polls, the mailbox (/me/events, `dropped`), the event stream
  (format, resuming with Last-Event-ID, overflow, one stream per session,
  slow readers, keep-alive comments, bye at shutdown);
- public read, CORS, /healthz, /metrics, and every error of section 11.

Run as

    python3 test_http.py --chatd build/chatd [-k NAME]

The helpers here (Api, Session, RawHttp and the SSE reader) are also used
by test_http_cross.py.
"""

import http.client
import json
import os
import re
import select
import signal
import socket
import struct
import sys
import time
import urllib.parse

import chatdtest as t
from chatdtest import MESSAGE, PRESENCE, WELCOME
from textclient import CLOCK, chat_re, listener_port, text_client

# Text clients log in after a short window; flood control stays at its
# defaults unless a test says otherwise.
SERVER_ARGS = ("--detect-window", "0.2")

API = "/api/v1"
R_TIMEOUT = getattr(t, "R_TIMEOUT", 8)   # protocol.md 8.1: an HTTP session went unused
TOKEN_RE = re.compile(r"^[0-9a-fA-F]{32,}$")
CURSOR_RE = re.compile(r"^(\d+)-(\d+)$")
MAX_SAFE = 1 << 53
DEFAULT_LIMITS = {"max_text": 4096, "max_rooms": 64, "history_len": 50,
                  "session_timeout": 60, "max_wait": 30, "mailbox": 256,
                  "mailbox_bytes": 262144}
_NO = object()


# ---------------------------------------------------------------------------
# Responses


class Resp:
    """One HTTP response: .status, .reason, .headers [(name, value)], .body
    (bytes), .version ("HTTP/1.1"), .at (monotonic time it was complete)."""

    def __init__(self, status, reason, headers, body, version="HTTP/1.1", at=None):
        self.status = status
        self.reason = reason
        self.headers = list(headers)
        self.body = body
        self.version = version
        self.at = time.monotonic() if at is None else at

    def header(self, name, default=None):
        """The first value of a header (names compared ignoring case)."""
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return default

    def header_all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def header_tokens(self, name):
        """A comma-separated header (all its occurrences) as a list of
        stripped items."""
        out = []
        for v in self.header_all(name):
            out += [x.strip() for x in v.split(",") if x.strip()]
        return out

    @property
    def content_type(self):
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError("%r: body is not JSON (%s)" % (self, e)) from None

    def __repr__(self):
        body = self.body[:300]
        more = "...(%d bytes)" % len(self.body) if len(self.body) > 300 else ""
        return "Resp(%s %d %s, body=%r%s)" % (self.version, self.status, self.reason, body, more)


def ok(r, status, what):
    """r has this status; returns its JSON body (None for a 204, whose
    body must be empty)."""
    if r.status != status:
        raise AssertionError("%s: expected %d, got %r" % (what, status, r))
    if status == 204:
        t.assert_eq(r.body, b"", "%s: body of a 204" % what)
        return None
    if r.content_type != "application/json":
        raise AssertionError("%s: Content-Type %r, expected application/json (%r)"
                             % (what, r.header("Content-Type"), r))
    return r.json


def expect_error(r, status, code, what):
    """r is an error of this status whose body is exactly the documented
    shape {"error": {"code": CODE, "message": "..."}}; returns the error."""
    if r.status != status:
        raise AssertionError("%s: expected %d %s, got %r" % (what, status, code, r))
    if r.content_type != "application/json":
        raise AssertionError("%s: error with Content-Type %r, expected application/json (%r)"
                             % (what, r.header("Content-Type"), r))
    body = r.json
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        raise AssertionError('%s: error body is not {"error": {...}}: %r' % (what, body))
    err = body["error"]
    if err.get("code") != code:
        raise AssertionError("%s: error code %r, expected %r (%r)"
                             % (what, err.get("code"), code, body))
    if not isinstance(err.get("message"), str) or not err["message"]:
        raise AssertionError("%s: error without a message: %r" % (what, body))
    return err


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def assert_safe_int(v, what):
    if not is_int(v) or not 0 <= v < MAX_SAFE:
        raise AssertionError("%s: %r is not an integer below 2^53" % (what, v))


def assert_now_ms(v, what, slack_ms=60000):
    """v is a unix time in milliseconds, about now."""
    assert_safe_int(v, what)
    now = time.time() * 1000
    if abs(v - now) > slack_ms:
        raise AssertionError("%s: %r ms is not about now (%d)" % (what, v, now))


def cursor(epoch, seq):
    return "%d-%d" % (epoch, seq)


def split_cursor(c, what="cursor"):
    m = CURSOR_RE.match(c) if isinstance(c, str) else None
    if not m:
        raise AssertionError("%s: %r is not EPOCH-SEQ" % (what, c))
    return int(m.group(1)), int(m.group(2))


def q(name):
    """A room name or nick as a percent-encoded path segment."""
    return urllib.parse.quote(name, safe="")


def query(**params):
    items = [(k, v) for k, v in params.items() if v is not None]
    return "?" + urllib.parse.urlencode(items) if items else ""


def check_message(m, what, room=None, frm=None, text=None, seq=None, epoch=None):
    """m has the shape of a room message (section 4) and these values."""
    for key in ("id", "type", "room", "epoch", "seq", "cursor", "time", "from", "text"):
        if key not in m:
            raise AssertionError("%s: room message lacks %r: %r" % (what, key, m))
    t.assert_eq(m["type"], "message", "%s: type" % what)
    for key in ("id", "epoch", "seq"):
        assert_safe_int(m[key], "%s: %s" % (what, key))
    assert_now_ms(m["time"], "%s: time" % what)
    t.assert_eq(m["cursor"], cursor(m["epoch"], m["seq"]), "%s: cursor is EPOCH-SEQ" % what)
    for key, want in (("room", room), ("from", frm), ("text", text), ("seq", seq),
                      ("epoch", epoch)):
        if want is not None:
            t.assert_eq(m[key], want, "%s: %s" % (what, key))
    return m


def seqs(messages):
    return [m["seq"] for m in messages]


# ---------------------------------------------------------------------------
# http.client: one keep-alive connection


class Api:
    """Requests over one HTTP/1.1 keep-alive connection (http.client).  A
    connection the server closed is opened again by the next request."""

    def __init__(self, port, timeout=15.0):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.closed = False

    def request(self, method, path, body=None, headers=None, token=None, json_body=_NO):
        hdrs = {}
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        if json_body is not _NO:
            body = json.dumps(json_body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        try:
            self.conn.request(method, path, body=body, headers=hdrs)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            raise AssertionError("%s %s: %s: %s" % (method, path, type(e).__name__, e)) from None
        return Resp(r.status, r.reason, r.getheaders(), data,
                    "HTTP/%d.%d" % divmod(r.version, 10))

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def close(self):
        self.conn.close()
        self.closed = True


def api(srv):
    """An Api of srv, closed when the server context ends."""
    a = Api(srv.port)
    srv.clients.append(a)
    return a


class Session:
    """An HTTP session: POST /session succeeded (201 asserted).  Requests go
    over its own keep-alive connection with its bearer token."""

    def __init__(self, srv, nick, conn=None):
        self.api = conn or api(srv)
        r = self.api.request("POST", API + "/session", json_body={"nick": nick})
        body = ok(r, 201, "POST /session for %r" % nick)
        self.resp = r
        self.body = body
        self.token = body.get("token")
        self.nick = body.get("nick")
        self.limits = body.get("limits")
        if not isinstance(self.token, str) or not TOKEN_RE.match(self.token):
            raise AssertionError("session token %r is not 32+ hex digits" % (self.token,))

    def req(self, method, path, json_body=_NO, headers=None, token=_NO, body=None):
        return self.api.request(method, API + path, body=body, json_body=json_body,
                                headers=headers, token=self.token if token is _NO else token)

    def join(self, room):
        return ok(self.req("POST", "/rooms/%s/join" % q(room)), 200,
                  "%s joins %s" % (self.nick, room))

    def leave(self, room):
        ok(self.req("POST", "/rooms/%s/leave" % q(room)), 204, "%s leaves %s" % (self.nick, room))

    def say(self, room, text):
        return ok(self.req("POST", "/rooms/%s/messages" % q(room), json_body={"text": text}),
                  201, "%s sends to %s" % (self.nick, room))

    def dm(self, nick, text):
        return ok(self.req("POST", "/users/%s/messages" % q(nick), json_body={"text": text}),
                  201, "%s sends a direct message to %s" % (self.nick, nick))

    def messages(self, room, **params):
        return self.req("GET", "/rooms/%s/messages%s" % (q(room), query(**params)))

    def read(self, room, **params):
        return ok(self.messages(room, **params), 200, "GET %s messages %r" % (room, params))

    def events(self, **params):
        return self.req("GET", "/me/events" + query(**params))

    def me(self):
        return ok(self.req("GET", "/me"), 200, "GET /me of %s" % self.nick)

    def delete(self):
        ok(self.req("DELETE", "/session"), 204, "DELETE /session of %s" % self.nick)


def collect_events(sess, after, want, timeout=5.0, what="mailbox events"):
    """GET /me/events?after=...&wait=1 from after until want(events) holds;
    returns (events, next)."""
    deadline = time.monotonic() + timeout
    got = []
    while True:
        body = ok(sess.events(after=after, wait=1), 200, "GET /me/events")
        got += body["events"]
        after = body["next"]
        if want(got):
            return got, after
        if time.monotonic() > deadline:
            raise t.Timeout("%s incomplete after %.1fs; got %r" % (what, timeout, got))


# ---------------------------------------------------------------------------
# Raw sockets: requests as bytes, responses and event streams parsed here


def build_request(method, path, headers=None, body=None, token=None, version="HTTP/1.1",
                  host=True):
    """A request as bytes.  A body gets a Content-Length unless headers
    give one, or Transfer-Encoding, themselves."""
    hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers or ())
    names = {k.lower() for k, _ in hdrs}
    if host and "host" not in names:
        hdrs.insert(0, ("Host", "127.0.0.1"))
    if token is not None:
        hdrs.append(("Authorization", "Bearer " + token))
    if body is not None:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            if "content-type" not in names:
                hdrs.append(("Content-Type", "application/json"))
        if "content-length" not in names and "transfer-encoding" not in names:
            hdrs.append(("Content-Length", str(len(body))))
    head = "%s %s %s\r\n" % (method, path, version)
    head += "".join("%s: %s\r\n" % kv for kv in hdrs) + "\r\n"
    return head.encode("latin-1") + (body or b"")


def chunked(body, size=7):
    """body in chunked transfer coding, in chunks of size bytes."""
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


class SseEvent:
    """One event of an event stream: .id (str or None), .event (default
    "message"), .data (the data lines joined by LF), .at."""

    def __init__(self, eid, event, data, at):
        self.id = eid
        self.event = event
        self.data = data
        self.at = at

    def json(self):
        try:
            return json.loads(self.data)
        except ValueError as e:
            raise AssertionError("event %r: data is not JSON (%s)" % (self, e)) from None

    def __repr__(self):
        d = self.data if len(self.data) < 160 else self.data[:157] + "..."
        return "SseEvent(id=%r, event=%r, data=%r)" % (self.id, self.event, d)


class RawHttp:
    """One TCP connection spoken to byte by byte.  Every wait has a
    deadline and raises chatdtest.Timeout or chatdtest.Closed with what
    came."""

    def __init__(self, port, label="http", timeout=5.0, rcvbuf=None):
        self.label = label
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = None          # None, "eof" or "reset"
        self.closed = False
        self.stream = None       # an event stream: "chunked" or "plain"
        self.data = bytearray()  # the stream's body, transfer coding removed
        self.stream_done = False
        self.comments = []       # (monotonic time, text) of comment lines
        self.backlog = []        # events read while looking for a comment
        self._sstate = ["size", 0]
        self._pending = None
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.settimeout(timeout)
            s.connect(("127.0.0.1", port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
        except BaseException:
            s.close()
            raise
        self.sock = s
        self._poll = select.poll()
        self._poll.register(s.fileno(), select.POLLIN)

    def __repr__(self):
        return "RawHttp(%s)" % self.label

    # -- sending ----------------------------------------------------------

    def send(self, data):
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
                    raise t.Timeout("%s: could not send within %.1fs" % (self.label, self.timeout))
                select.select([], [self.sock], [], remaining)
            except OSError as e:
                raise t.Closed("%s: send failed: %s" % (self.label, e)) from None

    def request(self, method, path, headers=None, body=None, token=None, version="HTTP/1.1"):
        self.send(build_request(method, path, headers, body, token, version))

    # -- receiving --------------------------------------------------------

    def _fill(self, deadline):
        if self.eof or self.closed:
            return False
        data, ended = t.poll_recv(self.sock, self._poll, deadline, 1 << 18)
        if ended:
            self.eof = ended
            return True
        self.buf += data
        return bool(data)

    def _wait(self, cond, deadline, what):
        while True:
            if cond():
                return
            if self.eof:
                raise t.Closed("%s: connection ended (%s) while waiting for %s; buffered %r"
                               % (self.label, self.eof, what, bytes(self.buf[:300])))
            if time.monotonic() >= deadline:
                raise t.Timeout("%s: no %s in time; buffered %r"
                                % (self.label, what, bytes(self.buf[:300])))
            self._fill(deadline)

    def _deadline(self, timeout):
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def read_head(self, timeout=None):
        """The next response's status line and headers (body not read)."""
        deadline = self._deadline(timeout)
        self._wait(lambda: b"\r\n\r\n" in self.buf, deadline, "response head")
        i = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:i]).decode("latin-1")
        del self.buf[:i + 4]
        lines = head.split("\r\n")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise t.ProtocolViolation("%s: not an HTTP status line: %r" % (self.label, lines[0]))
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise t.ProtocolViolation("%s: malformed header line %r" % (self.label, line))
            headers.append((name.strip(), value.strip()))
        return Resp(int(m.group(2)), m.group(3) or "", headers, b"", m.group(1))

    def _dechunk(self, out, state):
        """Move what the buffer holds of a chunked body into out; True once
        the last chunk and the trailers are in."""
        while True:
            phase = state[0]
            if phase == "size":
                i = self.buf.find(b"\r\n")
                if i < 0:
                    return False
                line = bytes(self.buf[:i]).split(b";")[0].strip()
                try:
                    size = int(line, 16)
                except ValueError:
                    raise t.ProtocolViolation("%s: bad chunk size line %r"
                                              % (self.label, bytes(self.buf[:i]))) from None
                del self.buf[:i + 2]
                state[:] = ["trailer", 0] if size == 0 else ["data", size]
            elif phase == "data":
                n = min(state[1], len(self.buf))
                if n == 0:
                    return False
                out += self.buf[:n]
                del self.buf[:n]
                state[1] -= n
                if state[1]:
                    return False
                state[:] = ["crlf", 0]
            elif phase == "crlf":
                if len(self.buf) < 2:
                    return False
                if self.buf[:2] != b"\r\n":
                    raise t.ProtocolViolation("%s: chunk not followed by CRLF: %r"
                                              % (self.label, bytes(self.buf[:20])))
                del self.buf[:2]
                state[:] = ["size", 0]
            else:  # trailer section: lines up to an empty one
                i = self.buf.find(b"\r\n")
                if i < 0:
                    return False
                del self.buf[:i + 2]
                if i == 0:
                    state[:] = ["size", 0]
                    return True

    def read_response(self, timeout=None, method="GET"):
        """The next whole response (body by Content-Length, chunked, or up
        to the end of the connection)."""
        deadline = self._deadline(timeout)
        r = self.read_head(max(0.0, deadline - time.monotonic()))
        if method == "HEAD" or r.status in (204, 304) or 100 <= r.status < 200:
            r.at = time.monotonic()
            return r
        if "chunked" in (r.header("Transfer-Encoding") or "").lower():
            out, state = bytearray(), ["size", 0]
            self._wait(lambda: self._dechunk(out, state), deadline, "chunked body")
            r.body = bytes(out)
        elif r.header("Content-Length") is not None:
            n = int(r.header("Content-Length"))
            self._wait(lambda: len(self.buf) >= n, deadline, "body of %d bytes" % n)
            r.body = bytes(self.buf[:n])
            del self.buf[:n]
        else:
            while not self.eof:
                if time.monotonic() >= deadline:
                    raise t.Timeout("%s: body delimited by close did not end" % self.label)
                self._fill(deadline)
            r.body = bytes(self.buf)
            self.buf.clear()
        r.at = time.monotonic()
        return r

    def exchange(self, method, path, timeout=None, **kw):
        """Send one request and read its response."""
        self.request(method, path, **kw)
        return self.read_response(timeout, method)

    def nothing_for(self, seconds, what):
        """Assert that nothing arrives (no byte, no close) for seconds."""
        n0 = len(self.buf)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._fill(deadline)
            if len(self.buf) > n0 or self.eof:
                raise AssertionError("%s: %s: expected nothing for %.1fs, got %r%s"
                                     % (self.label, what, seconds, bytes(self.buf[n0:n0 + 300]),
                                        " and %s" % self.eof if self.eof else ""))

    def expect_closed(self, timeout=None):
        """Read until the server ends the connection; returns the bytes that
        came before the end and were not read as a response."""
        deadline = self._deadline(timeout)
        while not self.eof:
            if time.monotonic() >= deadline:
                raise t.Timeout("%s: connection still open after %.1fs; buffered %r"
                                % (self.label, timeout if timeout is not None else self.timeout,
                                   bytes(self.buf[:300])))
            self._fill(deadline)
        rest = bytes(self.buf)
        self.buf.clear()
        return rest

    # -- event streams ----------------------------------------------------

    def start_stream(self, head):
        self.stream = "chunked" if "chunked" in (head.header("Transfer-Encoding") or "").lower() \
            else "plain"

    def _move_stream(self):
        before = len(self.data)
        if self.stream == "chunked":
            if self._dechunk(self.data, self._sstate):
                self.stream_done = True
        else:
            self.data += self.buf
            self.buf.clear()
        if self.eof:
            self.stream_done = True
        return len(self.data) > before

    def _stream_line(self):
        """The next whole line of the stream (CRLF, LF or CR ended), or None."""
        d = self.data
        i, j = d.find(b"\n"), d.find(b"\r")
        if i < 0 and j < 0:
            return None
        k = min(x for x in (i, j) if x >= 0)
        if d[k] == 0x0D:
            if k + 1 == len(d) and not self.stream_done:
                return None  # a CR that may be the start of CRLF
            end = k + 2 if k + 1 < len(d) and d[k + 1] == 0x0A else k + 1
        else:
            end = k + 1
        line = bytes(d[:k]).decode("utf-8")
        del d[:end]
        return line

    def _next_item(self, deadline):
        """The next event or comment: ("event", SseEvent) or ("comment", text)."""
        if self._pending is None:
            self._pending = {"id": None, "event": None, "data": [], "any": False}
        p = self._pending
        while True:
            line = self._stream_line()
            if line is None:
                self._move_stream()
                line = self._stream_line()
            if line is None:
                if self.stream_done:
                    raise t.Closed("%s: event stream ended (%s)"
                                   % (self.label, self.eof or "last chunk"))
                if time.monotonic() >= deadline:
                    raise t.Timeout("%s: no event in time; partial %r"
                                    % (self.label, bytes(self.data[:300])))
                self._fill(deadline)
                continue
            if line == "":
                if p["any"]:
                    ev = SseEvent(p["id"], p["event"] or "message", "\n".join(p["data"]),
                                  time.monotonic())
                    self._pending = None
                    return "event", ev
                continue
            if line.startswith(":"):
                text = line[1:].strip()
                self.comments.append((time.monotonic(), text))
                return "comment", text
            name, colon, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                p["data"].append(value)
                p["any"] = True
            elif name == "id":
                p["id"] = value
                p["any"] = True
            elif name == "event":
                p["event"] = value
                p["any"] = True
            # retry and unknown fields: ignored, as by a browser

    def next_event(self, timeout=None):
        """The next event of the stream (comments are recorded and skipped)."""
        if self.backlog:
            return self.backlog.pop(0)
        deadline = self._deadline(timeout)
        while True:
            kind, item = self._next_item(deadline)
            if kind == "event":
                return item

    def events_for(self, seconds):
        """Every event that arrives within seconds (none is an answer)."""
        out, deadline = list(self.backlog), time.monotonic() + seconds
        self.backlog = []
        while True:
            try:
                kind, item = self._next_item(deadline)
            except t.Timeout:
                return out
            if kind == "event":
                out.append(item)

    def expect_comment(self, timeout=None):
        """Read until a comment line; events read meanwhile stay for
        next_event().  Returns the comment's text."""
        deadline = self._deadline(timeout)
        while True:
            kind, item = self._next_item(deadline)
            if kind == "comment":
                return item
            self.backlog.append(item)

    def expect_end(self, timeout=None):
        """Read until the stream ends; returns the events that came first."""
        deadline = self._deadline(timeout)
        out = list(self.backlog)
        self.backlog = []
        while True:
            try:
                kind, item = self._next_item(deadline)
            except t.Closed:
                return out
            if kind == "event":
                out.append(item)

    # -- ending -----------------------------------------------------------

    def reset_close(self):
        if not self.closed:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
            self.closed = True

    def close(self):
        if not self.closed:
            self.sock.close()
            self.closed = True


def raw(srv, port=None, **kw):
    """A RawHttp of srv, closed when the server context ends."""
    c = RawHttp(srv.port if port is None else port, **kw)
    srv.clients.append(c)
    return c


def open_stream(srv, token, last_event_id=None, after=None, rcvbuf=None, label="stream",
                timeout=5.0):
    """GET /api/v1/events; asserts 200 and text/event-stream and returns
    the RawHttp, ready for next_event()."""
    c = raw(srv, rcvbuf=rcvbuf, label=label)
    headers = [("Accept", "text/event-stream")]
    if last_event_id is not None:
        headers.append(("Last-Event-ID", str(last_event_id)))
    c.request("GET", API + "/events" + query(after=after), headers, token=token)
    head = c.read_head(timeout)
    if head.status != 200:
        if head.header("Content-Length"):
            n = int(head.header("Content-Length"))
            try:
                c._wait(lambda: len(c.buf) >= n, time.monotonic() + 2, "body")
                head.body = bytes(c.buf[:n])
            except AssertionError:
                pass
        raise AssertionError("GET /events: expected 200, got %r" % head)
    if head.content_type != "text/event-stream":
        raise AssertionError("GET /events: Content-Type %r, expected text/event-stream"
                             % head.header("Content-Type"))
    c.start_stream(head)
    return c


def prometheus_parser():
    """prometheus_client's text parser; Debian's python3-prometheus-client
    is found even when this Python is not the system one.  Skip if absent."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
        return text_string_to_metric_families
    except ImportError:
        pass
    for d in ("/usr/lib/python3/dist-packages", "/usr/local/lib/python3/dist-packages"):
        if os.path.isdir(os.path.join(d, "prometheus_client")):
            sys.path.append(d)
            try:
                from prometheus_client.parser import text_string_to_metric_families
                return text_string_to_metric_families
            except ImportError:
                pass
            finally:
                sys.path.remove(d)
    raise t.Skip("prometheus_client is not installed (python3-prometheus-client)")


def no_presence(client, nick, kinds, what):
    """The framed client received no PRESENCE of these kinds about nick."""
    bad = [f for f in client.received(PRESENCE) if f.nick == nick and f.kind in kinds]
    if bad:
        raise AssertionError("%s: %s received %r" % (what, client.label, bad))


# ---------------------------------------------------------------------------
# 1. Connecting


def test_http_framed_and_text_clients_share_the_port(srv):
    """An HTTP request, a framed client and a telnet user on the same
    port are each served in their own protocol."""
    r = api(srv).get("/healthz")
    t.assert_eq(r.status, 200, "GET /healthz on the shared port")
    f = srv.client("prog")
    t.assert_eq(f.welcome.type, WELCOME, "framed HELLO on the same port")
    text_client(srv, "person")
    t.assert_eq(api(srv).get("/healthz").status, 200, "GET /healthz after the others")


def test_every_http_method_word_is_detected_as_http(srv):
    """A client starting with GET, POST, PUT, DELETE, OPTIONS, HEAD or
    PATCH and a space gets an HTTP status line, not a text greeting."""
    for method in ("GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"):
        c = raw(srv, label=method)
        c.request(method, "/healthz")
        head = c.read_head(3)
        if not head.version.startswith("HTTP/1."):
            raise AssertionError("%s: answered %r" % (method, head))
        c.close()


def test_keep_alive_connection_serves_requests_in_turn_and_pipelined_in_order(srv):
    """HTTP/1.1 keeps the connection open, and requests pipelined in one
    write are answered in order."""
    f = srv.client("bob")
    f.join("r")
    c = raw(srv)
    for _ in range(3):
        t.assert_eq(c.exchange("GET", "/healthz").status, 200, "GET /healthz on one connection")
    c.send(build_request("GET", API + "/rooms/r/members")
           + build_request("GET", "/healthz")
           + build_request("GET", API + "/rooms")
           + build_request("GET", API + "/nowhere"))
    r1, r2, r3, r4 = (c.read_response() for _ in range(4))
    t.assert_eq(ok(r1, 200, "pipelined 1 (members)")["members"], ["bob"], "members of r")
    t.assert_eq((r2.status, r2.body.strip()), (200, b"ok"), "pipelined 2 (healthz)")
    t.assert_eq([x["name"] for x in ok(r3, 200, "pipelined 3 (rooms)")["rooms"]], ["r"],
                "rooms")
    expect_error(r4, 404, "not_found", "pipelined 4 (unknown path)")
    t.assert_eq(c.exchange("GET", "/healthz").status, 200, "the connection still serves")


def test_http10_request_is_answered_then_closed(srv):
    """An HTTP/1.0 request is answered and the connection closed."""
    c = raw(srv)
    c.request("GET", "/healthz", version="HTTP/1.0")
    r = c.read_response(3)
    t.assert_eq((r.status, r.body.strip()), (200, b"ok"), "HTTP/1.0 GET /healthz")
    t.assert_eq(c.expect_closed(3), b"", "bytes after the HTTP/1.0 answer")


def test_connection_close_header_is_answered_then_closed(srv):
    """A request with Connection: close is answered and the connection
    closed, even with another request pipelined after it."""
    c = raw(srv)
    c.send(build_request("GET", "/healthz", {"Connection": "close"})
           + build_request("GET", "/healthz"))
    r = c.read_response(3)
    t.assert_eq(r.status, 200, "GET /healthz with Connection: close")
    t.assert_eq(c.expect_closed(3), b"", "bytes after the answer to Connection: close")


@t.server_args("--http-max-requests", "3")
def test_last_request_allowed_on_a_connection_says_close(srv):
    """With --http-max-requests 3 the third answer carries Connection:
    close and the connection then closes; the first two do not."""
    c = raw(srv)
    for i in (1, 2):
        r = c.exchange("GET", "/healthz")
        t.assert_eq(r.status, 200, "request %d" % i)
        if "close" in [x.lower() for x in r.header_tokens("Connection")]:
            raise AssertionError("answer %d of 3 says Connection: close: %r" % (i, r.headers))
    r = c.exchange("GET", "/healthz")
    t.assert_eq(r.status, 200, "request 3")
    t.assert_eq("close" in [x.lower() for x in r.header_tokens("Connection")], True,
                "the third answer carries Connection: close (%r)" % r.headers)
    t.assert_eq(c.expect_closed(3), b"", "bytes after the last answer")


@t.server_args("--listen", "127.0.0.1:0/http")
def test_pinned_http_listener_answers_anything_else_400_and_closes(srv):
    """On a /http listener, a framed preface or a text line is answered
    400 and closed; HTTP works there, and framed clients still work on the
    auto listener."""
    port = listener_port(srv, "http")
    for label, data in (("framed preface", t.PREFACE + t.encode(t.HELLO, nick="prog")),
                        ("text line", b"alice\r\n")):
        c = raw(srv, port=port, label=label)
        c.send(data)
        r = c.read_response(3)
        t.assert_eq(r.status, 400, "%s on the /http listener" % label)
        c.expect_closed(3)
    t.assert_eq(raw(srv, port=port).exchange("GET", "/healthz").status, 200,
                "GET /healthz on the /http listener")
    t.assert_eq(srv.client("prog").welcome.type, WELCOME, "framed HELLO on the auto listener")


@t.server_args("--flood-rate", "10", "--flood-burst", "5")
def test_flood_control_delays_pipelined_requests_and_refuses_none(srv):
    """Every request costs a flood-control token: 25 pipelined requests at
    10/s after a burst of 5 are all answered 200, over about 2 s."""
    c = raw(srv)
    t0 = time.monotonic()
    c.send(b"".join(build_request("GET", "/healthz") for _ in range(25)))
    statuses = [c.read_response(10).status for _ in range(25)]
    elapsed = time.monotonic() - t0
    t.assert_eq(statuses, [200] * 25, "statuses of 25 pipelined requests")
    if not 1.5 <= elapsed <= 8.0:
        raise AssertionError("25 requests at 10/s (burst 5) took %.2fs, expected about 2 s"
                             % elapsed)


# ---------------------------------------------------------------------------
# 3. Sessions and authentication


def test_session_create_answers_201_with_token_limits_and_cookie(srv):
    """POST /session answers 201 with a 128-bit hex token, the nick, the
    default limits, and sets the chatd_token cookie (HttpOnly,
    SameSite=Strict, Path=/)."""
    a = api(srv)
    r = a.request("POST", API + "/session", json_body={"nick": "ann"})
    body = ok(r, 201, "POST /session")
    token = body.get("token")
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        raise AssertionError("token %r is not 32+ hex digits" % (token,))
    t.assert_eq(body.get("nick"), "ann", "nick")
    limits = body.get("limits")
    if not isinstance(limits, dict):
        raise AssertionError("no limits object: %r" % body)
    t.assert_eq({k: limits.get(k) for k in DEFAULT_LIMITS}, DEFAULT_LIMITS, "default limits")
    cookies = r.header_all("Set-Cookie")
    mine = [c for c in cookies if c.strip().startswith("chatd_token=")]
    if len(mine) != 1:
        raise AssertionError("expected one chatd_token cookie, got %r" % cookies)
    parts = [p.strip() for p in mine[0].split(";")]
    t.assert_eq(parts[0], "chatd_token=" + token, "cookie value")
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip()
    for k, want in (("httponly", ""), ("samesite", "strict"), ("path", "/")):
        if k not in attrs or attrs[k].lower() != want:
            raise AssertionError("cookie %r lacks %s%s" % (mine[0], k, "=" + want if want else ""))
    other = Session(srv, "bob")
    if other.token == token:
        raise AssertionError("two sessions got the same token")


@t.server_args("--max-text", "1000", "--max-rooms", "5", "--history", "7",
               "--http-session-timeout", "42", "--http-max-wait", "9",
               "--http-mailbox", "11", "--http-mailbox-bytes", "5000")
def test_session_limits_follow_the_configuration(srv):
    """The limits announced at sign-in are the server's configured ones."""
    s = Session(srv, "ann")
    want = {"max_text": 1000, "max_rooms": 5, "history_len": 7, "session_timeout": 42,
            "max_wait": 9, "mailbox": 11, "mailbox_bytes": 5000}
    t.assert_eq({k: s.limits.get(k) for k in want}, want, "limits")


def test_cookie_authenticates_like_the_bearer_token(srv):
    """The chatd_token cookie alone carries the session; a wrong cookie is
    401."""
    s = Session(srv, "ann")
    a = api(srv)
    r = a.get(API + "/me", headers={"Cookie": "chatd_token=" + s.token})
    t.assert_eq(ok(r, 200, "GET /me with the cookie")["nick"], "ann", "nick by cookie")
    r = a.get(API + "/me", headers={"Cookie": "other=1; chatd_token=%s; x=y" % s.token})
    t.assert_eq(ok(r, 200, "GET /me with the cookie among others")["nick"], "ann", "nick")
    r = a.get(API + "/me", headers={"Cookie": "chatd_token=" + "0" * 32})
    expect_error(r, 401, "unauthorized", "GET /me with a wrong cookie")


def test_nick_held_by_a_framed_or_text_user_is_409_nick_taken(srv):
    """A nick a framed or a text user holds, in any case, is 409
    nick_taken; so is one another HTTP session holds."""
    srv.client("Bob")
    text_client(srv, "carol")
    Session(srv, "dave")
    a = api(srv)
    for nick in ("Bob", "bob", "BOB", "carol", "Carol", "dave", "DAVE"):
        r = a.request("POST", API + "/session", json_body={"nick": nick})
        expect_error(r, 409, "nick_taken", "POST /session for %r" % nick)
    s = Session(srv, "erin", conn=a)
    t.assert_eq(s.nick, "erin", "a free nick after the refusals")


def test_http_session_nick_is_taken_for_framed_and_text_users(srv):
    """A nick an HTTP session holds is taken for framed HELLO (ERROR 204)
    and at the text name prompt."""
    Session(srv, "Ann")
    f = srv.client()
    t.assert_error(f.hello("ann"), t.E_NICK_TAKEN, "HELLO ann while HTTP holds Ann")
    c = text_client(srv)
    c.read_until("Your name: ")
    c.send_line("ANN")
    m = c.expect_line(r"^! ")
    if "taken" not in m.string:
        raise AssertionError("text prompt for ANN did not say taken: %r" % m.string)


def test_invalid_nick_is_400_nick_invalid(srv):
    """A nick that breaks protocol.md 9.1 is 400 nick_invalid, and the
    connection goes on."""
    a = api(srv)
    for nick in ("", "9lives", "has space", "x" * 33, "caf\u00e9", "a.b", "-dash"):
        r = a.request("POST", API + "/session", json_body={"nick": nick})
        expect_error(r, 400, "nick_invalid", "POST /session for %r" % nick)
    for nick in ("_under", "A-b_9", "x" * 32):
        Session(srv, nick, conn=a)


def test_session_body_without_a_nick_string_is_400_bad_json(srv):
    """A session body lacking the string field "nick" is 400 bad_json."""
    a = api(srv)
    for body in ({}, {"nick": 5}, {"nick": None}, {"nick": ["ann"]}, {"name": "ann"}):
        r = a.request("POST", API + "/session", json_body=body)
        expect_error(r, 400, "bad_json", "POST /session %r" % (body,))


SESSION_ROUTES = [
    ("DELETE", "/session", None),
    ("POST", "/rooms/r/join", None),
    ("POST", "/rooms/r/leave", None),
    ("POST", "/rooms/r/messages", {"text": "x"}),
    ("POST", "/rooms/r/topic", {"text": "x"}),
    ("POST", "/users/bob/messages", {"text": "x"}),
    ("GET", "/users", None),
    ("GET", "/me", None),
    ("GET", "/me/rooms", None),
    ("GET", "/me/events", None),
    ("GET", "/events", None),
]


def test_routes_needing_a_session_answer_401_with_www_authenticate(srv):
    """Without a token, with a token naming no session or with another
    scheme, every session route is 401 unauthorized with WWW-Authenticate:
    Bearer."""
    s = Session(srv, "ann")
    srv.client("bob").join("r")
    s.join("r")
    forged = s.token[:-1] + ("0" if s.token[-1] != "0" else "1")
    a = api(srv)
    for auth in (None, "Bearer " + "0" * 32, "Bearer " + forged, "Bearer",
                 "Basic YW5uOmFubg=="):
        for method, path, body in SESSION_ROUTES:
            headers = {"Authorization": auth} if auth is not None else None
            r = a.request(method, API + path, headers=headers,
                          json_body=body if body is not None else _NO)
            what = "%s %s with Authorization %r" % (method, path, auth)
            expect_error(r, 401, "unauthorized", what)
            w = r.header("WWW-Authenticate") or ""
            if not w.lower().startswith("bearer"):
                raise AssertionError("%s: WWW-Authenticate %r, expected Bearer" % (what, w))
    t.assert_eq(s.me()["nick"], "ann", "the real session still works")


def test_delete_session_is_204_announced_as_quit_and_ends_the_token(srv):
    """DELETE /session answers 204; a text member sees "ann quit (#r)", a
    framed one PRESENCE QUIT; the token is then 401 and the nick free."""
    bob = srv.client("bob")
    bob.join("r")
    carol = text_client(srv, "carol")
    carol.join("r")
    s = Session(srv, "ann")
    s.join("r")
    carol.expect_line(r"^%s \* ann joined #r$" % CLOCK)
    s.delete()
    carol.expect_line(r"^%s \* ann quit \(#r\)$" % CLOCK, timeout=3)
    p = bob.expect(PRESENCE, nick="ann", pred=lambda f: f.kind != t.P_JOIN, timeout=3)
    t.assert_eq((p.kind, p.room), (t.P_QUIT, "r"), "bob's PRESENCE (kind, room)")
    expect_error(s.req("GET", "/me"), 401, "unauthorized", "GET /me after DELETE")
    expect_error(s.req("DELETE", "/session"), 401, "unauthorized", "DELETE /session twice")
    t.assert_eq(srv.client().hello("ann").type, WELCOME, "HELLO ann after the session ended")
    members = ok(api(srv).get(API + "/rooms/r/members"), 200, "members")["members"]
    t.assert_eq(sorted(members), ["bob", "carol"], "members of r after the quit")


# ---------------------------------------------------------------------------
# 5. Rooms: join, leave, listings


def test_join_answers_the_rooms_position_and_members_hear_it(srv):
    """POST /rooms/{room}/join answers room, epoch, last_seq, cursor and
    member count, the same position a framed JOIN reports; framed and text
    members hear the join."""
    bob = srv.client("bob")
    jb = bob.join("Lobby")
    for k in range(3):
        t.assert_ack(bob.say("Lobby", "m%d" % k), "bob's SAY")
    carol = text_client(srv, "carol")
    carol.join("Lobby")
    s = Session(srv, "ann")
    j = s.join("lobby")
    t.assert_eq(j.get("room"), "Lobby", "room spelled as its creator did")
    t.assert_eq((j.get("epoch"), j.get("last_seq")), (jb.epoch, 3), "(epoch, last_seq)")
    t.assert_eq(j.get("cursor"), cursor(jb.epoch, 3), "cursor EPOCH-LAST_SEQ")
    t.assert_eq(j.get("members"), 3, "member count, the joiner included")
    assert_safe_int(j["epoch"], "epoch")
    p = bob.expect(PRESENCE, kind=t.P_JOIN, nick="ann", timeout=3)
    t.assert_eq(p.room, "Lobby", "bob's PRESENCE JOIN room")
    carol.expect_line(r"^%s \* ann joined #Lobby$" % CLOCK, timeout=3)
    fresh = s.join("fresh")
    t.assert_eq((fresh["room"], fresh["last_seq"], fresh["members"]), ("fresh", 0, 1),
                "a new room (room, last_seq, members)")
    t.assert_eq(fresh["cursor"], cursor(fresh["epoch"], 0), "a new room's cursor")
    j2 = srv.client("dave").join("fresh")
    t.assert_eq(j2.epoch, fresh["epoch"], "framed JOIN epoch of the room HTTP created")


def test_join_twice_is_409_and_bad_room_names_are_400(srv):
    """Joining a room one is in is 409 already_in_room; a name that
    breaks protocol.md 9.2 is 400 room_invalid."""
    s = Session(srv, "ann")
    s.join("r")
    expect_error(s.req("POST", "/rooms/R/join"), 409, "already_in_room", "join R twice")
    for room in ("bad!name", "x" * 65, "sp ace", "caf\u00e9"):
        expect_error(s.req("POST", "/rooms/%s/join" % q(room)), 400, "room_invalid",
                     "join %r" % room)
    t.assert_eq(s.join("a.b-c_D")["room"], "a.b-c_D", "a room with every allowed mark")


@t.server_args("--max-rooms", "1")
def test_join_beyond_max_rooms_is_403_too_many_rooms(srv):
    """A session in --max-rooms rooms gets 403 too_many_rooms."""
    s = Session(srv, "ann")
    s.join("a")
    expect_error(s.req("POST", "/rooms/b/join"), 403, "too_many_rooms", "a second room")


@t.server_args("--max-members", "1")
def test_join_of_a_full_room_is_403_room_full(srv):
    """A room with --max-members members is 403 room_full."""
    srv.client("bob").join("r")
    s = Session(srv, "ann")
    expect_error(s.req("POST", "/rooms/r/join"), 403, "room_full", "join a full room")


@t.server_args("--max-rooms-total", "1")
def test_join_of_a_new_room_at_max_rooms_total_is_503_room_limit(srv):
    """A new room while the server holds --max-rooms-total rooms with
    members is 503 room_limit with Retry-After: 5."""
    srv.client("bob").join("a")
    s = Session(srv, "ann")
    r = s.req("POST", "/rooms/b/join")
    expect_error(r, 503, "room_limit", "join a new room at the limit")
    t.assert_eq(r.header("Retry-After"), "5", "Retry-After")
    t.assert_eq(s.join("a")["members"], 2, "the existing room can still be joined")


def test_leave_is_204_members_see_the_part_and_leaving_again_is_403(srv):
    """POST .../leave answers 204; framed and text members see the part;
    leaving a room one is not in is 403 not_in_room."""
    bob = srv.client("bob")
    bob.join("r")
    carol = text_client(srv, "carol")
    carol.join("r")
    s = Session(srv, "ann")
    s.join("r")
    s.leave("r")
    p = bob.expect(PRESENCE, kind=t.P_PART, nick="ann", timeout=3)
    t.assert_eq(p.room, "r", "bob's PRESENCE PART room")
    carol.expect_line(r"^%s \* ann left #r$" % CLOCK, timeout=3)
    expect_error(s.req("POST", "/rooms/r/leave"), 403, "not_in_room", "leave r again")
    t.assert_eq(s.me()["rooms"], [], "the session's rooms after leaving")
    members = ok(api(srv).get(API + "/rooms/r/members"), 200, "members")["members"]
    t.assert_eq(members, ["bob", "carol"], "members of r after ann left")


def page_all(a, path, key, limit, token=None, max_pages=50, pause_after_first=None):
    """Follow next from the first page until null; returns the pages."""
    pages, after = [], None
    while True:
        sep = "&" if "?" in path else "?"
        url = path + sep + urllib.parse.urlencode(
            [("limit", limit)] + ([("after", after)] if after is not None else []))
        body = ok(a.get(url, token=token), 200, "GET %s" % url)
        pages.append(body[key])
        if pause_after_first is not None and len(pages) == 1:
            pause_after_first()
        after = body.get("next", "missing")
        if after == "missing":
            raise AssertionError("GET %s: no next in %r" % (url, body))
        if after is None:
            return pages
        if len(pages) >= max_pages:
            raise AssertionError("GET %s: still a next after %d pages" % (path, max_pages))


def assert_exactly_once(listed, present, what):
    """Every name in present (there throughout the listing) appears in
    listed exactly once; names that came or went meanwhile may or may not."""
    dup = sorted({x for x in present if listed.count(x) > 1})
    if dup:
        raise AssertionError("%s: listed more than once: %r (in %r)" % (what, dup, listed))
    missing = [x for x in present if x not in listed]
    if missing:
        raise AssertionError("%s: present throughout but never listed: %r (in %r)"
                             % (what, missing, listed))


def test_rooms_listing_is_sorted_paged_and_names_each_room_once_under_churn(srv):
    """GET /rooms lists rooms with members sorted by case-folded name, in
    pages of limit with next the last name; rooms present throughout are
    named exactly once though rooms come and go between pages; lingering
    rooms are not listed."""
    holders = {}
    for name in ("r1", "R2", "r3", "r4", "R5", "r6", "r7"):
        c = srv.client("h" + name.lower())
        c.join(name)
        holders[name] = c
    holders["r3"].join("R2")
    gone = srv.client("gone")
    gone.join("empty")
    gone.part("empty")   # lingering: not listed
    a = api(srv)
    body = ok(a.get(API + "/rooms?limit=3"), 200, "first page of rooms")
    t.assert_eq(body["rooms"], [{"name": "r1", "members": 1}, {"name": "R2", "members": 2},
                                {"name": "r3", "members": 1}], "first page")
    t.assert_eq(body["next"], "r3", "next of the first page")

    def churn():
        holders["r4"].part("r4")          # on a later page: may or may not be listed
        holders["r1"].join("r45")         # new, between: may or may not be listed
        srv.client("late").join("r0")     # new, before the cursor: not listed again

    pages = page_all(a, API + "/rooms", "rooms", 3, pause_after_first=churn)
    listed = [x["name"] for p in pages for x in p]
    assert_exactly_once(listed, ["r1", "R2", "r3", "R5", "r6", "r7"], "rooms")
    for p in pages[:-1]:
        t.assert_eq(len(p), 3, "a page that has a next holds limit rooms")
    if "empty" in listed:
        raise AssertionError("a lingering room was listed: %r" % listed)
    folded = [x.lower() for x in listed]
    t.assert_eq(folded, sorted(folded), "rooms in case-folded order")
    last = ok(a.get(API + "/rooms?after=r7"), 200, "rooms after the last")
    t.assert_eq((last["rooms"], last["next"]), ([], None), "past the last room")


@t.server_args("--max-rooms", "0", "--flood-rate", "0")
def test_rooms_listing_limit_defaults_to_100_and_is_at_most_1000(srv):
    """Without limit a page holds 100 rooms; a limit above 1000 gives
    1000; next reaches the rest."""
    c = srv.client("holder")
    names = ["room%04d" % i for i in range(1001)]
    c.send_raw(b"".join(t.encode(t.JOIN, room=n, epoch=0, since=0) for n in names))
    c.ping(timeout=30)
    c.drain(0)
    a = api(srv)
    body = ok(a.get(API + "/rooms"), 200, "GET /rooms")
    t.assert_eq([x["name"] for x in body["rooms"]], names[:100], "default page")
    t.assert_eq(body["next"], names[99], "next of the default page")
    body = ok(a.get(API + "/rooms?limit=5000"), 200, "GET /rooms?limit=5000")
    t.assert_eq(len(body["rooms"]), 1000, "rooms in a page asked for 5000")
    t.assert_eq(body["next"], names[999], "next after 1000")
    body = ok(a.get(API + "/rooms?limit=1000&after=" + names[999]), 200, "the last page")
    t.assert_eq(([x["name"] for x in body["rooms"]], body["next"]), ([names[1000]], None),
                "the last page and its next")


def test_members_are_listed_in_join_order_paged_exactly_once_under_churn(srv):
    """GET /rooms/{room}/members names members in join order, paged with
    limit and next; members present throughout are named exactly once
    though others leave and join between pages."""
    users = [srv.client("u%d" % i) for i in range(1, 7)]
    for u in users:
        u.join("m")
    a = api(srv)
    body = ok(a.get(API + "/rooms/m/members"), 200, "all members")
    t.assert_eq((body["room"], body["members"], body["next"]),
                ("m", ["u1", "u2", "u3", "u4", "u5", "u6"], None), "one page of members")
    first = ok(a.get(API + "/rooms/m/members?limit=3"), 200, "first page")
    t.assert_eq(first["members"], ["u1", "u2", "u3"], "first page of members")
    if first["next"] is None:
        raise AssertionError("first of two pages has next null")

    def churn():
        users[1].part("m")                 # u2, already listed, leaves
        users[0].part("m")                 # u1 leaves and comes back: at the end now
        users[0].join("m")
        srv.client("u7").join("m")

    pages = page_all(a, API + "/rooms/m/members", "members", 3, pause_after_first=churn)
    listed = [n for p in pages for n in p]
    assert_exactly_once(listed, ["u3", "u4", "u5", "u6"], "members")
    rest = [n for n in listed[3:] if n in ("u4", "u5", "u6")]
    t.assert_eq(rest, ["u4", "u5", "u6"], "later pages keep join order")


def test_members_of_a_room_without_members_is_404_no_such_room(srv):
    """Members of a room that does not exist, or only lingers, is 404
    no_such_room; a bad name is 400 room_invalid."""
    a = api(srv)
    expect_error(a.get(API + "/rooms/nowhere/members"), 404, "no_such_room", "unknown room")
    c = srv.client("bob")
    c.join("gone")
    c.part("gone")
    expect_error(a.get(API + "/rooms/gone/members"), 404, "no_such_room", "lingering room")
    expect_error(a.get(API + "/rooms/%s/members" % q("bad!")), 400, "room_invalid", "bad name")


def test_users_are_listed_across_front_ends_sorted_paged_exactly_once(srv):
    """GET /users names HTTP, framed and text users sorted by case-folded
    nick, paged by after=NICK; users present throughout are named exactly
    once though others come and go between pages; it needs a session."""
    s = Session(srv, "ann")
    bob = srv.client("bob")
    srv.client("Cy")
    text_client(srv, "dave")
    srv.client("eve")
    Session(srv, "Fay")
    body = ok(s.req("GET", "/users"), 200, "GET /users")
    t.assert_eq((body["users"], body["next"]),
                (["ann", "bob", "Cy", "dave", "eve", "Fay"], None), "users")
    first = ok(s.req("GET", "/users?limit=2"), 200, "first page")
    t.assert_eq((first["users"], first["next"]), (["ann", "bob"], "bob"), "first page")

    def churn():
        bob.close()
        srv.client("alf")      # before the cursor: not listed again
        srv.client("zed")      # after it: may or may not be listed
        wait_until_users_lack(s, "bob")

    pages = page_all(s.api, API + "/users", "users", 2, token=s.token, pause_after_first=churn)
    listed = [n for p in pages for n in p]
    assert_exactly_once(listed, ["ann", "Cy", "dave", "eve", "Fay"], "users")
    if "alf" in listed:
        raise AssertionError("a user before the cursor was listed: %r" % listed)
    expect_error(api(srv).get(API + "/users"), 401, "unauthorized", "GET /users without a token")


def wait_until_users_lack(s, nick):
    t.wait_until(lambda: nick not in ok(s.req("GET", "/users"), 200, "users")["users"], 3,
                 what="%s gone from /users" % nick)


def test_me_and_me_rooms_list_the_sessions_rooms_with_count_and_cursor(srv):
    """GET /me gives the nick and the session's rooms, /me/rooms the
    rooms, each with its member count and current cursor."""
    s = Session(srv, "ann")
    me = s.me()
    t.assert_eq((me.get("nick"), me.get("rooms")), ("ann", []), "GET /me of a new session")
    bob = srv.client("bob")
    jr = bob.join("r")
    s.join("r")
    js = s.join("s")
    ack = t.assert_ack(bob.say("r", "hi"), "bob's SAY")
    me = s.me()
    t.assert_eq(me["nick"], "ann", "nick")
    want = [{"name": "r", "members": 2, "cursor": cursor(jr.epoch, ack.seq)},
            {"name": "s", "members": 1, "cursor": cursor(js["epoch"], 0)}]
    t.assert_eq(sorted(me["rooms"], key=lambda x: x["name"]), want, "GET /me rooms")
    rooms = ok(s.req("GET", "/me/rooms"), 200, "GET /me/rooms")["rooms"]
    t.assert_eq(sorted(rooms, key=lambda x: x["name"]), want, "GET /me/rooms")


def test_query_values_that_are_not_numbers_or_cursors_are_400_bad_request(srv):
    """limit, wait and after values that are not numbers (or a cursor for
    messages) are 400 bad_request."""
    s = Session(srv, "ann")
    s.join("r")
    for path in ("/rooms?limit=abc", "/rooms/r/members?limit=x", "/rooms/r/members?after=x",
                 "/rooms/r/messages?after=abc", "/rooms/r/messages?after=12",
                 "/rooms/r/messages?after=1-x", "/rooms/r/messages?limit=-",
                 "/rooms/r/messages?after=0-0&wait=soon", "/me/events?after=x",
                 "/me/events?after=0&wait=x", "/users?limit=ten"):
        expect_error(s.req("GET", path), 400, "bad_request", "GET %s" % path)


# ---------------------------------------------------------------------------
# 5.3 Sending


def test_send_is_201_with_seq_time_cursor_id_and_reaches_every_reader(srv):
    """POST .../messages answers 201 with seq, time, cursor and event id;
    framed and text members receive it with that seq and time; seqs follow
    on from framed SAYs."""
    bob = srv.client("bob")
    jb = bob.join("r")
    carol = text_client(srv, "carol")
    carol.join("r")
    s = Session(srv, "ann")
    s.join("r")
    t.assert_ack(bob.say("r", "first"), "bob's SAY")
    a1 = s.say("r", "hello \u00e9t\u00e9 \U0001F600")
    a2 = s.say("r", "again")
    for k in ("seq", "time", "cursor", "id"):
        if k not in a1:
            raise AssertionError("send answer lacks %r: %r" % (k, a1))
    t.assert_eq((a1["seq"], a2["seq"]), (2, 3), "seqs after bob's seq 1")
    t.assert_eq(a1["cursor"], cursor(jb.epoch, 2), "cursor")
    assert_now_ms(a1["time"], "time")
    assert_safe_int(a1["id"], "id")
    if not a2["id"] > a1["id"]:
        raise AssertionError("event ids do not increase: %r then %r" % (a1["id"], a2["id"]))
    m = bob.expect(MESSAGE, text="hello \u00e9t\u00e9 \U0001F600", timeout=3)
    t.assert_eq((m.room, m.from_, m.seq, m.time_ms, m.flags), ("r", "ann", 2, a1["time"], 0),
                "bob's MESSAGE (room, from, seq, time, flags)")
    carol.expect_line(chat_re("r", "ann", "hello \u00e9t\u00e9 \U0001F600"), timeout=3)
    body = s.read("r")
    t.assert_eq([(x["from"], x["seq"], x["id"]) for x in body["messages"][-2:]],
                [("ann", 2, a1["id"]), ("ann", 3, a2["id"])],
                "the room's messages (from, seq, id)")


def test_send_to_a_room_one_is_not_in_is_403_not_in_room(srv):
    """Sending to a room one is not a member of, existing or not, is 403
    not_in_room; to a bad name 400 room_invalid."""
    srv.client("bob").join("r")
    s = Session(srv, "ann")
    for room in ("r", "nowhere"):
        expect_error(s.req("POST", "/rooms/%s/messages" % room, json_body={"text": "x"}),
                     403, "not_in_room", "send to %s" % room)
    expect_error(s.req("POST", "/rooms/%s/messages" % q("bad!"), json_body={"text": "x"}),
                 400, "room_invalid", "send to a bad room name")


@t.server_args("--max-text", "10")
def test_send_text_is_checked_like_say(srv):
    """Text over max_text bytes is 400 text_too_long; empty text or text
    with NUL is 400 text_invalid; a missing or non-string text is 400
    bad_json; 10 bytes of UTF-8 pass."""
    s = Session(srv, "ann")
    s.join("r")
    srv.client("bob").join("r")
    path = "/rooms/r/messages"
    expect_error(s.req("POST", path, json_body={"text": "x" * 11}), 400, "text_too_long",
                 "11 bytes")
    expect_error(s.req("POST", path, json_body={"text": "\u00e9" * 6}), 400, "text_too_long",
                 "12 bytes in 6 characters")
    expect_error(s.req("POST", path, json_body={"text": ""}), 400, "text_invalid", "empty text")
    expect_error(s.req("POST", path, json_body={"text": "a\u0000b"}), 400, "text_invalid", "NUL")
    for body in ({}, {"text": 5}, {"text": None}, {"msg": "hi"}):
        expect_error(s.req("POST", path, json_body=body), 400, "bad_json", "body %r" % (body,))
    t.assert_eq(s.say("r", "\u00e9" * 5)["seq"], 1, "10 bytes of UTF-8 sent")
    expect_error(s.req("POST", "/users/bob/messages", json_body={"text": ""}), 400,
                 "text_invalid", "empty direct message")
    expect_error(s.req("POST", "/users/bob/messages", json_body={"text": "y" * 11}), 400,
                 "text_too_long", "long direct message")


def test_direct_messages_reach_framed_text_and_http_users(srv):
    """POST /users/{nick}/messages answers 201 with time and id and
    reaches a framed user (MESSAGE DIRECT), a text user (*ann* text) and
    an HTTP user's mailbox; nicks are matched ignoring case; an unknown
    nick is 404 no_such_user."""
    bob = srv.client("bob")
    carol = text_client(srv, "carol")
    s = Session(srv, "ann")
    dan = Session(srv, "dan")
    a = s.dm("BOB", "psst")
    if not {"time", "id"} <= set(a):
        raise AssertionError("direct message answer lacks time or id: %r" % a)
    assert_now_ms(a["time"], "time")
    assert_safe_int(a["id"], "id")
    m = bob.expect(MESSAGE, timeout=3)
    t.assert_eq((m.flags, m.room, m.from_, m.seq, m.text, m.time_ms),
                (t.MSG_DIRECT, "", "ann", 0, "psst", a["time"]), "bob's MESSAGE")
    s.dm("carol", "hi carol")
    carol.expect_line(r"^%s \*ann\* hi carol$" % CLOCK, timeout=3)
    d = s.dm("dan", "hi dan")
    evs, _ = collect_events(dan, 0, lambda e: any(x["type"] == "direct" for x in e))
    e = [x for x in evs if x["type"] == "direct"][0]
    t.assert_eq((e["from"], e["text"], e["time"], e["id"]), ("ann", "hi dan", d["time"], d["id"]),
                "dan's direct event (from, text, time, id)")
    expect_error(s.req("POST", "/users/nobody/messages", json_body={"text": "x"}), 404,
                 "no_such_user", "direct message to nobody")
    t.assert_ack(bob.msg("ann", "back"), "framed MSG to the HTTP user")


# ---------------------------------------------------------------------------
# 5.2 Reading a room


def fill(sender, room, texts):
    """Framed SAYs, each ACKed; returns the ACKs."""
    return [t.assert_ack(sender.say(room, x), "SAY %r" % x) for x in texts]


@t.server_args("--history", "5")
def test_read_without_after_gives_the_last_messages_oldest_first(srv):
    """Without after: the room's last limit messages (at most the ring),
    oldest first, not truncated, next the cursor of the newest."""
    bob = srv.client("bob")
    jb = bob.join("r")
    fill(bob, "r", ["m%d" % i for i in range(1, 9)])
    s = Session(srv, "ann")
    s.join("r")
    body = s.read("r")
    t.assert_eq(body["room"], "r", "room")
    t.assert_eq(seqs(body["messages"]), [4, 5, 6, 7, 8], "the ring of 5")
    for m in body["messages"]:
        check_message(m, "message", room="r", frm="bob", text="m%d" % m["seq"], epoch=jb.epoch)
    t.assert_eq((body["truncated"], body["epoch_changed"]), (False, False), "flags")
    t.assert_eq(body["next"], cursor(jb.epoch, 8), "next")
    t.assert_eq(seqs(s.read("r", limit=2)["messages"]), [7, 8], "limit=2")
    t.assert_eq(seqs(s.read("r", limit=100)["messages"]), [4, 5, 6, 7, 8], "limit past the ring")


def test_read_after_a_cursor_gives_exactly_the_missed_messages(srv):
    """after=EPOCH-SEQ of the room gives the messages after it, oldest
    first, untruncated; after=0-0 gives them all; after the last gives
    none, next unchanged."""
    bob = srv.client("bob")
    jb = bob.join("r")
    fill(bob, "r", ["m%d" % i for i in range(1, 9)])
    s = Session(srv, "ann")
    s.join("r")
    body = s.read("r", after=cursor(jb.epoch, 3))
    t.assert_eq(seqs(body["messages"]), [4, 5, 6, 7, 8], "after seq 3")
    t.assert_eq((body["truncated"], body["epoch_changed"], body["next"]),
                (False, False, cursor(jb.epoch, 8)), "(truncated, epoch_changed, next)")
    body = s.read("r", after="0-0")
    t.assert_eq(seqs(body["messages"]), list(range(1, 9)), "after 0-0")
    t.assert_eq((body["truncated"], body["epoch_changed"]), (False, False), "flags after 0-0")
    body = s.read("r", after=cursor(jb.epoch, 8))
    t.assert_eq((body["messages"], body["next"], body["truncated"], body["epoch_changed"]),
                ([], cursor(jb.epoch, 8), False, False), "after the last message")


@t.server_args("--history", "5")
def test_read_after_a_cursor_older_than_the_ring_is_truncated(srv):
    """A cursor of the room's epoch older than the ring gets what the ring
    holds and truncated true, epoch_changed false; so does 0-0."""
    bob = srv.client("bob")
    jb = bob.join("r")
    fill(bob, "r", ["m%d" % i for i in range(1, 11)])
    s = Session(srv, "ann")
    s.join("r")
    for after in (cursor(jb.epoch, 2), "0-0"):
        body = s.read("r", after=after)
        t.assert_eq(seqs(body["messages"]), [6, 7, 8, 9, 10], "after %s" % after)
        t.assert_eq((body["truncated"], body["epoch_changed"]), (True, False),
                    "flags after %s" % after)
        t.assert_eq(body["next"], cursor(jb.epoch, 10), "next after %s" % after)
    body = s.read("r", after=cursor(jb.epoch, 5))
    t.assert_eq((seqs(body["messages"]), body["truncated"]), ([6, 7, 8, 9, 10], False),
                "a cursor just before the ring")


def test_read_with_another_epoch_or_beyond_the_last_seq_is_epoch_changed(srv):
    """A cursor of another epoch, or past the room's last seq, gets the
    ring with truncated and epoch_changed true; in a room without messages
    too."""
    bob = srv.client("bob")
    jb = bob.join("r")
    fill(bob, "r", ["m%d" % i for i in range(1, 5)])
    s = Session(srv, "ann")
    s.join("r")
    for after in (cursor(jb.epoch + 1, 2), cursor(jb.epoch, 99)):
        body = s.read("r", after=after)
        t.assert_eq(seqs(body["messages"]), [1, 2, 3, 4], "after %s" % after)
        t.assert_eq((body["truncated"], body["epoch_changed"]), (True, True),
                    "flags after %s" % after)
        t.assert_eq(body["next"], cursor(jb.epoch, 4), "next after %s" % after)
    e = s.join("empty")["epoch"]
    body = s.read("empty", after=cursor(e, 5))
    t.assert_eq((body["messages"], body["truncated"], body["epoch_changed"]), ([], True, True),
                "a room without messages and a cursor past its last seq")


def test_read_following_next_sees_every_message_exactly_once(srv):
    """Passing next as after with a small limit walks the room's messages
    exactly once in order; without messages next is the room's position."""
    bob = srv.client("bob")
    jb = bob.join("r")
    s = Session(srv, "ann")
    j = s.join("r")
    body = s.read("r")
    t.assert_eq((body["messages"], body["next"]), ([], cursor(jb.epoch, 0)),
                "a new room without after: no messages, next its position")
    t.assert_eq(j["cursor"], cursor(jb.epoch, 0), "join cursor")
    fill(bob, "r", ["m%d" % i for i in range(1, 12)])
    after, got = j["cursor"], []
    for _ in range(10):
        body = s.read("r", after=after, limit=3)
        if len(body["messages"]) > 3:
            raise AssertionError("limit=3 answered %d messages" % len(body["messages"]))
        got += body["messages"]
        if not body["messages"]:
            t.assert_eq(body["next"], after, "next when nothing is new")
            break
        t.assert_eq(body["next"], body["messages"][-1]["cursor"], "next is the last cursor")
        after = body["next"]
    t.assert_eq(seqs(got), list(range(1, 12)), "seqs walked with limit=3")
    t.assert_eq([m["text"] for m in got], ["m%d" % i for i in range(1, 12)], "texts")


def test_read_of_an_unknown_room_is_404_and_a_lingering_room_is_readable(srv):
    """GET messages of a room that never existed is 404 no_such_room; a
    room with no members but lingering history is read as usual."""
    s = Session(srv, "ann")
    expect_error(s.messages("nowhere"), 404, "no_such_room", "unknown room")
    bob = srv.client("bob")
    jb = bob.join("old")
    fill(bob, "old", ["x", "y"])
    bob.part("old")
    body = ok(api(srv).get(API + "/rooms/old/messages"), 200, "lingering room, no token")
    t.assert_eq([(m["seq"], m["text"]) for m in body["messages"]], [(1, "x"), (2, "y")],
                "lingering history")
    t.assert_eq(body["next"], cursor(jb.epoch, 2), "next")


def test_session_not_in_the_room_reads_it_while_public_read_is_on(srv):
    """With public read on (loopback default) a session that is not a
    member reads a room like anyone: 200."""
    bob = srv.client("bob")
    bob.join("r")
    fill(bob, "r", ["hello"])
    s = Session(srv, "ann")
    t.assert_eq([m["text"] for m in s.read("r")["messages"]], ["hello"], "non-member read")


# ---------------------------------------------------------------------------
# 6. Long polling


def test_long_poll_is_answered_within_100ms_of_a_text_users_message(srv):
    """A GET .../messages with wait is held while nothing is new and
    answered within 100 ms of a message from a telnet user."""
    s = Session(srv, "ann")
    j = s.join("r")
    bob = text_client(srv, "bob")
    bob.join("r")
    c = raw(srv)
    c.request("GET", API + "/rooms/r/messages" + query(after=j["cursor"], wait=10), token=s.token)
    c.nothing_for(0.3, "a long poll with nothing new")
    t0 = time.monotonic()
    bob.send_line("hello from telnet")
    r = c.read_response(3)
    elapsed = r.at - t0
    body = ok(r, 200, "the long poll's answer")
    t.assert_eq([(m["from"], m["text"], m["seq"]) for m in body["messages"]],
                [("bob", "hello from telnet", 1)], "messages")
    t.assert_eq(body["next"], body["messages"][0]["cursor"], "next")
    print("    long poll answered %.1f ms after the text line" % (elapsed * 1000))
    if elapsed > 0.1:
        raise AssertionError("long poll answered %.0f ms after the message (bound 100 ms)"
                             % (elapsed * 1000))


def test_long_poll_answers_empty_at_its_deadline(srv):
    """With nothing new, wait=1 (and wait=0.5) are answered 200 with no
    messages and next unchanged at the deadline; /me/events likewise."""
    s = Session(srv, "ann")
    j = s.join("r")
    for wait, lo, hi in ((1, 0.9, 1.6), (0.5, 0.4, 1.1)):
        t0 = time.monotonic()
        r = s.messages("r", after=j["cursor"], wait=wait)
        elapsed = r.at - t0
        body = ok(r, 200, "wait=%s" % wait)
        t.assert_eq((body["messages"], body["next"], body["truncated"], body["epoch_changed"]),
                    ([], j["cursor"], False, False), "empty answer to wait=%s" % wait)
        if not lo <= elapsed <= hi:
            raise AssertionError("wait=%s answered after %.2fs" % (wait, elapsed))
    first = ok(s.events(after=0), 200, "GET /me/events")
    t0 = time.monotonic()
    r = s.events(after=first["next"], wait=1)
    elapsed = r.at - t0
    body = ok(r, 200, "/me/events wait=1")
    t.assert_eq((body["events"], body["next"], body["dropped"]), ([], first["next"], 0),
                "empty /me/events answer")
    if not 0.9 <= elapsed <= 1.6:
        raise AssertionError("/me/events wait=1 answered after %.2fs" % elapsed)


@t.server_args("--http-max-wait", "1")
def test_long_poll_wait_is_cut_to_http_max_wait(srv):
    """wait=30 with --http-max-wait 1 is answered empty after about 1 s."""
    s = Session(srv, "ann")
    j = s.join("r")
    t.assert_eq(s.limits["max_wait"], 1, "max_wait announced")
    t0 = time.monotonic()
    r = s.messages("r", after=j["cursor"], wait=30)
    elapsed = r.at - t0
    t.assert_eq(ok(r, 200, "wait=30")["messages"], [], "messages")
    if not 0.9 <= elapsed <= 2.0:
        raise AssertionError("wait=30 under max-wait 1 answered after %.2fs" % elapsed)
    t0 = time.monotonic()
    r = s.events(after=0, wait=30)
    if not 0.9 <= r.at - t0 <= 2.0:
        raise AssertionError("/me/events wait=30 under max-wait 1 answered after %.2fs"
                             % (r.at - t0))


def test_pipelined_requests_behind_a_long_poll_wait_their_turn(srv):
    """Requests pipelined behind a held long poll are not answered before
    it; once a message wakes it, all are answered in order."""
    s = Session(srv, "ann")
    j = s.join("r")
    bob = srv.client("bob")
    bob.join("r")
    c = raw(srv)
    c.send(build_request("GET", API + "/rooms/r/messages" + query(after=j["cursor"], wait=10),
                         token=s.token)
           + build_request("GET", "/healthz")
           + build_request("GET", API + "/rooms/r/members"))
    c.nothing_for(0.4, "requests pipelined behind a long poll")
    t.assert_ack(bob.say("r", "wake up"), "bob's SAY")
    r1, r2, r3 = (c.read_response(3) for _ in range(3))
    t.assert_eq([m["text"] for m in ok(r1, 200, "the long poll")["messages"]], ["wake up"],
                "the long poll's messages")
    t.assert_eq((r2.status, r2.body.strip()), (200, b"ok"), "healthz, second")
    t.assert_eq(ok(r3, 200, "members, third")["members"], ["ann", "bob"], "members")


def test_me_events_long_poll_wakes_on_a_direct_message(srv):
    """GET /me/events with wait is held, and answered within 100 ms of a
    direct message from a framed user."""
    s = Session(srv, "ann")
    first = ok(s.events(after=0), 200, "GET /me/events")
    bob = srv.client("bob")
    c = raw(srv)
    c.request("GET", API + "/me/events" + query(after=first["next"], wait=10), token=s.token)
    c.nothing_for(0.3, "a mailbox long poll with nothing new")
    t0 = time.monotonic()
    t.assert_ack(bob.msg("ann", "wake"), "bob's MSG")
    r = c.read_response(3)
    body = ok(r, 200, "the mailbox long poll")
    t.assert_eq([(e["type"], e["from"], e["text"]) for e in body["events"]],
                [("direct", "bob", "wake")], "events")
    t.assert_eq(body["next"], body["events"][-1]["id"], "next")
    if r.at - t0 > 0.1:
        raise AssertionError("mailbox long poll answered %.0f ms after the message"
                             % ((r.at - t0) * 1000))


# ---------------------------------------------------------------------------
# 5.4 The mailbox


def test_me_events_hold_direct_messages_and_presence_of_others(srv):
    """The mailbox holds direct messages and the joins, parts, nick
    changes, drops and quits of others in the session's rooms, in event-id
    order, with next the last id; room messages are not in it."""
    s = Session(srv, "ann")
    s.join("r")
    start = ok(s.events(after=0), 200, "GET /me/events")["next"]
    bob = srv.client("bob")
    bob.join("r")
    dm = t.assert_ack(bob.msg("ann", "psst"), "bob's MSG")
    carol = text_client(srv, "carol")
    carol.join("r")
    carol.send_line("/part r")
    carol.expect_line(r"^%s \* carol left #r$" % CLOCK)
    t.assert_ack(bob.say("r", "a room message"), "bob's SAY")
    bob.nick("bobby")
    dave = srv.client("dave")
    dave.join("r")
    dave.reset_close()
    bob.expect(PRESENCE, kind=t.P_DROP, nick="dave", timeout=3)
    bob.quit()
    want = [("join", "bob"), ("direct", "bob"), ("join", "carol"), ("part", "carol"),
            ("nick", "bob"), ("join", "dave"), ("drop", "dave"), ("quit", "bobby")]
    evs, nxt = collect_events(s, start, lambda e: any(x["type"] == "quit" for x in e))
    got = [(e["type"], e.get("nick", e.get("from"))) for e in evs]
    t.assert_eq(got, want, "mailbox events (type, nick or from)")
    ids = [e["id"] for e in evs]
    for i in ids:
        assert_safe_int(i, "event id")
    t.assert_eq(ids, sorted(set(ids)), "event ids increase")
    t.assert_eq(nxt, ids[-1], "next is the last id")
    for e in evs:
        assert_now_ms(e["time"], "%s event time" % e["type"])
        if e["type"] in ("join", "part", "drop", "quit"):
            t.assert_eq(e["room"], "r", "%s event room" % e["type"])
    d = evs[1]
    t.assert_eq((d["text"], d["time"]), ("psst", dm.time_ms), "direct (text, time)")
    t.assert_eq(evs[4].get("new_nick"), "bobby", "nick event new_nick")
    t.assert_eq(evs[6].get("reason"), "reset", "drop reason")
    body = ok(s.events(after=nxt), 200, "after next")
    t.assert_eq((body["events"], body["next"], body["dropped"]), ([], nxt, 0), "nothing newer")
    every = ok(s.events(after=0), 200, "after=0")["events"]
    t.assert_eq([e["id"] for e in every if e["id"] > start], ids, "after=0 holds them all")


@t.server_args("--http-mailbox", "3")
def test_mailbox_overflow_is_reported_as_dropped(srv):
    """With a mailbox of 3, the oldest events are let go and an answer
    says how many it had not yet seen (ids above after) as dropped."""
    s = Session(srv, "ann")
    t.assert_eq(s.limits["mailbox"], 3, "mailbox limit announced")
    bob = srv.client("bob")
    t.assert_ack(bob.msg("ann", "d1"), "MSG d1")
    body = ok(s.events(after=0), 200, "mailbox with d1")
    t.assert_eq(([e["text"] for e in body["events"]], body["dropped"]), (["d1"], 0), "d1")
    seen = body["next"]
    for i in range(2, 7):
        t.assert_ack(bob.msg("ann", "d%d" % i), "MSG d%d" % i)
    body = ok(s.events(after=seen), 200, "mailbox after d1")
    t.assert_eq([e["text"] for e in body["events"]], ["d4", "d5", "d6"], "the newest 3")
    t.assert_eq(body["dropped"], 2, "dropped unseen events (d2, d3)")
    body = ok(s.events(after=0), 200, "mailbox after=0")
    t.assert_eq(([e["text"] for e in body["events"]], body["dropped"]),
                (["d4", "d5", "d6"], 3), "after=0: the newest 3, 3 let go")
    body = ok(s.events(after=body["next"]), 200, "mailbox after the newest")
    t.assert_eq((body["events"], body["dropped"]), ([], 0), "nothing after the newest")


@t.server_args("--http-mailbox-bytes", "2500")
def test_mailbox_byte_budget_lets_the_oldest_go(srv):
    """With a 2500-byte mailbox, five 1000-byte direct messages do not all
    fit: the newest are kept, in order, and the rest counted as dropped."""
    s = Session(srv, "ann")
    t.assert_eq(s.limits["mailbox_bytes"], 2500, "mailbox_bytes announced")
    bob = srv.client("bob")
    texts = [str(i) * 1000 for i in range(1, 6)]
    for x in texts:
        t.assert_ack(bob.msg("ann", x), "MSG")
    body = ok(s.events(after=0), 200, "mailbox")
    held = [e["text"] for e in body["events"]]
    if not 1 <= len(held) <= 2:
        raise AssertionError("a 2500-byte mailbox holds %d 1000-byte messages" % len(held))
    t.assert_eq(held, texts[-len(held):], "the newest are kept")
    t.assert_eq(body["dropped"], 5 - len(held), "dropped")


# ---------------------------------------------------------------------------
# 3. Session lifetime


@t.server_args("--http-session-timeout", "1")
def test_idle_session_is_dropped_with_reason_timeout(srv):
    """A session idle for --http-session-timeout is dropped: framed
    members see PRESENCE DROP reason TIMEOUT, text members a drop line
    saying timeout; the token is then 401 and the nick free."""
    bob = srv.client("bob")
    bob.join("r")
    carol = text_client(srv, "carol")
    carol.join("r")
    s = Session(srv, "ann")
    t.assert_eq(s.limits["session_timeout"], 1, "session_timeout announced")
    s.join("r")
    last = time.monotonic()
    s.api.close()
    p = bob.expect(PRESENCE, kind=t.P_DROP, nick="ann", timeout=5)
    elapsed = p.at - last
    t.assert_eq((p.room, p.reason), ("r", R_TIMEOUT), "bob's PRESENCE DROP (room, reason)")
    if not 0.8 <= elapsed <= 3.0:
        raise AssertionError("idle session dropped %.2fs after its last request (timeout 1 s)"
                             % elapsed)
    m = carol.expect_line(r"^%s \* ann dropped from #r: (.*)$" % CLOCK, timeout=3)
    if "timeout" not in m.group(1) or "ping" in m.group(1):
        raise AssertionError("text drop line does not give reason timeout: %r" % m.string)
    expect_error(s.req("GET", "/me"), 401, "unauthorized", "GET /me after the timeout")
    t.assert_eq(ok(api(srv).get(API + "/rooms/r/members"), 200, "members")["members"],
                ["bob", "carol"], "members after the drop")
    t.assert_eq(srv.client().hello("ann").type, WELCOME, "HELLO ann after the timeout")


@t.server_args("--http-session-timeout", "1")
def test_requests_carrying_the_token_keep_a_session_alive(srv):
    """Requests every 0.4 s keep a session with a 1 s timeout alive for
    2.4 s; once they stop it is dropped."""
    bob = srv.client("bob")
    bob.join("r")
    s = Session(srv, "ann")
    s.join("r")
    end = time.monotonic() + 2.4
    while time.monotonic() < end:
        t.pause(0.4)
        s.me()
    bob.ping()
    no_presence(bob, "ann", (t.P_DROP, t.P_QUIT), "while ann kept polling")
    p = bob.expect(PRESENCE, kind=t.P_DROP, nick="ann", timeout=4)
    t.assert_eq(p.reason, R_TIMEOUT, "drop reason once the requests stopped")


@t.server_args("--http-session-timeout", "1")
def test_open_long_poll_keeps_a_session_alive(srv):
    """A long poll held for 3 s (messages) or 2.5 s (mailbox) keeps a
    session with a 1 s timeout alive."""
    bob = srv.client("bob")
    bob.join("r")
    s = Session(srv, "ann")
    j = s.join("r")
    s.api.close()
    c = raw(srv)
    r = c.exchange("GET", API + "/rooms/r/messages" + query(after=j["cursor"], wait=3),
                   timeout=6, token=s.token)
    t.assert_eq(ok(r, 200, "3 s long poll")["messages"], [], "messages")
    t.assert_eq(s.me()["nick"], "ann", "session alive after a 3 s long poll")
    s.api.close()
    r = c.exchange("GET", API + "/me/events" + query(after=0, wait=2.5), timeout=6,
                   token=s.token)
    ok(r, 200, "2.5 s mailbox long poll")
    t.assert_eq(s.me()["nick"], "ann", "session alive after a 2.5 s mailbox long poll")
    bob.ping()
    no_presence(bob, "ann", (t.P_DROP, t.P_QUIT), "while ann long-polled")


@t.server_args("--http-session-timeout", "1")
def test_open_event_stream_keeps_a_session_alive(srv):
    """An open event stream keeps a session with a 1 s timeout alive for
    2.5 s; after it closes the session times out."""
    bob = srv.client("bob")
    bob.join("r")
    s = Session(srv, "ann")
    s.join("r")
    s.api.close()
    st = open_stream(srv, s.token)
    t.pause(2.5)
    bob.ping()
    no_presence(bob, "ann", (t.P_DROP, t.P_QUIT), "while ann's stream was open")
    t.assert_eq(s.me()["nick"], "ann", "session alive after 2.5 s of streaming")
    s.api.close()
    st.close()
    p = bob.expect(PRESENCE, kind=t.P_DROP, nick="ann", timeout=4)
    t.assert_eq(p.reason, R_TIMEOUT, "drop reason after the stream closed")


# ---------------------------------------------------------------------------
# 7. Server-Sent Events


def test_event_stream_sends_messages_directs_and_presence_in_id_order(srv):
    """GET /events is text/event-stream; each event has id, event
    (message, direct, presence) and one JSON data line whose id is the
    event id; the sender's own messages come too; ids increase."""
    s = Session(srv, "ann")
    s.join("r")
    bob = srv.client("bob")
    jb = bob.join("r")
    st = open_stream(srv, s.token)
    ack = t.assert_ack(bob.say("r", "hello stream"), "bob's SAY")
    dm = t.assert_ack(bob.msg("ann", "psst"), "bob's MSG")
    srv.client("carol").join("r")
    mine = s.say("r", "my own")
    evs = [st.next_event(3) for _ in range(4)]
    t.assert_eq([e.event for e in evs], ["message", "direct", "presence", "message"],
                "event names")
    data = [e.json() for e in evs]
    for e, d in zip(evs, data):
        t.assert_eq(e.id, str(d.get("id")), "id line vs data id")
        if "\n" in e.data:
            raise AssertionError("data of %r spans lines" % e)
    ids = [d["id"] for d in data]
    t.assert_eq(ids, sorted(set(ids)), "ids increase")
    check_message(data[0], "bob's message", room="r", frm="bob", text="hello stream",
                  seq=ack.seq, epoch=jb.epoch)
    t.assert_eq(data[0]["time"], ack.time_ms, "message time")
    t.assert_eq((data[1]["type"], data[1]["from"], data[1]["text"], data[1]["time"]),
                ("direct", "bob", "psst", dm.time_ms), "direct")
    t.assert_eq((data[2]["type"], data[2]["room"], data[2]["nick"]), ("join", "r", "carol"),
                "presence")
    check_message(data[3], "ann's own message", frm="ann", text="my own", seq=mine["seq"])
    t.assert_eq(data[3]["id"], mine["id"], "own message id vs the send answer")


def test_event_stream_resumes_from_last_event_id_without_gap_or_duplicate(srv):
    """Reconnecting with Last-Event-ID (or ?after=) gets exactly the events
    after it that came while away, room messages, direct messages and
    presence merged in id order, then live ones."""
    s = Session(srv, "ann")
    s.join("r")
    bob = srv.client("bob")
    bob.join("r")
    carol = text_client(srv, "carol")
    st = open_stream(srv, s.token)
    fill(bob, "r", ["s1", "s2"])
    seen = [st.next_event(3) for _ in range(2)]
    t.assert_eq([e.json()["text"] for e in seen], ["s1", "s2"], "live events")
    st.close()
    fill(bob, "r", ["s3", "s4"])
    carol.send_line("/msg ann away")
    carol.expect_line(r"-> \*ann\* away")
    srv.client("dave").join("r")
    fill(bob, "r", ["s5"])
    st = open_stream(srv, s.token, last_event_id=seen[-1].id)
    evs = [st.next_event(3) for _ in range(5)]
    got = [(e.event, e.json().get("text", e.json().get("nick"))) for e in evs]
    t.assert_eq(got, [("message", "s3"), ("message", "s4"), ("direct", "away"),
                      ("presence", "dave"), ("message", "s5")], "the missed events")
    ids = [int(e.id) for e in seen + evs]
    t.assert_eq(ids, sorted(set(ids)), "ids increase across the reconnect")
    fill(bob, "r", ["s6"])
    live = st.next_event(3)
    t.assert_eq((live.event, live.json()["text"]), ("message", "s6"), "live after the replay")
    st.close()
    fill(bob, "r", ["s7"])
    st = open_stream(srv, s.token, after=live.id)
    e = st.next_event(3)
    t.assert_eq((e.event, e.json()["text"]), ("message", "s7"), "resumed with ?after=")
    t.assert_eq(st.events_for(0.3), [], "nothing else after ?after= resume")


@t.server_args("--history", "3")
def test_event_stream_resume_says_overflow_when_a_ring_lost_messages(srv):
    """Resuming after more messages than the ring holds starts with an
    overflow event naming the room, then what the ring holds."""
    s = Session(srv, "ann")
    s.join("r")
    bob = srv.client("bob")
    bob.join("r")
    st = open_stream(srv, s.token)
    fill(bob, "r", ["m1"])
    last = st.next_event(3)
    st.close()
    fill(bob, "r", ["m%d" % i for i in range(2, 8)])
    st = open_stream(srv, s.token, last_event_id=last.id)
    first = st.next_event(3)
    t.assert_eq(first.event, "overflow", "first event after the ring lost messages")
    d = first.json()
    t.assert_eq((d.get("dropped"), d.get("rooms")), (0, ["r"]), "overflow (dropped, rooms)")
    evs = [st.next_event(3) for _ in range(3)]
    t.assert_eq([(e.event, e.json()["seq"]) for e in evs],
                [("message", 5), ("message", 6), ("message", 7)], "what the ring holds")
    fill(bob, "r", ["m8"])
    t.assert_eq(st.next_event(3).json()["seq"], 8, "the next live message")


@t.server_args("--http-mailbox", "2")
def test_event_stream_resume_says_overflow_when_the_mailbox_let_events_go(srv):
    """Resuming after the mailbox let unseen events go starts with an
    overflow event whose dropped counts them, then the events held."""
    s = Session(srv, "ann")
    bob = srv.client("bob")
    st = open_stream(srv, s.token)
    t.assert_ack(bob.msg("ann", "d1"), "MSG d1")
    last = st.next_event(3)
    st.close()
    for i in range(2, 6):
        t.assert_ack(bob.msg("ann", "d%d" % i), "MSG d%d" % i)
    st = open_stream(srv, s.token, last_event_id=last.id)
    first = st.next_event(3)
    t.assert_eq(first.event, "overflow", "first event after the mailbox overflowed")
    d = first.json()
    t.assert_eq((d.get("dropped"), d.get("rooms", [])), (2, []), "overflow (dropped, rooms)")
    evs = [st.next_event(3) for _ in range(2)]
    t.assert_eq([(e.event, e.json()["text"]) for e in evs],
                [("direct", "d4"), ("direct", "d5")], "the events held")


def test_a_second_event_stream_replaces_the_first(srv):
    """Opening a second stream for a session closes the first; events go
    to the new one."""
    s = Session(srv, "ann")
    s.join("r")
    bob = srv.client("bob")
    bob.join("r")
    one = open_stream(srv, s.token, label="first")
    two = open_stream(srv, s.token, label="second")
    t.assert_eq(one.expect_end(3), [], "events on the replaced stream")
    fill(bob, "r", ["to the new one"])
    t.assert_eq(two.next_event(3).json()["text"], "to the new one", "event on the new stream")


def test_event_stream_sends_a_keep_alive_comment_every_15s(srv):
    """An idle stream gets a comment line about 15 s after it opened (a
    comment right at the start, if any, is not the keep-alive)."""
    s = Session(srv, "ann")
    st = open_stream(srv, s.token)
    t0 = time.monotonic()
    while True:
        text = st.expect_comment(timeout=max(0.0, t0 + 18 - time.monotonic()))
        elapsed = time.monotonic() - t0
        if elapsed >= 2:
            break
    if not 12 <= elapsed <= 17.5:
        raise AssertionError("keep-alive comment after %.1fs of silence (every 15 s)" % elapsed)
    t.assert_eq(st.backlog, [], "events on an idle stream")
    print("    comment %r after %.1fs" % (text, elapsed))


# The ring (20 x 4000 bytes) fits in --max-queue, so that the resumed
# stream's replay is not itself more than a connection may have queued.
@t.server_args("--max-queue", "262144", "--history", "20", "--flood-rate", "0")
def test_event_stream_reader_that_stops_reading_is_dropped_but_the_session_lives(srv):
    """A stream whose reader stops reading is closed as a slow consumer;
    the session lives on (no drop announced, still a member), and the next
    stream resumes from its last id, saying overflow."""
    s = Session(srv, "ann")
    s.join("r")
    bob = srv.client("bob")
    bob.join("r")
    st = open_stream(srv, s.token, rcvbuf=4096)
    big = "x" * 4000
    n = 3000
    for k in range(n):
        bob.say("r", big, wait=False)
        if k % 100 == 99:
            bob.drain(0)
    bob.ping(timeout=30)
    try:
        evs = st.expect_end(timeout=20)
    except t.Timeout:
        raise AssertionError("the stream of a reader that stopped reading was not closed "
                             "(--max-queue 262144, %d messages of 4000 bytes)" % n) from None
    msgs = [e for e in evs if e.event == "message"]
    if len(msgs) >= n:
        raise AssertionError("a reader that stopped reading got all %d messages" % n)
    print("    the stalled stream got %d of %d messages before it was closed" % (len(msgs), n))
    t.assert_eq(s.me()["nick"], "ann", "the session lives on")
    members = ok(api(srv).get(API + "/rooms/r/members"), 200, "members")["members"]
    t.assert_eq("ann" in members, True, "ann still a member (%r)" % members)
    bob.ping()
    no_presence(bob, "ann", (t.P_DROP, t.P_QUIT, t.P_PART), "after the stream was closed")
    again = open_stream(srv, s.token, last_event_id=msgs[-1].id if msgs else 0)
    first = again.next_event(5)
    t.assert_eq(first.event, "overflow", "first event of the resumed stream")
    t.assert_eq("r" in first.json().get("rooms", []), True, "overflow names r (%r)" % first)


def test_event_stream_says_bye_at_shutdown(srv):
    """At shutdown an open stream gets event bye with reason shutdown, and
    ends."""
    s = Session(srv, "ann")
    st = open_stream(srv, s.token)
    srv.send_signal(signal.SIGTERM)
    e = st.next_event(5)
    t.assert_eq((e.event, e.json()), ("bye", {"reason": "shutdown"}), "the last event")
    st.expect_end(5)
    t.assert_eq(srv.wait(10), 0, "chatd's exit code")


# ---------------------------------------------------------------------------
# 8. Public read


def test_public_read_is_on_for_loopback_by_default(srv):
    """On a loopback listener GET /rooms, members and messages (a long
    poll too) need no token; session routes still do."""
    bob = srv.client("bob")
    jb = bob.join("r")
    fill(bob, "r", ["public hello"])
    a = api(srv)
    t.assert_eq([x["name"] for x in ok(a.get(API + "/rooms"), 200, "rooms")["rooms"]], ["r"],
                "rooms without a token")
    t.assert_eq(ok(a.get(API + "/rooms/r/members"), 200, "members")["members"], ["bob"],
                "members without a token")
    t.assert_eq([m["text"] for m in ok(a.get(API + "/rooms/r/messages"), 200,
                                       "messages")["messages"]], ["public hello"],
                "messages without a token")
    c = raw(srv)
    c.request("GET", API + "/rooms/r/messages" + query(after=cursor(jb.epoch, 1), wait=5))
    c.nothing_for(0.2, "an anonymous long poll")
    fill(bob, "r", ["second"])
    body = ok(c.read_response(3), 200, "anonymous long poll")
    t.assert_eq([m["text"] for m in body["messages"]], ["second"], "long poll without a token")
    expect_error(a.get(API + "/me"), 401, "unauthorized", "GET /me without a token")


@t.server_args("--http-public-read", "no")
def test_public_read_off_needs_a_session_and_membership_to_read(srv):
    """With --http-public-read no, rooms, members and messages are 401
    without a token, and reading a room needs membership (403
    not_in_room)."""
    bob = srv.client("bob")
    bob.join("r")
    fill(bob, "r", ["members only"])
    a = api(srv)
    for path in ("/rooms", "/rooms/r/members", "/rooms/r/messages",
                 "/rooms/r/messages?after=0-0&wait=1"):
        r = a.get(API + path)
        expect_error(r, 401, "unauthorized", "GET %s without a token" % path)
        if not (r.header("WWW-Authenticate") or "").lower().startswith("bearer"):
            raise AssertionError("GET %s: no WWW-Authenticate: Bearer" % path)
    s = Session(srv, "ann")
    t.assert_eq([x["name"] for x in ok(s.req("GET", "/rooms"), 200, "rooms")["rooms"]], ["r"],
                "rooms with a session")
    expect_error(s.messages("r"), 403, "not_in_room", "messages of a room not joined")
    s.join("r")
    t.assert_eq([m["text"] for m in s.read("r")["messages"]], ["members only"],
                "messages once a member")


# ---------------------------------------------------------------------------
# 9. CORS


def assert_vary_origin(r, what):
    if "origin" not in [x.lower() for x in r.header_tokens("Vary")]:
        raise AssertionError("%s: no Vary: Origin (%r)" % (what, r.headers))


@t.server_args("--http-cors-origins", "https://a.example https://chat.example.org")
def test_cors_listed_origin_is_echoed_with_credentials_and_vary(srv):
    """A listed origin is echoed in Access-Control-Allow-Origin with
    Allow-Credentials: true and Vary: Origin, on reads, sign-in and errors."""
    a = api(srv)
    origin = "https://chat.example.org"
    s = None
    for method, path, body in (("GET", "/rooms", _NO), ("POST", "/session", {"nick": "ann"}),
                               ("GET", "/me", _NO)):
        r = a.request(method, API + path, headers={"Origin": origin}, json_body=body)
        what = "%s %s from a listed origin" % (method, path)
        if r.status >= 500:
            raise AssertionError("%s: %r" % (what, r))
        t.assert_eq(r.header("Access-Control-Allow-Origin"), origin, what + ": Allow-Origin")
        t.assert_eq((r.header("Access-Control-Allow-Credentials") or "").lower(), "true",
                    what + ": Allow-Credentials")
        assert_vary_origin(r, what)
        if path == "/session":
            s = ok(r, 201, what)
    r = a.get(API + "/rooms", headers={"Origin": "https://a.example"})
    t.assert_eq(r.header("Access-Control-Allow-Origin"), "https://a.example",
                "the other listed origin")
    t.assert_eq(s["nick"], "ann", "sign-in from a listed origin")


@t.server_args("--http-cors-origins", "https://a.example,https://b.example")
def test_cors_unlisted_origin_gets_no_cors_headers(srv):
    """An origin not listed gets no Access-Control-* header; listed ones
    (comma-separated) do."""
    a = api(srv)
    for origin in ("https://evil.example", "https://a.example.evil", "http://a.example", "null"):
        r = a.get(API + "/rooms", headers={"Origin": origin})
        t.assert_eq(r.status, 200, "GET /rooms from %s" % origin)
        cors = [k for k, _ in r.headers if k.lower().startswith("access-control-")]
        t.assert_eq(cors, [], "CORS headers for unlisted %s" % origin)
    r = a.get(API + "/rooms", headers={"Origin": "https://b.example"})
    t.assert_eq(r.header("Access-Control-Allow-Origin"), "https://b.example", "listed b.example")


def test_cors_headers_are_absent_by_default(srv):
    """With no --http-cors-origins no origin gets CORS headers."""
    r = api(srv).get(API + "/rooms", headers={"Origin": "https://a.example"})
    cors = [k for k, _ in r.headers if k.lower().startswith("access-control-")]
    t.assert_eq((r.status, cors), (200, []), "(status, CORS headers) by default")


@t.server_args("--http-cors-origins", "https://a.example")
def test_cors_preflight_is_204_with_methods_headers_and_max_age(srv):
    """OPTIONS on any API path from a listed origin is 204 with
    Allow-Methods GET, POST, DELETE, OPTIONS; Allow-Headers Authorization,
    Content-Type, Last-Event-ID; Max-Age 600; no session needed."""
    a = api(srv)
    for path, method in (("/session", "POST"), ("/rooms/r/messages", "POST"), ("/events", "GET"),
                         ("/session", "DELETE")):
        r = a.request("OPTIONS", API + path, headers={
            "Origin": "https://a.example", "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type"})
        what = "preflight of %s %s" % (method, path)
        ok(r, 204, what)
        t.assert_eq(r.header("Access-Control-Allow-Origin"), "https://a.example",
                    what + ": Allow-Origin")
        t.assert_eq((r.header("Access-Control-Allow-Credentials") or "").lower(), "true",
                    what + ": Allow-Credentials")
        t.assert_eq(set(x.upper() for x in r.header_tokens("Access-Control-Allow-Methods")),
                    {"GET", "POST", "DELETE", "OPTIONS"}, what + ": Allow-Methods")
        t.assert_eq(set(x.lower() for x in r.header_tokens("Access-Control-Allow-Headers")),
                    {"authorization", "content-type", "last-event-id"}, what + ": Allow-Headers")
        t.assert_eq(r.header("Access-Control-Max-Age"), "600", what + ": Max-Age")
    r = a.request("OPTIONS", API + "/rooms", headers={
        "Origin": "https://other.example", "Access-Control-Request-Method": "GET"})
    t.assert_eq(r.header("Access-Control-Allow-Origin"), None, "preflight from an unlisted origin")


@t.server_args("--http-cors-origins", "*")
def test_cors_wildcard_allows_any_origin_without_credentials(srv):
    """With '*', any origin gets Access-Control-Allow-Origin: * and never
    Allow-Credentials, on requests and preflights."""
    a = api(srv)
    for origin in ("https://a.example", "https://b.example"):
        r = a.get(API + "/rooms", headers={"Origin": origin})
        t.assert_eq(r.header("Access-Control-Allow-Origin"), "*", "Allow-Origin for %s" % origin)
        t.assert_eq(r.header("Access-Control-Allow-Credentials"), None,
                    "Allow-Credentials with '*'")
    r = a.request("OPTIONS", API + "/rooms/r/messages", headers={
        "Origin": "https://a.example", "Access-Control-Request-Method": "POST"})
    ok(r, 204, "preflight with '*'")
    t.assert_eq((r.header("Access-Control-Allow-Origin"),
                 r.header("Access-Control-Allow-Credentials")),
                ("*", None), "preflight (Allow-Origin, Allow-Credentials) with '*'")


# ---------------------------------------------------------------------------
# 10. Health and metrics


def test_healthz_answers_200_ok_text(srv):
    """GET /healthz is 200 text/plain "ok"."""
    r = api(srv).get("/healthz")
    t.assert_eq((r.status, r.content_type, r.body.strip()), (200, "text/plain", b"ok"),
                "(status, type, body)")


@t.server_args("--http-max-sessions-per-ip", "1")
def test_metrics_expose_every_documented_metric_with_sane_values(srv):
    """GET /metrics is Prometheus text 0.0.4 that prometheus_client parses,
    with every metric of section 10 of its type, and values that match
    what the test did: connections by front end, sessions, rooms,
    lingering rooms, messages, drops, refusals, requests by code."""
    parse = prometheus_parser()
    s = Session(srv, "ann")
    s.join("r")
    bob = srv.client("bob")
    bob.join("r")
    carol = text_client(srv, "carol")
    carol.join("r")
    olga = srv.client("olga")
    olga.join("old")
    t.assert_ack(olga.say("old", "kept"), "olga's SAY")
    olga.part("old")                         # a lingering room
    vic = srv.client("vic")
    vic.join("r")
    vic.reset_close()                        # a drop
    bob.expect(PRESENCE, kind=t.P_DROP, nick="vic", timeout=3)
    s.say("r", "one")
    t.assert_ack(bob.say("r", "two"), "bob's SAY")
    t.assert_ack(bob.msg("carol", "three"), "bob's MSG")
    expect_error(s.api.request("POST", API + "/session", json_body={"nick": "zed"}), 429,
                 "too_many_sessions", "a second session from 127.0.0.1")   # a refusal

    def scrape():
        r = s.api.get("/metrics")
        t.assert_eq(r.status, 200, "GET /metrics")
        fams = {}
        for f in parse(r.body.decode("utf-8")):
            fams[f.name] = f
        return r, fams

    def conns(fams):
        f = fams.get("chatd_connections")
        return {x.labels.get("frontend"): x.value for x in f.samples} if f else {}

    r, fams = scrape()
    if conns(fams).get("framed") != 2:
        t.wait_until(lambda: conns(scrape()[1]).get("framed") == 2, 3,
                     what="chatd_connections{frontend=framed} == 2")
        r, fams = scrape()
    t.assert_eq(r.content_type, "text/plain", "Content-Type")
    if "0.0.4" not in (r.header("Content-Type") or ""):
        raise AssertionError("Content-Type %r lacks version=0.0.4" % r.header("Content-Type"))
    types = {"chatd_connections": "gauge", "chatd_sessions": "gauge",
             "chatd_http_sessions": "gauge", "chatd_rooms": "gauge",
             "chatd_rooms_lingering": "gauge", "chatd_messages_total": "counter",
             "chatd_deliveries_total": "counter", "chatd_sent_bytes_total": "counter",
             "chatd_received_bytes_total": "counter", "chatd_drops_total": "counter",
             "chatd_refusals_total": "counter", "chatd_queue_bytes": "gauge",
             "chatd_history_bytes": "gauge", "chatd_loop_turn_seconds": "histogram",
             "chatd_resident_memory_bytes": "gauge",
             "chatd_accepted_connections_total": "counter",
             "chatd_http_requests_total": "counter"}
    for name, typ in types.items():
        fam = name[:-len("_total")] if typ == "counter" and name.endswith("_total") else name
        f = fams.get(fam) or fams.get(name)
        if f is None:
            raise AssertionError("metric %s missing; have %s" % (name, sorted(fams)))
        t.assert_eq(f.type, typ, "type of %s" % name)

    def value(name, **labels):
        vals = [x.value for f in fams.values() for x in f.samples if x.name == name
                and all(x.labels.get(k) == v for k, v in labels.items())]
        if not vals:
            raise AssertionError("no sample %s%r" % (name, labels))
        return sum(vals)

    c = conns(fams)
    t.assert_eq({k: c.get(k) for k in ("framed", "text", "http")},
                {"framed": 2, "text": 1, "http": 1}, "chatd_connections by frontend")
    if c.get("detecting", 0) != 0:
        raise AssertionError("chatd_connections{frontend=detecting} = %r" % c["detecting"])
    t.assert_eq(value("chatd_sessions"), 4, "chatd_sessions (ann, bob, carol, olga)")
    t.assert_eq(value("chatd_http_sessions"), 1, "chatd_http_sessions")
    t.assert_eq(value("chatd_rooms"), 1, "chatd_rooms (r)")
    t.assert_eq(value("chatd_rooms_lingering"), 1, "chatd_rooms_lingering (old)")
    t.assert_eq(value("chatd_messages_total"), 4, "chatd_messages_total (3 room, 1 direct)")
    if value("chatd_deliveries_total") < 4:
        raise AssertionError("chatd_deliveries_total %r < 4" % value("chatd_deliveries_total"))
    for name in ("chatd_sent_bytes_total", "chatd_received_bytes_total", "chatd_history_bytes"):
        if value(name) <= 0:
            raise AssertionError("%s = %r" % (name, value(name)))
    if value("chatd_drops_total") < 1:
        raise AssertionError("chatd_drops_total %r after a reset" % value("chatd_drops_total"))
    if value("chatd_refusals_total") < 1:
        raise AssertionError("chatd_refusals_total %r after a 429"
                             % value("chatd_refusals_total"))
    if value("chatd_accepted_connections_total") < 5:
        raise AssertionError("chatd_accepted_connections_total %r < 5"
                             % value("chatd_accepted_connections_total"))
    if value("chatd_queue_bytes") < 0:
        raise AssertionError("chatd_queue_bytes < 0")
    rss = value("chatd_resident_memory_bytes")
    if not 1 << 20 <= rss <= 1 << 34:
        raise AssertionError("chatd_resident_memory_bytes %r" % rss)
    for code, least in (("201", 2), ("200", 1), ("429", 1)):
        if value("chatd_http_requests_total", code=code) < least:
            raise AssertionError("chatd_http_requests_total{code=%s} < %d" % (code, least))
    hist = fams["chatd_loop_turn_seconds"]
    buckets = sorted(((float(x.labels["le"]), x.value) for x in hist.samples
                      if x.name.endswith("_bucket")), key=lambda b: b[0])
    count = value("chatd_loop_turn_seconds_count")
    if not buckets or buckets[-1][0] != float("inf") or buckets[-1][1] != count or count <= 0:
        raise AssertionError("loop turn histogram: buckets %r, count %r" % (buckets, count))
    if [v for _, v in buckets] != sorted(v for _, v in buckets):
        raise AssertionError("loop turn histogram buckets not cumulative: %r" % buckets)
    if value("chatd_loop_turn_seconds_sum") < 0:
        raise AssertionError("loop turn histogram sum < 0")


# ---------------------------------------------------------------------------
# 11. Errors


def test_unknown_paths_are_404_not_found(srv):
    """A path that is no route is 404 not_found with the JSON error body."""
    s = Session(srv, "ann")
    # "/" is the web client (test_web.py).
    for path in ("/nope", "/index.html", "/api/v1", "/api/v1/", "/api/v1/nope", "/api/v2/rooms",
                 "/api/v1/rooms/r/nope", "/api/v1/me/nope", "/api/v1/users/bob"):
        expect_error(s.api.get(path, token=s.token), 404, "not_found", "GET %s" % path)


def test_wrong_method_is_405_with_allow(srv):
    """A method a path does not have is 405 method_not_allowed with an
    Allow header naming those it has."""
    s = Session(srv, "ann")
    s.join("r")
    cases = [("GET", "/api/v1/session", {"POST", "DELETE"}),
             ("PUT", "/api/v1/session", {"POST", "DELETE"}),
             ("DELETE", "/api/v1/rooms", {"GET"}),
             ("GET", "/api/v1/rooms/r/join", {"POST"}),
             ("DELETE", "/api/v1/rooms/r/leave", {"POST"}),
             ("POST", "/api/v1/rooms/r/members", {"GET"}),
             ("POST", "/api/v1/rooms/r", {"GET"}),
             ("GET", "/api/v1/rooms/r/topic", {"POST"}),
             ("PATCH", "/api/v1/rooms/r/messages", {"GET", "POST"}),
             ("GET", "/api/v1/users/bob/messages", {"POST"}),
             ("POST", "/api/v1/users", {"GET"}),
             ("POST", "/api/v1/me", {"GET"}),
             ("DELETE", "/api/v1/me/rooms", {"GET"}),
             ("POST", "/api/v1/me/events", {"GET"}),
             ("POST", "/api/v1/events", {"GET"}),
             ("POST", "/healthz", {"GET"}),
             ("DELETE", "/metrics", {"GET"})]
    for method, path, allowed in cases:
        r = s.api.request(method, path, token=s.token,
                          json_body={} if method in ("POST", "PUT", "PATCH") else _NO)
        what = "%s %s" % (method, path)
        expect_error(r, 405, "method_not_allowed", what)
        allow = {x.upper() for x in r.header_tokens("Allow")}
        if not allowed <= allow or method in allow:
            raise AssertionError("%s: Allow %r, expected %s" % (what, r.header("Allow"),
                                                                sorted(allowed)))


def test_malformed_request_line_or_header_is_400_bad_request_and_closes(srv):
    """A request that is not HTTP/1.x, or has a malformed header, is 400
    bad_request and the connection is closed after the answer."""
    cases = [("HTTP/2.0", b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n"),
             ("HTTP/3.1", b"GET /healthz HTTP/3.1\r\nHost: x\r\n\r\n"),
             ("no version", b"GET /healthz\r\n\r\n"),
             ("junk version", b"GET /healthz HTTQ/1.1\r\nHost: x\r\n\r\n"),
             ("space in target", b"GET /heal thz HTTP/1.1\r\nHost: x\r\n\r\n"),
             ("header without colon", b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n"),
             ("bad Content-Length", b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\nContent-Length: ten\r\n\r\n")]
    wrong = []
    for label, data in cases:
        c = raw(srv, label=label)
        c.send(data)
        try:
            expect_error(c.read_response(3), 400, "bad_request", label)
            c.expect_closed(3)
        except AssertionError as e:
            wrong.append(str(e))
        c.close()
    if wrong:
        raise AssertionError("%d of %d malformed requests mishandled:\n      %s"
                             % (len(wrong), len(cases), "\n      ".join(wrong)))


def test_bad_json_bodies_are_400_bad_json_and_the_connection_goes_on(srv):
    """Bodies that are not JSON, not an object, not UTF-8, or lack the
    string field needed are 400 bad_json, and the same connection then
    serves a good request."""
    bob = srv.client("bob")
    bob.join("r")
    c = raw(srv)
    jt = {"Content-Type": "application/json"}
    bodies = [("not JSON", b"not json"), ("array", b"[1, 2]"), ("string", b'"ann"'),
              ("number", b"42"), ("null", b"null"), ("truncated", b'{"nick": "ann"'),
              ("invalid UTF-8", b'{"nick": "an\xffn"}'), ("Latin-1", b'{"nick": "caf\xe9"}'),
              ("empty", b""), ("trailing garbage", b'{"nick": "ann"} x')]
    for label, body in bodies:
        r = c.exchange("POST", API + "/session", headers=jt, body=body)
        expect_error(r, 400, "bad_json", "session body: %s" % label)
    s = ok(c.exchange("POST", API + "/session", headers=jt, body=b'{"nick": "ann"}'), 201,
           "a good session body on the same connection")
    tok = s["token"]
    ok(c.exchange("POST", API + "/rooms/r/join", token=tok), 200, "join")
    for label, body in (("array", b'["hi"]'), ("invalid UTF-8", b'{"text": "h\xc3i"}'),
                        ("number text", b'{"text": 1}')):
        r = c.exchange("POST", API + "/rooms/r/messages", headers=jt, body=body, token=tok)
        expect_error(r, 400, "bad_json", "message body: %s" % label)
    ok(c.exchange("POST", API + "/rooms/r/messages", headers=jt, body=b'{"text": "fine"}',
                  token=tok), 201, "a good message on the same connection")
    bob.expect(MESSAGE, text="fine", timeout=3)


def test_body_of_another_media_type_is_415(srv):
    """A body that is not application/json (or without Content-Type) is
    415 unsupported_media_type, and the connection goes on; a
    charset=utf-8 parameter is accepted."""
    c = raw(srv)
    body = b'{"nick": "ann"}'
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                  "application/jsonx", None):
        headers = {"Content-Type": ctype} if ctype else {}
        r = c.exchange("POST", API + "/session", headers=headers, body=body)
        expect_error(r, 415, "unsupported_media_type", "Content-Type %r" % ctype)
    r = c.exchange("POST", API + "/session",
                   headers={"Content-Type": "application/json; charset=utf-8"}, body=body)
    ok(r, 201, "Content-Type with charset=utf-8 on the same connection")


def test_body_without_length_is_411_and_chunked_bodies_are_accepted(srv):
    """A POST that needs a body but has neither Content-Length nor chunked
    encoding is 411 length_required and closed; a chunked body is read; a
    join without any body needs no length."""
    ann = Session(srv, "ann")
    ann.join("r")
    for path, auth in (("/session", b""), ("/rooms/r/messages",
                                           b"Authorization: Bearer %s\r\n" % ann.token.encode())):
        c = raw(srv, label=path)
        c.send(b"POST %s%s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n\r\n"
               % (API.encode(), path.encode(), auth))
        r = c.read_response(3)
        expect_error(r, 411, "length_required", "POST %s without a length" % path)
        c.expect_closed(3)
    c = raw(srv, label="chunked")
    r = c.exchange("POST", API + "/session",
                   headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                   body=chunked(b'{"nick": "bob"}'))
    tok = ok(r, 201, "chunked session body")["token"]
    c.send(b"POST %s/rooms/r/join HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
           % (API.encode(), tok.encode()))
    ok(c.read_response(3), 200, "join without a body or a length")
    r = c.exchange("POST", API + "/rooms/r/messages", token=tok,
                   headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                   body=chunked(b'{"text": "sent in chunks"}', 3))
    t.assert_eq(ok(r, 201, "chunked message body")["seq"], 1, "seq")
    t.assert_eq([m["text"] for m in ann.read("r")["messages"]], ["sent in chunks"],
                "the chunked message as read back")


@t.server_args("--http-max-body", "1024")
def test_body_over_http_max_body_is_413_and_closes(srv):
    """A body over --http-max-body is 413 body_too_large and closed,
    announced or chunked; a body of exactly the limit passes."""
    def padded(n):
        b = b'{"nick": "ann"}'
        return b[:-1] + b" " * (n - len(b)) + b"}"

    jt = {"Content-Type": "application/json"}
    c = raw(srv, label="announced")
    r = c.exchange("POST", API + "/session", headers=jt, body=padded(2000))
    expect_error(r, 413, "body_too_large", "a 2000-byte body")
    c.expect_closed(3)
    c = raw(srv, label="chunked")
    r = c.exchange("POST", API + "/session",
                   headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                   body=chunked(padded(2000), 256))
    expect_error(r, 413, "body_too_large", "a 2000-byte chunked body")
    c.expect_closed(3)
    c = raw(srv, label="at the limit")
    ok(c.exchange("POST", API + "/session", headers=jt, body=padded(1024)), 201,
       "a body of exactly 1024 bytes")


@t.server_args("--http-max-request-line", "256")
def test_request_line_over_http_max_request_line_is_414_and_closes(srv):
    """A request line over --http-max-request-line is 414 uri_too_long and
    closed; a shorter one is served."""
    c = raw(srv, label="long")
    r = c.exchange("GET", API + "/rooms/%s/members" % ("a" * 300))
    expect_error(r, 414, "uri_too_long", "a 340-byte request line")
    c.expect_closed(3)
    c = raw(srv, label="short")
    r = c.exchange("GET", API + "/rooms/%s/members?limit=10" % ("b" * 64))
    expect_error(r, 404, "no_such_room", "a 110-byte request line (served)")


def test_request_line_over_4096_bytes_is_414_by_default(srv):
    """The default request-line limit is 4096 bytes: 5000 is 414."""
    c = raw(srv)
    r = c.exchange("GET", API + "/rooms/%s/members" % ("a" * 5000))
    expect_error(r, 414, "uri_too_long", "a 5000-byte request line")
    c.expect_closed(3)


@t.server_args("--http-max-header-bytes", "1024")
def test_headers_over_http_max_header_bytes_are_431_and_close(srv):
    """Headers over --http-max-header-bytes, in one header or many, are
    431 headers_too_large and closed; smaller ones pass."""
    for label, headers in (("one big header", {"X-Pad": "p" * 2000}),
                           ("many headers", {"X-Pad-%02d" % i: "q" * 80 for i in range(20)})):
        c = raw(srv, label=label)
        r = c.exchange("GET", "/healthz", headers=headers)
        expect_error(r, 431, "headers_too_large", label)
        c.expect_closed(3)
    c = raw(srv, label="small")
    t.assert_eq(c.exchange("GET", "/healthz", headers={"X-Pad": "p" * 300}).status, 200,
                "a 300-byte header")


@t.server_args("--handshake-timeout", "1")
def test_slow_request_is_408_and_an_idle_keep_alive_connection_is_closed(srv):
    """A request still incomplete --handshake-timeout after its first byte
    (headers trickling in) is 408 request_timeout and closed; an idle
    keep-alive connection is closed after the same time without a word."""
    c = raw(srv, label="slowloris")
    c.send(b"GET /api/v1/rooms HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    k = 0
    while b"\r\n\r\n" not in c.buf and not c.eof and time.monotonic() - t0 < 4:
        c._fill(time.monotonic() + 0.25)
        if b"\r\n\r\n" not in c.buf and not c.eof:
            k += 1
            try:
                c.send(b"X-Slow-%d: 1\r\n" % k)
            except t.Closed:
                break
    r = c.read_response(2)
    elapsed = r.at - t0
    expect_error(r, 408, "request_timeout", "a request trickling in")
    if not 0.8 <= elapsed <= 2.2:
        raise AssertionError("408 after %.2fs of a 1 s handshake timeout" % elapsed)
    c.expect_closed(3)
    idle = raw(srv, label="idle")
    r = idle.exchange("GET", "/healthz")
    t.assert_eq(r.status, 200, "GET /healthz")
    rest = idle.expect_closed(4)
    elapsed = time.monotonic() - r.at
    t.assert_eq(rest, b"", "bytes sent to an idle keep-alive connection before closing it")
    if not 0.8 <= elapsed <= 2.5:
        raise AssertionError("idle keep-alive connection closed after %.2fs (timeout 1 s)"
                             % elapsed)


@t.server_args("--http-max-sessions-per-ip", "2")
def test_sessions_beyond_http_max_sessions_per_ip_are_429(srv):
    """A third session from one address is 429 too_many_sessions; after
    one ends, a new one is allowed."""
    Session(srv, "ann")
    bob = Session(srv, "bob")
    a = api(srv)
    expect_error(a.request("POST", API + "/session", json_body={"nick": "carol"}), 429,
                 "too_many_sessions", "a third session")
    bob.delete()
    Session(srv, "carol", conn=a)


@t.server_args("--http-max-sessions", "1")
def test_sessions_beyond_http_max_sessions_are_503_server_full(srv):
    """A session beyond --http-max-sessions is 503 server_full with
    Retry-After: 5, the connection goes on, and framed users are not
    affected; after one ends, a new one is allowed."""
    ann = Session(srv, "ann")
    c = raw(srv)
    r = c.exchange("POST", API + "/session", body={"nick": "bob"})
    expect_error(r, 503, "server_full", "a second session")
    t.assert_eq(r.header("Retry-After"), "5", "Retry-After")
    t.assert_eq(c.exchange("GET", "/healthz").status, 200, "the connection goes on")
    t.assert_eq(srv.client("carol").welcome.type, WELCOME, "a framed user meanwhile")
    ann.delete()
    ok(c.exchange("POST", API + "/session", body={"nick": "bob"}), 201,
       "a session after one ended")


@t.server_args("--max-conns", "2")
def test_http_connection_beyond_max_conns_is_503_server_full(srv):
    """An HTTP client over --max-conns is answered 503 server_full with
    Retry-After: 5 and closed."""
    srv.client("a1")
    srv.client("a2")
    c = raw(srv)
    r = c.exchange("GET", "/healthz")
    expect_error(r, 503, "server_full", "a third connection")
    t.assert_eq(r.header("Retry-After"), "5", "Retry-After")
    t.assert_eq(r.header("Access-Control-Allow-Origin"), None, "no CORS without http-cors-origins")
    c.expect_closed(3)


@t.server_args("--max-conns", "2", "--http-cors-origins", "*")
def test_server_full_is_readable_by_any_origin_when_any_may_call(srv):
    """With --http-cors-origins *, the 503 of a client turned away before its
    request is read carries Access-Control-Allow-Origin: *, so a page on
    another origin can tell "server full" from "server down"."""
    srv.client("a1")
    srv.client("a2")
    c = raw(srv)
    r = c.exchange("GET", "/api/v1/rooms", headers={"Origin": "http://example.org"})
    expect_error(r, 503, "server_full", "a third connection")
    t.assert_eq(r.header("Access-Control-Allow-Origin"), "*", "CORS on the refusal")
    c.expect_closed(3)


if __name__ == "__main__":
    sys.exit(t.main(globals()))
