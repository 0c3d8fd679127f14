#!/usr/bin/env python3
"""Bad input never harms the server or other clients: each kind gets its
defined answer (an error and the connection goes on, or an error and the
connection is closed), and afterwards the other members of the room still
chat normally."""

import struct
import sys

import chatdtest as t
from chatdtest import ERROR, MESSAGE, PRESENCE, PREFACE, SAY



def expect_protocol_drop(members, nick, what):
    for m in members:
        p = m.expect(PRESENCE, kind=t.P_DROP, nick=nick, timeout=3)
        t.assert_eq(p.reason, t.R_PROTOCOL_ERROR, "%s: %s's PRESENCE DROP reason"
                    % (what, m.label))


def test_oversized_frame_header_gets_error_102_and_close(srv):
    a, b = t.room_pair(srv)
    x = srv.client("xavier")
    x.join("r")
    max_frame = x.welcome.max_frame
    # Only the header: the server must decide from the length alone.
    x.send_raw(struct.pack(">IB", max_frame + 1, SAY))
    err = t.expect_fatal(x, t.E_FRAME_TOO_LARGE, "header announcing max_frame+1")
    t.assert_eq((err.req_type, err.ref), (0, 0), "ERROR 102 (type, ref)")
    expect_protocol_drop((a, b), "xavier", "oversized frame")
    t.assert_room_works(a, b, "r")


def test_frame_of_exactly_max_frame_is_accepted(srv):
    a, b = t.room_pair(srv)
    max_frame, max_text = a.welcome.max_frame, a.welcome.max_text
    # A SAY whose payload is exactly max_frame: with the default budgets
    # (8192 / 4096) no valid SAY is that big, so the server must read the
    # whole body and answer 207 (text too long) and go on, not 102.
    text_len = max_frame - 4 - 1 - 1 - 2
    if text_len <= max_text:
        return  # budgets where such a SAY would be valid: nothing to prove here
    ref = a.say("r", "y" * text_len, wait=False, ref=41)
    err = a.expect(ERROR, ref=ref)
    t.assert_error(err, t.E_TEXT_TOO_LONG, "SAY of %d bytes" % text_len, ref=41, req_type=SAY)
    t.assert_room_works(a, b, "r")


@t.server_args("--max-text", "10", "--max-frame", "256")
def test_text_and_frame_limits_follow_the_options(srv):
    a, b = t.room_pair(srv)
    t.assert_eq((a.welcome.max_text, a.welcome.max_frame), (10, 256), "WELCOME budgets")
    t.assert_room_works(a, b, "r", text="0123456789")
    t.assert_room_works(a, b, "r", text="\u20ac\u20ac\u20ac")  # 9 bytes
    t.assert_error(a.say("r", "0123456789a", ref=3), t.E_TEXT_TOO_LONG, "SAY of 11 bytes",
                   ref=3, req_type=SAY)
    t.assert_error(a.say("r", "\u20ac\u20ac\u20ac\u20ac", ref=4), t.E_TEXT_TOO_LONG,
                   "SAY of 4 characters, 12 bytes", ref=4)
    t.assert_error(a.msg("bob", "0123456789a", ref=5), t.E_TEXT_TOO_LONG, "MSG of 11 bytes",
                   ref=5, req_type=t.MSG)
    b.sync()
    t.assert_eq(len(b.received(MESSAGE)), 2, "MESSAGEs bob received (only the valid two)")
    # A whole frame of exactly max_frame is read (and refused for its text);
    # one byte more is fatal.
    a.send_raw(t.raw_frame(SAY, t.encode_payload(SAY, ref=6, room="r", text="z" * 248)))
    t.assert_error(a.expect(ERROR, ref=6), t.E_TEXT_TOO_LONG, "SAY frame of 256 bytes")
    x = srv.client("xavier")
    x.send_raw(t.raw_frame(SAY, t.encode_payload(SAY, ref=7, room="r", text="z" * 249)))
    t.expect_fatal(x, t.E_FRAME_TOO_LARGE, "SAY frame of 257 bytes")
    t.assert_room_works(a, b, "r", text="ok")


def test_unknown_frame_type_gets_error_200_and_connection_goes_on(srv):
    a, b = t.room_pair(srv)
    for ftype, payload in ((0x3E, b""), (0x3E, b"abc"), (0x0F, b""), (0xFF, b"\x00")):
        a.send_raw(t.raw_frame(ftype, payload))
        # The type field of the ERROR holds the unknown type byte.
        t.assert_error(a.expect(ERROR), t.E_UNKNOWN_TYPE, "frame type 0x%02x" % ftype,
                       req_type=ftype)
    a.sync()
    t.assert_room_works(a, b, "r")


def test_malformed_hello_gets_error_103_and_close(srv):
    a, b = t.room_pair(srv)
    x = srv.client()
    # str8 length 10, but only 3 bytes follow in the payload.
    x.send_raw(t.raw_frame(t.HELLO, b"\x0aabc"))
    t.expect_fatal(x, t.E_MALFORMED, "HELLO whose nick runs past the payload")
    t.assert_eq(a.users(), ["alice", "bob"], "USERS after the malformed HELLO")
    t.assert_room_works(a, b, "r")


def test_say_with_trailing_byte_gets_error_103_and_close(srv):
    a, b = t.room_pair(srv)
    x = srv.client("xavier")
    x.join("r")
    x.send_raw(t.raw_frame(SAY, t.encode_payload(SAY, ref=1, room="r", text="hi") + b"\x00"))
    t.expect_fatal(x, t.E_MALFORMED, "SAY with a trailing byte")
    expect_protocol_drop((a, b), "xavier", "malformed SAY")
    b.sync()
    t.assert_eq(b.received(MESSAGE), [], "MESSAGEs delivered from the malformed SAY")
    t.assert_room_works(a, b, "r")


def test_server_frame_type_from_client_gets_error_103_and_close(srv):
    a, b = t.room_pair(srv)
    x = srv.client("xavier")
    x.send(t.ACK, ref=1, seq=2, time_ms=3)
    t.expect_fatal(x, t.E_MALFORMED, "ACK sent by a client")
    t.assert_room_works(a, b, "r")


def test_frame_before_preface_gets_error_100_and_close(srv):
    a, b = t.room_pair(srv)
    x = srv.client(preface=False)
    x.send(t.HELLO, nick="xavier")
    t.expect_fatal(x, t.E_BAD_PREFACE, "HELLO without the preface")
    y = srv.client(preface=False)
    y.send_raw(b"\x89CHATX\x00\x01")
    t.expect_fatal(y, t.E_BAD_PREFACE, "preface with a wrong magic")
    t.assert_room_works(a, b, "r")


def test_bad_version_gets_error_101_and_close(srv):
    a, b = t.room_pair(srv)
    x = srv.client(preface=False)
    x.send_raw(PREFACE[:-1] + b"\x02" + t.encode(t.HELLO, nick="xavier"))
    t.expect_fatal(x, t.E_BAD_VERSION, "preface with version 2")
    t.assert_room_works(a, b, "r")


def test_preface_and_frames_in_one_packet_are_served(srv):
    a, b = t.room_pair(srv)
    x = srv.client(preface=False)
    x.send_raw(PREFACE + t.encode(t.HELLO, nick="xavier") + t.encode(t.JOIN, room="r"))
    w = x.expect(t.WELCOME)
    t.assert_eq(w.nick, "xavier", "WELCOME nick")
    x.expect(t.HISTORY_END, room="r")
    a.expect(PRESENCE, kind=t.P_JOIN, nick="xavier")
    t.assert_room_works(a, b, "r")


def test_request_before_hello_gets_201_and_connection_goes_on(srv):
    a, b = t.room_pair(srv)
    x = srv.client()
    t.assert_error(x.join("r").error, t.E_NOT_REGISTERED, "JOIN before HELLO", req_type=t.JOIN)
    # The refusal of a SAY carries its ref, like every ERROR answering a SAY.
    x.say("r", "hi", ref=12, wait=False)
    t.assert_error(x.expect(ERROR, req_type=SAY), t.E_NOT_REGISTERED, "SAY before HELLO",
                   ref=12)
    x.sync()  # PING is allowed before HELLO
    t.assert_eq(x.hello("xavier").type, t.WELCOME, "HELLO after the refusals")
    x.join("r")
    _, m = t.assert_room_works(a, x, "r")
    b.sync()
    t.assert_eq([f.text for f in b.received(MESSAGE)], [m.text],
                "MESSAGEs bob received (nothing from the refused SAY)")


def test_invalid_utf8_text_gets_error_206_and_connection_goes_on(srv):
    a, b = t.room_pair(srv)
    bad = [
        ("overlong '/'", b"\xc0\xaf"),
        ("overlong 3-byte", b"\xe0\x80\xaf"),
        ("lone continuation byte", b"ab\x80cd"),
        ("UTF-16 surrogate", b"\xed\xa0\x80"),
        ("code point above U+10FFFF", b"\xf4\x90\x80\x80"),
        ("truncated sequence", b"x\xe2\x82"),
        ("NUL byte", b"a\x00b"),
        ("empty text", b""),
    ]
    for i, (what, text) in enumerate(bad, 100):
        err = a.say("r", text, ref=i)
        t.assert_error(err, t.E_TEXT_INVALID, "SAY with %s" % what, ref=i, req_type=SAY)
    err = a.msg("bob", b"\xed\xbf\xbf", ref=99)
    t.assert_error(err, t.E_TEXT_INVALID, "MSG with a surrogate", ref=99, req_type=t.MSG)
    b.sync()
    t.assert_eq(b.received(MESSAGE), [], "MESSAGEs delivered from invalid text")
    t.assert_room_works(a, b, "r", text="h\u00e9llo \u20ac \U0001d11e")


def test_overlong_nick_and_room_get_errors_and_connection_goes_on(srv):
    a, b = t.room_pair(srv)
    x = srv.client()
    t.assert_error(x.hello("n" * 33), t.E_NICK_INVALID, "HELLO with a 33-byte nick")
    t.assert_eq(x.hello("xavier").type, t.WELCOME, "HELLO after the refusal")
    t.assert_error(x.join("r" * 65).error, t.E_ROOM_INVALID, "JOIN of a 65-byte room",
                   req_type=t.JOIN)
    t.assert_error(x.join("bad room").error, t.E_ROOM_INVALID, "JOIN of a room with a space")
    t.assert_error(x.join("").error, t.E_ROOM_INVALID, "JOIN of an empty room name")
    t.assert_error(x.say("r" * 65, "hi", ref=7), t.E_ROOM_INVALID, "SAY to a 65-byte room",
                   ref=7)
    t.assert_eq(x.join("r" * 64).joined.room, "r" * 64, "JOIN of a 64-byte room")
    x.join("r")
    t.assert_room_works(x, a, "r")
    t.assert_room_works(a, b, "r")


def test_frames_split_byte_by_byte_or_packed_together_are_served_once_each(srv):
    a, b = t.room_pair(srv)
    x = srv.client(preface=False)
    stream = (PREFACE + t.encode(t.HELLO, nick="xavier") + t.encode(t.JOIN, room="r")
              + t.encode(SAY, ref=1, room="r", text="one byte at a time"))
    for i in range(len(stream)):
        x.send_raw(stream[i:i + 1])
    t.assert_ack(x.expect((t.ACK, ERROR), ref=1), "SAY sent byte by byte")
    m = b.expect(MESSAGE)
    t.assert_eq((m.from_, m.text), ("xavier", "one byte at a time"), "bob's MESSAGE")
    packed = b"".join(t.encode(SAY, ref=10 + i, room="r", text="packed %d" % i)
                      for i in range(20))
    x.send_raw(packed)
    for i in range(20):
        t.assert_ack(x.expect((t.ACK, ERROR), ref=10 + i), "packed SAY %d" % i)
    got = [b.expect(MESSAGE).text for _ in range(20)]
    t.assert_eq(got, ["packed %d" % i for i in range(20)], "bob's MESSAGEs from one write")
    b.sync()
    t.assert_eq(len(b.received(MESSAGE)), 21, "MESSAGEs bob received in all")


def test_connection_closing_mid_frame_is_announced_as_closed_and_nothing_else(srv):
    a, b = t.room_pair(srv)
    x = srv.client("xavier")
    x.join("r")
    marks = {}
    for m in (a, b):
        m.expect(PRESENCE, kind=t.P_JOIN, nick="xavier")
        m.sync()
        marks[m] = len(m.log)
    whole = t.encode(SAY, ref=1, room="r", text="this message is never finished")
    x.send_raw(whole[:len(whole) // 2])
    x.finish(timeout=3)
    for m in (a, b):
        p = m.expect(PRESENCE, kind=t.P_DROP, nick="xavier", timeout=3)
        t.assert_eq((p.room, p.reason), ("r", t.R_CLOSED), "%s: PRESENCE DROP" % m.label)
        m.sync()
        since = [f for f in m.log[marks[m]:] if f.type != t.PONG]
        t.assert_eq(since, [p], "%s: frames after the half frame" % m.label)
    t.assert_room_works(a, b, "r")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
