#!/usr/bin/env python3
"""The protocol contract where docs/protocol.md had left a reader guessing:
the liveness clock under flood control (12, 13.2), the order of the
bad-frame checks (4.2), cursors beyond a room's last message and stale
cursors on rooms without history (6.3, 11.3), the wording and the protocol
of a refusal at accept (7), one PING per silence and the timers'
precision (12), fractional SEC values, and what --flood-rate counts."""

import socket
import subprocess
import sys
import time

import chatdtest as t
from chatdtest import (ACK, BYE, ERROR, HELLO, JOIN, MESSAGE, PING, PONG, PRESENCE, WELCOME,
                       PREFACE, encode, raw_frame)


# -- 12 / 13.2: a throttled client is alive ---------------------------------

@t.server_args("--flood-rate", "2", "--flood-burst", "1", "--ping-interval", "1",
               "--ping-timeout", "1")
def test_client_held_back_by_flood_control_is_not_dropped_for_ping_timeout(srv):
    # The reproduction of the report: six PINGs in one write at 2 frames/s
    # take 2.5 s to answer, past ping-interval + ping-timeout; the server's
    # own PING at 1 s is answered, but the PONG waits in the socket behind
    # the throttled frames.
    a = srv.client("alice")             # answers server PINGs as it reads
    b = srv.client("bob")
    a.join("r")
    b.join("r")
    a.expect(PRESENCE, kind=t.P_JOIN, nick="bob")
    t0 = time.monotonic()
    a.send_raw(b"".join(encode(PING, token=100 + i) for i in range(6)))
    # Both read (and answer server PINGs) until the last PONG, then for
    # one more silence window.
    end = t0 + 8
    while time.monotonic() < end and not a.eof:
        a.drain(0.05)
        b.drain(0.05)
        if len(a.received(PONG, token=105)) and end > time.monotonic() + 2.5:
            end = time.monotonic() + 2.5
    got = [f.at - t0 for f in a.log if f.type == PONG and f.token >= 100]
    print("    PONGs at %s s" % ", ".join("%.2f" % x for x in got))
    if a.received(BYE) or a.eof:
        raise AssertionError("alice was closed: %r" % (a.received(BYE),))
    t.assert_eq(len(got), 6, "PONGs for the six PINGs")
    if got[-1] < 2.0:
        raise AssertionError("the last PONG came after %.2f s: flood control did not hold the "
                             "PINGs back, so the test proves nothing" % got[-1])
    drops = [f for f in a.log + b.log if f.type == PRESENCE and f.kind == t.P_DROP]
    t.assert_eq(drops, [], "PRESENCE DROP seen by alice or bob")
    t.assert_ack(a.say("r", "still here"), "alice's SAY after her backlog")


@t.server_args("--flood-rate", "2", "--flood-burst", "1")
def test_flood_rate_counts_pings_and_pongs(srv):
    a = srv.client("alice")
    # Spend the one token, then three PINGs and a stray PONG: every frame
    # takes a token, so the third PING's answer needs 2 s of refill.
    a.ping()
    t0 = time.monotonic()
    a.send_raw(encode(PING, token=1) + encode(PONG, token=9) + encode(PING, token=2)
               + encode(PING, token=3))
    last = a.expect(PONG, 5, token=3).at - t0
    if last < 1.5:
        raise AssertionError("4 frames at 2/s answered in %.2f s: PONG took no token" % last)


def test_help_says_what_flood_rate_counts_and_that_seconds_take_fractions(srv):
    out = subprocess.run([srv.path, "--help"], capture_output=True, text=True,
                         timeout=10).stdout
    joined = " ".join(out.split())
    for want in ("SEC values are seconds and may have a fraction",
                 "--flood-rate N frames (text: lines) a second per client, PING and PONG "
                 "included"):
        if want not in joined:
            raise AssertionError("--help lacks %r:\n%s" % (want, out))
    flood = [line for line in out.splitlines() if "--flood-" in line]
    if any("requests" in line for line in flood):
        raise AssertionError("--help still speaks of requests:\n%s" % out)


@t.server_args("--handshake-timeout", "0.5")
def test_fractional_handshake_timeout_closes_on_time(srv):
    c = srv.client()
    t0 = time.monotonic()
    f = c.expect(ERROR, 3)
    took = f.at - t0
    t.assert_eq(f.code, 104, "ERROR code")
    if not 0.4 <= took <= 1.0:
        raise AssertionError("--handshake-timeout 0.5 closed after %.2f s" % took)
    c.expect_closed(2)


# -- 4.2: the order of the bad-frame checks ----------------------------------

PRECEDENCE = [
    # (what, frame sent before HELLO, expected code, closed)
    ("unknown type", raw_frame(0x0F, b"xyz"), 200, False),
    ("malformed JOIN", raw_frame(JOIN, b"\x01r"), 103, True),
    ("server type, well-formed", encode(BYE, reason=0, text="hi"), 103, True),
    ("server type, malformed", raw_frame(WELCOME, b"\x01"), 103, True),
    ("well-formed JOIN", encode(JOIN, room="r", epoch=0, since=0), 201, False),
    ("oversized unknown type", raw_frame(0x0F, b"", length=8193), 102, True),
    ("oversized JOIN", raw_frame(JOIN, b"", length=8193), 102, True),
]


def test_bad_frames_before_hello_follow_the_documented_order(srv):
    for what, frame, code, closed in PRECEDENCE:
        c = srv.client()
        c.send_raw(frame)
        f = c.expect(ERROR, 3)
        t.assert_eq(f.code, code, "%s before HELLO: ERROR code" % what)
        if closed:
            c.expect_closed(3)
        else:
            t.assert_eq(c.hello("n%d" % code).type, WELCOME,
                        "%s before HELLO: HELLO afterwards" % what)
            c.quit()


# -- 6.3 / 11.3: cursors ------------------------------------------------------

def test_cursor_beyond_the_last_message_is_answered_as_another_epoch(srv):
    a, b = srv.client("alice"), srv.client("bob")
    a.join("r")
    for i in range(5):
        t.assert_ack(a.say("r", "m%d" % i), "SAY")
    j = b.join("r")
    epoch, last = j.epoch, j.last_seq
    b.part("r")
    # A cursor of this epoch, 10 messages into the future.
    j = b.join("r", epoch=epoch, since=last + 10)
    t.assert_eq((j.end.count, j.end.flags, j.seqs), (5, t.HIST_TRUNCATED | t.HIST_EPOCH_CHANGED,
                                                     [1, 2, 3, 4, 5]),
                "HISTORY_END (count, flags) and replay for a cursor ahead of the room")
    b.part("r")
    # The last seq itself is a valid cursor: nothing missed.
    j = b.join("r", epoch=epoch, since=last)
    t.assert_eq((j.end.count, j.end.flags), (0, 0), "cursor at last_seq")


def test_stale_cursor_on_a_room_without_history_is_truncated_and_epoch_changed(srv):
    a = srv.client("alice")
    j = a.join("fresh", epoch=12345, since=7)
    t.assert_eq((j.end.count, j.end.flags, j.end.last_seq),
                (0, t.HIST_TRUNCATED | t.HIST_EPOCH_CHANGED, 0),
                "HISTORY_END of a fresh room for a stale cursor")
    a.part("fresh")
    # Its own epoch and since 0 on a room without messages: nothing missed.
    j2 = a.join("fresh", epoch=j.epoch, since=0)
    t.assert_eq((j2.end.count, j2.end.flags), (0, 0), "own epoch, since 0")


# -- 7: refusals at accept ---------------------------------------------------

def _read_until_eof(sock, timeout):
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            return data, True
        data += chunk
    return data, False


@t.server_args("--max-conns", "1")
def test_server_full_is_error_105_for_a_prompt_preface_and_text_for_a_late_one(srv):
    keep = srv.client("first")
    c = srv.client()                        # preface sent at once
    f = c.expect(ERROR, 3)
    t.assert_eq((f.code, f.text),
                (105, "server full: the server is at its limit of 1 connection (max-conns)"),
                "ERROR for a prompt framed client")
    c.expect_closed(3)
    # A framed client silent past the detection window is taken for a
    # person and refused in text, as section 7 says.
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=3)
    try:
        data, eof = _read_until_eof(s, 3)
        t.assert_eq(data.decode(), "! server full: the server is at its limit of 1 connection "
                    "(max-conns); bye\r\n", "text refusal")
        if not eof:
            raise AssertionError("no end-of-file after the text refusal")
        try:
            s.sendall(PREFACE + encode(HELLO, nick="late"))
        except OSError:
            pass                            # closed already: as documented
    finally:
        s.close()
    keep.quit()


@t.server_args("--max-conns-per-ip", "1")
def test_per_ip_refusal_counts_in_the_singular(srv):
    keep = srv.client("first")
    c = srv.client()
    f = c.expect(ERROR, 3)
    t.assert_eq((f.code, f.text),
                (105, "server full: 1 connection from 127.0.0.1 (max-conns-per-ip)"),
                "ERROR for the second connection from one address")
    keep.quit()


# -- 12: one PING per silence, on time ---------------------------------------

@t.server_args("--ping-interval", "0.5", "--ping-timeout", "0.5")
def test_one_ping_per_silence_at_the_interval_and_drop_at_interval_plus_timeout(srv):
    a = srv.client("alice", auto_pong=False)
    t0 = a.last_send
    p = a.expect(PING, 2)
    # Answer, and be silent again: the next silence gets its own PING.
    a.send(PONG, token=p.token)
    t1 = a.last_send
    p2 = a.expect(PING, 2)
    bye = a.expect(BYE, 3)
    a.expect_closed(3)
    pings = a.received(PING)
    t.assert_eq(len(pings), 2, "PINGs over two silences")
    t.assert_eq(bye.reason, t.R_PING_TIMEOUT, "BYE reason")
    first, second, drop = p.at - t0, p2.at - t1, bye.at - t1
    print("    PING after %.1f ms of silence, the next after %.1f ms, BYE after %.1f ms"
          % (first * 1000, second * 1000, drop * 1000))
    for what, got, want in (("first PING", first, 0.5), ("second PING", second, 0.5),
                            ("BYE", drop, 1.0)):
        if not want - 0.01 <= got <= want + 0.15:
            raise AssertionError("%s after %.3f s of silence, documented %.1f s"
                                 % (what, got, want))


if __name__ == "__main__":
    sys.exit(t.main(globals()))
