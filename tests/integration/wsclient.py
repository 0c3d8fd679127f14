"""A WebSocket client for the tests, written from RFC 6455: the opening
handshake, masked client frames, and the server's frames read back.

WsFramed is chatdtest.Client over WebSocket (subprotocol chatd.framed):
every helper of Client (hello, join, say, expect...) works unchanged, the
framed bytes riding in binary messages.  ws_handshake() and the frame
helpers are for tests of the WebSocket layer itself.

WsJson speaks chatd.json: JSON objects in text messages, with expect()
and request helpers in the manner of chatdtest.Client.
"""

import base64
import hashlib
import json
import os
import select
import socket
import struct
import time

import chatdtest as t

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def accept_of(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def ws_request(path="/ws", protocol="chatd.framed", origin=None, key=None, version="13",
               extra=(), host="127.0.0.1", method="GET", http="HTTP/1.1"):
    """An opening handshake request as bytes, and its key.  None leaves
    the version or protocol header out; host, method and http change the
    Host header and the request line."""
    key = key or base64.b64encode(os.urandom(16)).decode()
    lines = ["%s %s %s" % (method, path, http), "Host: %s" % host, "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: %s" % key]
    if version is not None:
        lines.append("Sec-WebSocket-Version: %s" % version)
    if protocol is not None:
        lines.append("Sec-WebSocket-Protocol: %s" % protocol)
    if origin is not None:
        lines.append("Origin: %s" % origin)
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), key


def read_head(sock, timeout=5.0):
    """The HTTP answer's head: (status, {lower-case name: value}, bytes after it)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise t.Closed("closed before the handshake's answer: %r" % buf)
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, rest


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0):
    """A client frame (masked unless told otherwise)."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack(">BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        head = struct.pack(">BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack(">BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


def parse_frames(buf):
    """Whole server frames at the start of buf (a bytearray, consumed):
    [(fin, opcode, payload)]. Server frames must be unmasked."""
    out = []
    while len(buf) >= 2:
        b0, b1 = buf[0], buf[1]
        if b1 & 0x80:
            raise t.ProtocolViolation("server sent a masked frame")
        if b0 & 0x70:
            raise t.ProtocolViolation("server set an RSV bit")
        n, off = b1 & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                break
            n, off = struct.unpack(">H", bytes(buf[2:4]))[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, off = struct.unpack(">Q", bytes(buf[2:10]))[0], 10
        if len(buf) < off + n:
            break
        out.append((bool(b0 & 0x80), b0 & 0x0F, bytes(buf[off:off + n])))
        del buf[:off + n]
    return out


def ws_connect(port, protocol="chatd.framed", origin=None, timeout=5.0):
    """A socket whose handshake succeeded, and any bytes after the 101."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req, key = ws_request(protocol=protocol, origin=origin)
    s.sendall(req)
    status, headers, rest = read_head(s, timeout)
    if status != 101:
        s.close()
        raise AssertionError("handshake answered %d %r" % (status, headers))
    assert headers.get("sec-websocket-accept") == accept_of(key), headers
    return s, rest


class WsFramed(t.Client):
    """chatdtest.Client whose bytes travel in WebSocket binary messages.
    .ws_frames logs every server frame (fin, opcode, payload); .close_frame
    is the server's close payload once it came; pings are answered."""

    def __init__(self, port, nick=None, *, timeout=5.0, label=None, protocol="chatd.framed",
                 origin=None, preface=True, **kw):
        self.ws_frames = []
        self.close_frame = None
        self._wsbuf = bytearray()
        super().__init__(port, None, timeout=timeout, label=label, preface=False, **kw)
        req, key = ws_request(protocol=protocol, origin=origin)
        t.Client.send_raw(self, req)
        status, headers, rest = read_head(self.sock, timeout)
        self.sock.settimeout(timeout)
        self.handshake = (status, headers)
        if status != 101:
            raise AssertionError("%s: handshake answered %d %r" % (self.label, status, headers))
        assert headers.get("sec-websocket-accept") == accept_of(key), headers
        self._wsbuf += rest
        if preface:
            self.send_raw(t.PREFACE)
        if nick is not None:
            f = self.hello(nick)
            if f.type != t.WELCOME:
                raise AssertionError("%s: HELLO %r refused: %r" % (self.label, nick, f))

    def send_raw(self, data):
        super().send_raw(frame(BINARY, data))

    def send_ws(self, data):
        """Send bytes as they are (already WebSocket frames)."""
        t.Client.send_raw(self, data)

    def _read_some(self, deadline):
        if self.eof or self.closed:
            return False
        data, ended = t.poll_recv(self.sock, self._poll, deadline, 1 << 18)
        if data:
            self._wsbuf += data
            for fin, op, payload in parse_frames(self._wsbuf):
                self.ws_frames.append((fin, op, payload))
                if op == BINARY or op == CONT:
                    self._buf += payload
                elif op == PING:
                    self.send_ws(frame(PONG, payload))
                elif op == CLOSE:
                    self.close_frame = payload
            self._parse()
        if ended:
            self._ended(ended)
            return True
        return bool(data)

    def close_code(self):
        """The server's close code and reason, or None."""
        if self.close_frame is None or len(self.close_frame) < 2:
            return None
        return struct.unpack(">H", self.close_frame[:2])[0], self.close_frame[2:].decode()


class WsJson:
    """A chatd.json WebSocket client: one JSON object per text message
    (docs/websocket.md section 4).

    Objects the client has read but no one has claimed wait in .inbox in
    arrival order; expect() takes the first matching one and leaves the
    rest.  .log holds every object ever received, .ws_frames every server
    frame (fin, opcode, payload), .texts the raw bytes of every text
    message.  Server pings are answered (auto_pong) and logged in .pings;
    .close_frame is the server's close payload once it came.  Every wait
    has a deadline and raises chatdtest.Timeout or chatdtest.Closed with
    what did come."""

    _ids = iter(range(1, 1 << 62))

    def __init__(self, port, nick=None, *, timeout=5.0, label=None, protocol="chatd.json",
                 origin=None, rcvbuf=None, auto_pong=True):
        self.label = label or nick or "json%d" % next(WsJson._ids)
        self.timeout = timeout
        self.auto_pong = auto_pong
        self.name = None
        self.welcome = None
        self.inbox = []
        self.log = []
        self.skipped = []
        self.ws_frames = []
        self.texts = []
        self.pings = []
        self.close_frame = None
        self.eof = None          # None, "eof" or "reset" once the server ended it
        self.closed = False      # we closed our end
        self._wsbuf = bytearray()
        self._frag = None        # a fragmented message being received
        self._sync_ids = iter(range(1, 1 << 62))
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.settimeout(timeout)
            s.connect(("127.0.0.1", port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            req, key = ws_request(protocol=protocol, origin=origin)
            s.sendall(req)
            status, headers, rest = read_head(s, timeout)
        except BaseException:
            s.close()
            raise
        self.sock = s
        self.handshake = (status, headers)
        if status != 101:
            s.close()
            self.closed = True
            raise AssertionError("%s: handshake answered %d %r" % (self.label, status, headers))
        assert headers.get("sec-websocket-accept") == accept_of(key), headers
        self.protocol = headers.get("sec-websocket-protocol")
        self._poll = select.poll()
        self._poll.register(s.fileno(), select.POLLIN)
        self._wsbuf += rest
        self._take_frames()
        if nick is not None:
            w = self.hello(nick)
            if w.get("type") != "welcome":
                raise AssertionError("%s: hello %r refused: %r" % (self.label, nick, w))

    def __repr__(self):
        return "WsJson(%s)" % self.label

    # -- sending ----------------------------------------------------------

    def send_ws(self, data):
        """Send bytes as they are (already WebSocket frames)."""
        if self.closed:
            raise AssertionError("%s: send on a connection we closed" % self.label)
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise t.Timeout("%s: could not send %d bytes within %.1fs (server not reading?)"
                            % (self.label, len(data), self.timeout)) from None
        except OSError as e:
            raise t.Closed("%s: send failed: %s" % (self.label, e)) from None

    def send_text(self, data):
        """One text message of data (str, or bytes sent as they are)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.send_ws(frame(TEXT, data))

    def send(self, obj=None, **fields):
        """One JSON object as a text message: obj, or the keyword fields
        (type_ stands for type)."""
        if obj is None:
            obj = {("type" if k == "type_" else k): v for k, v in fields.items()}
        self.send_text(json.dumps(obj))

    # -- receiving --------------------------------------------------------

    def _take_frames(self):
        for fin, op, payload in parse_frames(self._wsbuf):
            self.ws_frames.append((fin, op, payload))
            if op == PING:
                self.pings.append(payload)
                if self.auto_pong and not self.closed and self.close_frame is None:
                    try:
                        self.send_ws(frame(PONG, payload))
                    except AssertionError:
                        pass  # the server went away; reading will tell
            elif op == CLOSE:
                self.close_frame = payload
            elif op in (TEXT, BINARY, CONT):
                if op != CONT:
                    if self._frag is not None:
                        raise t.ProtocolViolation("%s: new message inside a fragmented one"
                                                  % self.label)
                    self._frag = (op, bytearray())
                elif self._frag is None:
                    raise t.ProtocolViolation("%s: continuation without a message"
                                              % self.label)
                self._frag[1].extend(payload)
                if fin:
                    kind, data = self._frag
                    self._frag = None
                    self._message(kind, bytes(data))
            elif op != PONG:
                raise t.ProtocolViolation("%s: server frame with opcode 0x%X"
                                          % (self.label, op))

    def _message(self, kind, data):
        if kind != TEXT:
            raise t.ProtocolViolation("%s: binary message on chatd.json: %r"
                                      % (self.label, data[:60]))
        self.texts.append(data)
        try:
            o = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise t.ProtocolViolation("%s: text message is not JSON (%s): %r"
                                      % (self.label, e, data[:200])) from None
        if not isinstance(o, dict) or not isinstance(o.get("type"), str):
            raise t.ProtocolViolation("%s: message is not an object with a type: %r"
                                      % (self.label, o))
        self.log.append(o)
        self.inbox.append(o)

    def _read_some(self, deadline):
        """Wait until deadline for bytes and take them in; True if anything
        happened (bytes or end of stream)."""
        if self.eof or self.closed:
            return False
        data, ended = t.poll_recv(self.sock, self._poll, deadline, 1 << 18)
        if data:
            self._wsbuf += data
            self._take_frames()
        if ended:
            self.eof = ended
            return True
        return bool(data)

    def _deadline(self, timeout):
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def _tail(self, n=8):
        if not self.inbox:
            return "nothing"
        s = ", ".join(json.dumps(o)[:200] for o in self.inbox[-n:])
        return ("... %d more, " % (len(self.inbox) - n) if len(self.inbox) > n else "") + s

    def recv(self, timeout=None):
        """The next unclaimed object, or None if none came in time.  Raises
        Closed once the connection has ended and nothing is left."""
        deadline = self._deadline(timeout)
        while not self.inbox:
            if self.eof:
                raise t.Closed("%s: connection ended (%s)" % (self.label, self.eof))
            if not self._read_some(deadline) and time.monotonic() >= deadline:
                return None
        return self.inbox.pop(0)

    def expect(self, type=None, timeout=None, pred=None, **fields):  # noqa: A002
        """Read until an object matches: its type is type (or one of a
        tuple of types), every keyword field equals the given value
        (from_ stands for from) and pred(o) holds.  Returns it; objects
        before it stay unclaimed and are listed in .skipped."""
        types = None if type is None else (type if isinstance(type, tuple) else (type,))
        if "from_" in fields:
            fields["from"] = fields.pop("from_")
        missing = object()

        def match(o):
            if types is not None and o.get("type") not in types:
                return False
            if any(o.get(k, missing) != v for k, v in fields.items()):
                return False
            return pred is None or pred(o)

        deadline = self._deadline(timeout)
        i = 0
        while True:
            while i < len(self.inbox):
                if match(self.inbox[i]):
                    self.skipped = self.inbox[:i]
                    return self.inbox.pop(i)
                i += 1
            want = "%s(%s)" % ("|".join(types) if types else "object",
                               ", ".join("%s=%r" % kv for kv in fields.items())
                               + (", pred" if pred else ""))
            if self.eof:
                raise t.Closed("%s: connection ended (%s) while waiting for %s; unclaimed: %s"
                               % (self.label, self.eof, want, self._tail()))
            if time.monotonic() >= deadline:
                raise t.Timeout("%s: no %s within %.2fs; unclaimed: %s"
                                % (self.label, want, timeout if timeout is not None
                                   else self.timeout, self._tail()))
            self._read_some(deadline)

    def expect_closed(self, timeout=None):
        """Read until the server ends the connection; returns the unclaimed
        objects that came before the end (claiming them)."""
        deadline = self._deadline(timeout)
        while not self.eof:
            if self.closed:
                raise AssertionError("%s: we closed this connection ourselves" % self.label)
            if time.monotonic() >= deadline:
                raise t.Timeout("%s: connection still open after %.2fs; unclaimed: %s"
                                % (self.label, timeout if timeout is not None
                                   else self.timeout, self._tail()))
            self._read_some(deadline)
        out, self.inbox = self.inbox, []
        return out

    def expect_frame(self, opcode, payload=None, since=0, timeout=None):
        """Read until .ws_frames[since:] holds a server frame of opcode
        (with payload, when given); returns its index in .ws_frames.
        Objects read meanwhile stay unclaimed."""
        deadline = self._deadline(timeout)
        while True:
            for i in range(since, len(self.ws_frames)):
                _, op, p = self.ws_frames[i]
                if op == opcode and (payload is None or p == payload):
                    return i
            if self.eof:
                raise t.Closed("%s: connection ended (%s) while waiting for a frame of "
                               "opcode 0x%X; last frames %r"
                               % (self.label, self.eof, opcode,
                                  [(op, p[:40]) for _, op, p in self.ws_frames[-3:]]))
            if time.monotonic() >= deadline:
                raise t.Timeout("%s: no frame of opcode 0x%X (%r) within %.2fs"
                                % (self.label, opcode, payload, timeout if timeout is not None
                                   else self.timeout))
            self._read_some(deadline)

    def drain(self, duration=0.0):
        """Read for duration seconds (0: only what is already here), then
        until nothing more waits; returns and claims every unclaimed
        object.  Never raises on end of stream: check .eof."""
        deadline = time.monotonic() + duration
        while not self.eof and not self.closed:
            got = self._read_some(deadline)
            if time.monotonic() >= deadline and not got:
                break
        out, self.inbox = self.inbox, []
        return out

    def close_code(self):
        """The server's close frame as (code, reason), (None, "") for an
        empty one, or None before it came."""
        if self.close_frame is None:
            return None
        if len(self.close_frame) < 2:
            return None, ""
        return (struct.unpack(">H", self.close_frame[:2])[0],
                self.close_frame[2:].decode("utf-8"))

    # -- requests ---------------------------------------------------------

    def sync(self, timeout=None):
        """A barrier: a ping with unique data, and its pong.  chatd answers
        in order, so everything queued for us before it has arrived.
        Returns the unclaimed objects that came before the pong (they stay
        unclaimed)."""
        data = "sync-%s-%d" % (self.label, next(self._sync_ids))
        self.send(type_="ping", data=data)
        self.expect("pong", timeout, data=data)
        return list(self.skipped)

    def hello(self, nick, timeout=None):
        """hello; returns the welcome or the error that refused it."""
        self.send(type_="hello", nick=nick)
        o = self.expect(("welcome", "error"), timeout,
                        pred=lambda o: o["type"] == "welcome" or o.get("request") == "hello")
        if o["type"] == "welcome":
            self.name = o["nick"]
            self.welcome = o
        return o

    def join(self, room, cursor=None, timeout=None):
        """join; returns {"joined", "history", "end"} or {"error"}.  The
        answer must be contiguous: joined, messages with history, then
        history_end, all of this room."""
        req = {"type": "join", "room": room}
        if cursor is not None:
            req["cursor"] = cursor
        self.send(req)
        key = room.lower()
        deadline = self._deadline(timeout)
        o = self.expect(("joined", "error"), timeout,
                        pred=lambda o: (o["type"] == "joined" and o["room"].lower() == key)
                        or o.get("request") == "join")
        if o["type"] == "error":
            return {"error": o}
        at = len(self.skipped)
        res = {"joined": o, "history": [], "end": None}
        while True:
            while len(self.inbox) <= at:
                if self.eof:
                    raise t.Closed("%s: connection ended inside the join answer" % self.label)
                if time.monotonic() >= deadline:
                    raise t.Timeout("%s: join %r answer incomplete: %r"
                                    % (self.label, room, res))
                self._read_some(deadline)
            g = self.inbox.pop(at)
            if g["type"] == "history_end" and g.get("room") == o["room"]:
                res["end"] = g
                return res
            if g["type"] != "message" or g.get("room") != o["room"] or g.get("history") is not True:
                raise t.ProtocolViolation("%s: join %r: expected a history message or "
                                          "history_end, got %r" % (self.label, room, g))
            res["history"].append(g)

    def say(self, room, text, ref=None, wait=True, timeout=None):
        """say with a ref (a fresh one by default); with wait, returns the
        ack or error carrying it, else the ref."""
        ref = next(self._sync_ids) if ref is None else ref
        self.send(type_="say", room=room, text=text, ref=ref)
        if not wait:
            return ref
        return self.expect(("ack", "error"), timeout, ref=ref)

    def msg(self, nick, text, ref=None, wait=True, timeout=None):
        """msg (direct); like say()."""
        ref = next(self._sync_ids) if ref is None else ref
        self.send(type_="msg", nick=nick, text=text, ref=ref)
        if not wait:
            return ref
        return self.expect(("ack", "error"), timeout, ref=ref)

    def listing(self, request, timeout=None):
        """rooms, users or who (request is the object or its type): every
        page up to the one with last true."""
        if isinstance(request, str):
            request = {"type": request}
        answer = {"rooms": "rooms", "users": "users", "who": "names"}[request["type"]]
        self.send(request)
        deadline = self._deadline(timeout)
        pages = []
        while True:
            o = self.expect((answer, "error"), max(0.0, deadline - time.monotonic()),
                            pred=lambda o: o["type"] == answer
                            or o.get("request") == request["type"])
            if o["type"] == "error":
                raise AssertionError("%s: %s refused: %r" % (self.label, request, o))
            pages.append(o)
            if o.get("last") is True:
                return pages

    def quit(self, timeout=None):
        """quit; returns the bye after checking the server closes."""
        self.send(type_="quit")
        bye = self.expect("bye", timeout)
        self.expect_closed(timeout)
        return bye

    # -- ending -----------------------------------------------------------

    def reset_close(self):
        """Abortive close (RST), as when a browser tab is killed."""
        if not self.closed:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
            self.closed = True

    def close(self):
        if not self.closed:
            self.sock.close()
            self.closed = True
