#!/usr/bin/env python3
"""chatd-swarm's WebSocket bots against the real daemon: short runs whose
checks must stay exact (nothing lost, duplicated, reordered or misrouted)
with

- every bot on chatd.framed (--transport ws): the framed bot, its bytes in
  masked binary messages;
- every bot on chatd.json (--transport ws-json), with direct messages;
- framed, HTTP, chatd.framed and chatd.json bots mixed (--transport all,
  a quarter each), with direct messages across them and churn (parts and
  rejoins with a cursor, connections reset and remade, joining with their
  cursors);
- chatd.json listeners silent long enough for chatd to ping them: the
  swarm answers, and no one is dropped;

and the WebSocket bots must have been used: the report counts them and
their handshakes, and the server's /metrics counts as many upgrades.

And the checks must see a fault: a proxy between the swarm and chatd that
drops one live room message from a WebSocket, or repeats one (a chatd.json
text message, or a framed MESSAGE inside chatd.framed's binary stream),
makes the swarm report it and exit 1; a server with WebSockets off makes it
fail and say so.

    python3 swarm_ws.py --chatd build/chatd --swarm build/chatd-swarm
"""

import argparse
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import urllib.request

import chatdtest as t

SWARM = None  # set from --swarm in main()
SERVER_ARGS = ("--flood-rate", "0", "--max-conns-per-ip", "0")
CHECKS = ("lost", "duplicated", "reordered", "misrouted", "bad_payload")


def run_swarm(port, *args, duration=3):
    """Run chatd-swarm against 127.0.0.1:port; returns (process, report)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "swarm.json")
        cmd = [SWARM, "--server", "127.0.0.1:%d" % port, "--warmup", "0.5",
               "--duration", str(duration), "--grace", "5", "--json", out, "--quiet",
               *map(str, args)]
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=90, env=env)
        print("$ " + " ".join(cmd[1:]))
        print(p.stdout, end="")
        if p.stderr:
            print(p.stderr, end="", file=sys.stderr)
        for mark in t.SANITIZER_MARKS:
            if mark in p.stderr:
                raise AssertionError("sanitizer report from chatd-swarm: %s" % mark)
        with open(out) as f:
            return p, json.load(f)


def metrics(port):
    """The server's /metrics as {name{labels}: value}."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def upgrades(port):
    """WebSocket handshakes the server answered 101."""
    return metrics(port).get("chatd_websocket_upgrades_total", 0.0)


def assert_exact(r, bots, what):
    """The run passed, every bot was ready and no check found anything."""
    if r["result"] != "ok":
        raise AssertionError("%s: the swarm failed: %r" % (what, r["failures"]))
    t.assert_eq(r["ready"], bots, "%s: bots ready" % what)
    for k in CHECKS:
        t.assert_eq(r[k], 0, "%s: %s" % (what, k))
    if not r["delivered"] > 0 or not r["deliveries_per_s"] > 0:
        raise AssertionError("%s: nothing was delivered: %r" % (what, r))


def assert_ws_used(port, r, ws_bots, before, what):
    """The report counts ws_bots WebSocket bots, at least as many
    handshakes, and the server answered as many upgrades as the swarm
    checked."""
    ws = r["websocket"]
    if ws["handshakes"] < ws_bots:
        raise AssertionError("%s: %d handshakes for %d WebSocket bots: %r"
                             % (what, ws["handshakes"], ws_bots, ws))
    t.assert_eq(ws["refusals"], 0, "%s: upgrades refused" % what)
    seen = upgrades(port) - before
    t.assert_eq(seen, float(ws["handshakes"]),
                "%s: chatd_websocket_upgrades_total against the swarm's handshakes" % what)
    if not (ws["frames_in"] > 0 and ws["frames_out"] > 0):
        raise AssertionError("%s: no WebSocket frames both ways: %r" % (what, ws))


def ws_framed_bots(chatd):
    with t.Server(chatd, *SERVER_ARGS) as srv:
        before = upgrades(srv.port)
        p, r = run_swarm(srv.port, "--bots", "200", "--rooms", "10", "--rooms-per-bot", "2",
                         "--rate", "4", "--transport", "ws")
        t.assert_eq(p.returncode, 0, "exit status")
        assert_exact(r, 200, "ws")
        t.assert_eq(r["transports"], {"framed": 0, "http": 0, "ws": 200}, "ws: transports")
        assert_ws_used(srv.port, r, 200, before, "ws")
        t.assert_eq(r["websocket"]["json_messages_in"], 0, "ws: chatd.json messages")


def ws_json_bots(chatd):
    with t.Server(chatd, *SERVER_ARGS) as srv:
        before = upgrades(srv.port)
        p, r = run_swarm(srv.port, "--bots", "120", "--rooms", "6", "--rooms-per-bot", "2",
                         "--rate", "4", "--direct", "0.1", "--transport", "ws-json")
        t.assert_eq(p.returncode, 0, "exit status")
        assert_exact(r, 120, "ws-json")
        t.assert_eq(r["transports"], {"framed": 0, "http": 0, "ws-json": 120},
                    "ws-json: transports")
        assert_ws_used(srv.port, r, 120, before, "ws-json")
        ws = r["websocket"]
        if ws["json_messages_in"] < r["delivered"]:
            raise AssertionError("ws-json: %d messages read for %d deliveries"
                                 % (ws["json_messages_in"], r["delivered"]))
        # The hot paths are scanned: jansson reads only welcomes and joins.
        if ws["json_fallback_parses"] > 4 * 120:
            raise AssertionError("ws-json: %d full parses" % ws["json_fallback_parses"])


def all_mixed_churn(chatd):
    with t.Server(chatd, *SERVER_ARGS) as srv:
        before = upgrades(srv.port)
        p, r = run_swarm(srv.port, "--bots", "200", "--rooms", "10", "--rooms-per-bot", "2",
                         "--rate", "4", "--direct", "0.1", "--churn", "20",
                         "--transport", "framed,http,ws,ws-json")
        what = "all mixed"
        t.assert_eq(p.returncode, 0, "exit status")
        assert_exact(r, 200, what)
        t.assert_eq(r["transports"], {"framed": 50, "http": 50, "ws": 50, "ws-json": 50},
                    "%s: transports" % what)
        assert_ws_used(srv.port, r, 100, before, what)
        if r["churn_parts"] == 0 or r["churn_resets"] == 0:
            raise AssertionError("%s: churn barely happened: %r" % (what, r))
        if r["history"] == 0:
            raise AssertionError("%s: no history replayed on rejoin" % what)
        if r["websocket"]["handshakes"] <= 100:
            raise AssertionError("%s: no WebSocket bot reconnected: %r"
                                 % (what, r["websocket"]))
        if r["http"]["requests"] == 0:
            raise AssertionError("%s: the HTTP bots made no requests" % what)


def silent_json_listeners_answer_pings(chatd):
    # Listeners say nothing: after a second chatd pings them, and drops
    # those silent a second more.
    with t.Server(chatd, *SERVER_ARGS, "--ping-interval", "1", "--ping-timeout", "1") as srv:
        p, r = run_swarm(srv.port, "--bots", "20", "--rooms", "2", "--senders", "2",
                         "--rate", "10", "--transport", "ws-json", duration=4)
        what = "pinged listeners"
        t.assert_eq(p.returncode, 0, "exit status")
        assert_exact(r, 20, what)
        if r["websocket"]["pings"] == 0:
            raise AssertionError("%s: chatd sent no ping: %r" % (what, r["websocket"]))
        if sum(r["drops"].values()) != 0:
            raise AssertionError("%s: bots dropped: %r" % (what, r["drops"]))


def websockets_off_is_reported(chatd):
    with t.Server(chatd, *SERVER_ARGS, "--http-websocket", "no") as srv:
        p, r = run_swarm(srv.port, "--bots", "4", "--rooms", "1", "--rate", "5",
                         "--transport", "ws-json", duration=1)
        t.assert_eq(p.returncode, 1, "exit status")
        t.assert_eq(r["result"], "fail", "result")
        t.assert_eq(r["ready"], 0, "bots ready")
        t.assert_eq(r["websocket"]["refusals"], 4, "upgrades refused")
        codes = [e for e in r["errors"] if e["code"] == 403]
        if not codes or "http-websocket" not in codes[0].get("hint", ""):
            raise AssertionError("no hint names http-websocket: %r" % r["errors"])


# ---------------------------------------------------------------------------
# A proxy that tampers with one message of a WebSocket


def ws_frame(opcode, payload):
    """A server frame (unmasked)."""
    n = len(payload)
    if n < 126:
        head = struct.pack(">BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack(">BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 127, n)
    return head + payload


def take_frames(buf):
    """Whole server frames at the start of buf (consumed): [(raw, opcode,
    payload)]."""
    out = []
    while len(buf) >= 2:
        n, off = buf[1] & 0x7F, 2
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
        out.append((bytes(buf[:off + n]), buf[0] & 0x0F, bytes(buf[off:off + n])))
        del buf[:off + n]
    return out


class WsFaultProxy:
    """Forwards TCP connections from 127.0.0.1:port to chatd; on the
    server's side of a WebSocket it drops, or sends twice, the `after`-th
    live room message it sees (once, across all sockets): a chatd.json
    text message of type "message" without "history", or a framed MESSAGE
    with flags 0 inside chatd.framed's binary stream."""

    def __init__(self, upstream, fault, after=30):
        self.upstream = upstream
        self.fault = fault
        self.after = after
        self.seen = 0
        self.done = False
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.stopping = True
        self.sock.close()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                c.close()
                continue
            u.settimeout(None)
            threading.Thread(target=self._pipe, args=(c, u, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, True), daemon=True).start()

    def _hit(self):
        """Count one live message; True if it is the one to tamper with."""
        with self.lock:
            self.seen += 1
            if self.done or self.seen < self.after:
                return False
            self.done = True
            return True

    def _tamper(self, unit):
        """The units to send for one message unit."""
        if not self._hit():
            return [unit]
        return [] if self.fault == "drop" else [unit, unit]

    def _json(self, frames):
        out = []
        for raw, op, payload in frames:
            if op == 0x1 and b'"type":"message"' in payload and b'"history":true' not in payload:
                out += self._tamper(raw)
            else:
                out.append(raw)
        return b"".join(out)

    def _framed(self, frames, stream):
        """Binary payloads into stream (a bytearray); whole framed frames
        out again, one binary message for those of a read."""
        out = []
        for raw, op, payload in frames:
            if op in (0x0, 0x2):
                stream += payload
                units = []
                while len(stream) >= 5:
                    n = struct.unpack(">I", bytes(stream[:4]))[0]
                    if len(stream) < 5 + n:
                        break
                    unit = bytes(stream[:5 + n])
                    del stream[:5 + n]
                    if unit[4] == 0x44 and n > 0 and unit[5] == 0:
                        units += self._tamper(unit)
                    else:
                        units.append(unit)
                if units:
                    out.append(ws_frame(0x2, b"".join(units)))
            else:
                out.append(raw)
        return b"".join(out)

    def _pipe(self, src, dst, downstream):
        """Copy src to dst; the server's side of a WebSocket frame by frame."""
        buf, mode, stream = bytearray(), None if downstream else "raw", bytearray()
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if mode == "raw":
                    dst.sendall(data)
                    continue
                buf += data
                if mode is None:
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        continue
                    head = bytes(buf[:end]).lower()
                    mode = ("raw" if not head.startswith(b"http/1.1 101") else
                            "json" if b"chatd.json" in head else "framed")
                    dst.sendall(bytes(buf[:end + 4]))
                    del buf[:end + 4]
                    if mode == "raw":
                        dst.sendall(bytes(buf))
                        buf.clear()
                        continue
                frames = take_frames(buf)
                out = self._json(frames) if mode == "json" else self._framed(frames, stream)
                if out:
                    dst.sendall(out)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def fault_detected(chatd, transport, fault, key, words):
    # Every connection reaches chatd from the proxy's one address.
    with t.Server(chatd, *SERVER_ARGS) as srv:
        proxy = WsFaultProxy(srv.port, fault)
        try:
            p, r = run_swarm(proxy.port, "--bots", "8", "--rooms", "1", "--rate", "20",
                             "--transport", transport)
        finally:
            proxy.close()
        what = "%s %s" % (transport, fault)
        if not proxy.done:
            raise AssertionError("%s: the proxy saw only %d live messages" % (what, proxy.seen))
        t.assert_eq(p.returncode, 1, "%s: exit status" % what)
        t.assert_eq(r["result"], "fail", "%s: result" % what)
        if r[key] < 1:
            raise AssertionError("%s: the swarm did not count it as %s: %r" % (what, key, r))
        if not any(words in f for f in r["failures"]):
            raise AssertionError("%s: no FAILED line says %r: %r"
                                 % (what, words, r["failures"]))


def main():
    global SWARM
    ap = argparse.ArgumentParser()
    ap.add_argument("--chatd", required=True)
    ap.add_argument("--swarm", required=True)
    args = ap.parse_args()
    SWARM = os.path.abspath(args.swarm)
    chatd = os.path.abspath(args.chatd)
    tests = [
        ("ws_framed_bots_lose_nothing", lambda: ws_framed_bots(chatd)),
        ("ws_json_bots_with_direct_messages_lose_nothing", lambda: ws_json_bots(chatd)),
        ("all_four_transports_mixed_with_direct_and_churn_lose_nothing",
         lambda: all_mixed_churn(chatd)),
        ("silent_json_listeners_answer_chatds_pings", lambda: silent_json_listeners_answer_pings(chatd)),
        ("websockets_turned_off_fail_the_run_and_say_so", lambda: websockets_off_is_reported(chatd)),
        ("a_dropped_json_message_is_counted_lost",
         lambda: fault_detected(chatd, "ws-json", "drop", "lost", "messages lost")),
        ("a_repeated_json_message_is_counted_duplicated",
         lambda: fault_detected(chatd, "ws-json", "duplicate", "duplicated",
                                "messages duplicated")),
        ("a_dropped_framed_message_in_a_websocket_is_counted_lost",
         lambda: fault_detected(chatd, "ws", "drop", "lost", "messages lost")),
        ("a_repeated_framed_message_in_a_websocket_is_counted_duplicated",
         lambda: fault_detected(chatd, "ws", "duplicate", "duplicated", "messages duplicated")),
    ]
    failed = 0
    for name, fn in tests:
        try:
            fn()
            print("ok   %s" % name)
        except Exception as e:  # noqa: BLE001 - report every scenario
            failed += 1
            print("FAIL %s: %s" % (name, e))
    if failed:
        print("FAIL swarm_ws: %d of %d" % (failed, len(tests)))
        return 1
    print("PASS swarm_ws")
    return 0


if __name__ == "__main__":
    sys.exit(main())
