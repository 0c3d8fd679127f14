#!/usr/bin/env python3
"""chatd-swarm's HTTP bots against the real daemon: short runs whose checks
must stay exact (nothing lost, duplicated, reordered or misrouted) with

- every bot on HTTP, receiving by one Server-Sent Events stream each;
- every bot on HTTP, receiving by long polls (a room's messages, the
  mailbox);
- framed and HTTP bots mixed, with direct messages across the two and
  churn (parts and rejoins with a cursor, receive connections dropped and
  resumed with Last-Event-ID or the cursor), by stream and by polls;

and the HTTP bots must have been used: the report counts them, the
server's /metrics counts their requests, and afterwards the server holds
none of their sessions (the swarm ends them).  The bots share the
swarm's loopback source addresses as framed bots do: a server that allows
100 HTTP sessions per address takes 200 HTTP bots.

And the checks must see a fault: a proxy between the swarm and chatd that
drops one room message from an event stream, or repeats one, makes the
swarm report it and exit 1.

    python3 swarm_http.py --chatd build/chatd --swarm build/chatd-swarm
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request

import chatdtest as t

SWARM = None  # set from --swarm in main()
SERVER_ARGS = ("--flood-rate", "0", "--max-conns-per-ip", "0")
CHECKS = ("lost", "duplicated", "reordered", "misrouted", "bad_payload")


def run_swarm(port, *args):
    """Run chatd-swarm against 127.0.0.1:port; returns (process, report)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "swarm.json")
        cmd = [SWARM, "--server", "127.0.0.1:%d" % port, "--warmup", "0.5",
               "--duration", "3", "--grace", "5", "--json", out, "--quiet",
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


def http_requests(port):
    """HTTP responses the server has sent, all statuses."""
    return sum(v for k, v in metrics(port).items() if k.startswith("chatd_http_requests_total"))


def assert_exact(r, bots, what):
    """The run passed, every bot was ready and no check found anything."""
    if r["result"] != "ok":
        raise AssertionError("%s: the swarm failed: %r" % (what, r["failures"]))
    t.assert_eq(r["ready"], bots, "%s: bots ready" % what)
    for k in CHECKS:
        t.assert_eq(r[k], 0, "%s: %s" % (what, k))
    if not r["delivered"] > 0 or not r["deliveries_per_s"] > 0:
        raise AssertionError("%s: nothing was delivered: %r" % (what, r))


def assert_http_used(port, r, http_bots, before, what):
    """The report counts http_bots HTTP bots that sent requests and got
    answers; the server counted them; and it holds none of their sessions."""
    t.assert_eq(r["transports"]["http"], http_bots, "%s: HTTP bots" % what)
    h = r["http"]
    if not (h["requests"] > 0 and h["answers"] > 0):
        raise AssertionError("%s: HTTP bots made no requests: %r" % (what, h))
    seen = http_requests(port) - before
    if seen < h["answers"]:
        raise AssertionError("%s: the server counted %d HTTP responses, the swarm read %d"
                             % (what, seen, h["answers"]))
    t.assert_eq(metrics(port).get("chatd_http_sessions"), 0.0,
                "%s: HTTP sessions left on the server" % what)


def sse_all_http(chatd):
    # 100 sessions an address: 200 HTTP bots need the swarm's spread of
    # loopback sources (100 bots on each), as framed bots do.
    with t.Server(chatd, *SERVER_ARGS, "--http-max-sessions-per-ip", "100") as srv:
        before = http_requests(srv.port)
        p, r = run_swarm(srv.port, "--bots", "200", "--rooms", "10", "--rooms-per-bot", "2",
                         "--rate", "4", "--transport", "http", "--http-mode", "sse")
        t.assert_eq(p.returncode, 0, "exit status")
        assert_exact(r, 200, "sse")
        t.assert_eq(r["sources"], 2, "source addresses")
        t.assert_eq(r["http_mode"], "sse", "http_mode")
        assert_http_used(srv.port, r, 200, before, "sse")
        if r["http"]["events"] < r["delivered"]:
            raise AssertionError("sse: %d stream events for %d deliveries"
                                 % (r["http"]["events"], r["delivered"]))
        if r["http"]["polls"] != 0:
            raise AssertionError("sse: %d long polls" % r["http"]["polls"])


def poll_all_http(chatd):
    with t.Server(chatd, *SERVER_ARGS) as srv:
        before = http_requests(srv.port)
        p, r = run_swarm(srv.port, "--bots", "120", "--rooms", "6", "--rooms-per-bot", "2",
                         "--rate", "4", "--direct", "0.1", "--transport", "http",
                         "--http-mode", "poll")
        t.assert_eq(p.returncode, 0, "exit status")
        assert_exact(r, 120, "poll")
        t.assert_eq(r["http_mode"], "poll", "http_mode")
        assert_http_used(srv.port, r, 120, before, "poll")
        if r["http"]["polls"] == 0 or r["http"]["events"] != 0:
            raise AssertionError("poll: polls %d, stream events %d"
                                 % (r["http"]["polls"], r["http"]["events"]))


def mixed_churn(chatd, mode):
    with t.Server(chatd, *SERVER_ARGS) as srv:
        before = http_requests(srv.port)
        p, r = run_swarm(srv.port, "--bots", "200", "--rooms", "10", "--rooms-per-bot", "2",
                         "--rate", "4", "--direct", "0.1", "--churn", "20",
                         "--transport", "mixed", "--http-mode", mode)
        what = "mixed %s" % mode
        t.assert_eq(p.returncode, 0, "exit status")
        assert_exact(r, 200, what)
        t.assert_eq(r["transports"], {"framed": 100, "http": 100}, "%s: transports" % what)
        assert_http_used(srv.port, r, 100, before, what)
        if r["churn_parts"] == 0 or r["churn_resets"] == 0:
            raise AssertionError("%s: churn barely happened: %r" % (what, r))
        if r["history"] == 0:
            raise AssertionError("%s: no history replayed on rejoin" % what)
        if r["http"]["receive_drops"] == 0:
            raise AssertionError("%s: no HTTP receive connection was dropped" % what)
        if mode == "sse" and r["http"]["stream_resumes"] == 0:
            raise AssertionError("%s: no stream was resumed" % what)


# ---------------------------------------------------------------------------
# A proxy that tampers with one event of an event stream


class FaultProxy:
    """Forwards TCP connections from 127.0.0.1:port to chatd; on event
    streams (answers of type text/event-stream) it drops, or sends twice,
    the `after`-th room message event it sees (once, across all streams)."""

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

    def _tamper(self, block):
        """The blocks to send for one event block."""
        if not block.startswith(b"id: ") or b"\nevent: message\n" not in block:
            return [block]
        with self.lock:
            self.seen += 1
            if self.done or self.seen < self.after:
                return [block]
            self.done = True
        return [] if self.fault == "drop" else [block, block]

    def _pipe(self, src, dst, downstream):
        """Copy src to dst; an event stream (chatd's answer on a connection
        whose first answer is one) block by block, through _tamper()."""
        buf, stream = b"", None if downstream else False
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if stream is False:
                    dst.sendall(data)
                    continue
                buf += data
                if stream is None:
                    head_end = buf.find(b"\r\n\r\n")
                    if head_end < 0:
                        continue
                    stream = b"text/event-stream" in buf[:head_end].lower()
                    if not stream:
                        dst.sendall(buf)
                        buf = b""
                        continue
                    dst.sendall(buf[:head_end + 4])
                    buf = buf[head_end + 4:]
                out = []
                while True:
                    end = buf.find(b"\n\n")
                    if end < 0:
                        break
                    out += self._tamper(buf[:end + 2])
                    buf = buf[end + 2:]
                if out:
                    dst.sendall(b"".join(out))
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def fault_detected(chatd, fault, key, words):
    # Every connection reaches chatd from the proxy's one address.
    with t.Server(chatd, *SERVER_ARGS, "--http-max-sessions-per-ip", "0") as srv:
        proxy = FaultProxy(srv.port, fault)
        try:
            p, r = run_swarm(proxy.port, "--bots", "8", "--rooms", "1", "--rate", "20",
                             "--transport", "http", "--http-mode", "sse")
        finally:
            proxy.close()
        if not proxy.done:
            raise AssertionError("%s: the proxy saw only %d message events" % (fault, proxy.seen))
        t.assert_eq(p.returncode, 1, "%s: exit status" % fault)
        t.assert_eq(r["result"], "fail", "%s: result" % fault)
        if r[key] < 1:
            raise AssertionError("%s: the swarm did not count it as %s: %r" % (fault, key, r))
        if not any(words in f for f in r["failures"]):
            raise AssertionError("%s: no FAILED line says %r: %r"
                                 % (fault, words, r["failures"]))


def main():
    global SWARM
    ap = argparse.ArgumentParser()
    ap.add_argument("--chatd", required=True)
    ap.add_argument("--swarm", required=True)
    args = ap.parse_args()
    SWARM = os.path.abspath(args.swarm)
    chatd = os.path.abspath(args.chatd)
    tests = [
        ("http_sse_bots_lose_nothing_from_their_spread_sources", lambda: sse_all_http(chatd)),
        ("http_poll_bots_lose_nothing", lambda: poll_all_http(chatd)),
        ("mixed_bots_with_direct_and_churn_over_sse_lose_nothing",
         lambda: mixed_churn(chatd, "sse")),
        ("mixed_bots_with_direct_and_churn_over_polls_lose_nothing",
         lambda: mixed_churn(chatd, "poll")),
        ("a_dropped_stream_event_is_counted_lost",
         lambda: fault_detected(chatd, "drop", "lost", "messages lost")),
        ("a_repeated_stream_event_is_counted_duplicated",
         lambda: fault_detected(chatd, "duplicate", "duplicated", "messages duplicated")),
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
        print("FAIL swarm_http: %d of %d" % (failed, len(tests)))
        return 1
    print("PASS swarm_http")
    return 0


if __name__ == "__main__":
    sys.exit(main())
