#!/usr/bin/env python3
"""HTTP, text and framed clients in one room (docs/http.md, protocol.md
sections 11 and 17), and the reliability of HTTP readers.

- an HTTP session, a telnet user and a framed program see each other's
  messages, joins, parts, nick changes, quits and drops, each in its own
  protocol: HTTP through GET .../messages, /me/events and the event
  stream;
- a long-polling reader and an event-stream reader each receive 1,000
  messages from a framed sender exactly once and in order, although the
  test cuts their connections several times mid-stream and they resume
  from `next` / Last-Event-ID.

Run as

    python3 test_http_cross.py --chatd build/chatd [-k NAME]
"""

import re
import socket
import sys
import threading
import time

import chatdtest as t
import test_http as h
from chatdtest import ACK, ERROR, MESSAGE, PRESENCE
from textclient import CLOCK, chat_re, text_client

SERVER_ARGS = ("--detect-window", "0.2")
N = 1000


def trio(srv, room="r"):
    """ann over HTTP, bob at a terminal and cy framed, all in room (in
    that order); returns (ann, bob, cy, ann's join answer)."""
    ann = h.Session(srv, "ann")
    ja = ann.join(room)
    bob = text_client(srv, "bob")
    bob.join(room)
    cy = srv.client("cy")
    cy.join(room)
    bob.expect_line(r"^%s \* cy joined #%s$" % (CLOCK, re.escape(room)))
    return ann, bob, cy, ja


def others(events, me="ann"):
    """Events that are not about me (a session's own joins and parts are
    not asserted either way)."""
    return [e for e in events if e.get("nick") != me]


def test_each_front_end_sees_the_others_messages(srv):
    """A message from each of HTTP, text and framed reaches the two others
    with one sequence: telnet shows "<nick> text", framed gets MESSAGE,
    HTTP reads it from the room and from its event stream; direct
    messages cross the same way."""
    ann, bob, cy, ja = trio(srv)
    st = h.open_stream(srv, ann.token)
    a = ann.say("r", "from http")
    bob.expect_line(chat_re("r", "ann", "from http"), timeout=3)
    m = cy.expect(MESSAGE, text="from http", timeout=3)
    t.assert_eq((m.from_, m.seq, m.time_ms), ("ann", a["seq"], a["time"]),
                "cy's MESSAGE from ann (from, seq, time)")
    bob.send_line("from telnet")
    m = cy.expect(MESSAGE, text="from telnet", timeout=3)
    t.assert_eq((m.from_, m.seq), ("bob", a["seq"] + 1), "cy's MESSAGE from bob (from, seq)")
    ack = t.assert_ack(cy.say("r", "from framed"), "cy's SAY")
    t.assert_eq(ack.seq, a["seq"] + 2, "cy's seq")
    bob.expect_line(chat_re("r", "cy", "from framed"), timeout=3)
    body = ann.read("r", after=ja["cursor"])
    want = [("ann", "from http", 1), ("bob", "from telnet", 2), ("cy", "from framed", 3)]
    t.assert_eq([(x["from"], x["text"], x["seq"]) for x in body["messages"]], want,
                "ann reads the room")
    evs = [st.next_event(3) for _ in range(3)]
    t.assert_eq([(e.event,) + tuple(e.json()[k] for k in ("from", "text", "seq")) for e in evs],
                [("message",) + w for w in want], "ann's event stream")
    t.assert_eq([e.json()["id"] for e in evs], [x["id"] for x in body["messages"]],
                "the same event ids in the room and in the stream")
    bob.send_line("/msg ann psst from telnet")
    bob.expect_line(r"-> \*ann\* psst from telnet")
    t.assert_ack(cy.msg("ann", "psst from framed"), "cy's MSG to ann")
    ds = [st.next_event(3) for _ in range(2)]
    t.assert_eq([(e.event, e.json()["from"], e.json()["text"]) for e in ds],
                [("direct", "bob", "psst from telnet"), ("direct", "cy", "psst from framed")],
                "direct messages in ann's stream")
    ann.dm("bob", "back to telnet")
    bob.expect_line(r"^%s \*ann\* back to telnet$" % CLOCK, timeout=3)
    ann.dm("cy", "back to framed")
    m = cy.expect(MESSAGE, flags=t.MSG_DIRECT, timeout=3)
    t.assert_eq((m.from_, m.text), ("ann", "back to framed"), "cy's direct MESSAGE")


def test_joins_parts_nick_changes_and_quits_cross_front_ends(srv):
    """Joins, parts, a nick change and a quit by text and framed users
    reach HTTP as mailbox and stream events, and an HTTP user's leave and
    join reach text and framed members."""
    ann = h.Session(srv, "ann")
    ann.join("r")
    start = h.ok(ann.events(after=0), 200, "GET /me/events")["next"]
    st = h.open_stream(srv, ann.token)
    bob = text_client(srv, "bob")
    bob.join("r")
    cy = srv.client("cy")
    cy.join("r")
    bob.expect_line(r"^%s \* cy joined #r$" % CLOCK)
    ann.leave("r")
    bob.expect_line(r"^%s \* ann left #r$" % CLOCK, timeout=3)
    cy.expect(PRESENCE, kind=t.P_PART, nick="ann", room="r", timeout=3)
    ann.join("r")
    bob.expect_line(r"^%s \* ann joined #r$" % CLOCK, timeout=3)
    cy.expect(PRESENCE, kind=t.P_JOIN, nick="ann", room="r", timeout=3)
    cy.nick("cyd")
    bob.expect_line(r"^%s \* cy is now known as cyd$" % CLOCK, timeout=3)
    bob.send_line("/part r")
    bob.expect_line(r"^%s \* bob left #r$" % CLOCK)
    cy.expect(PRESENCE, kind=t.P_PART, nick="bob", timeout=3)
    cy.quit()
    want = [("join", "bob", None), ("join", "cy", None), ("nick", "cy", "cyd"),
            ("part", "bob", None), ("quit", "cyd", None)]

    def shape(d):
        return (d["type"], d["nick"], d.get("new_nick"))

    evs, _ = h.collect_events(ann, start, lambda e: any(x["type"] == "quit" for x in e))
    t.assert_eq([shape(e) for e in others(evs)], want, "ann's mailbox (type, nick, new_nick)")
    for e in others(evs):
        if e["type"] != "nick":
            t.assert_eq(e["room"], "r", "room of %s %s" % (e["type"], e["nick"]))
    stream = []
    while len(stream) < len(want):
        ev = st.next_event(3)
        t.assert_eq(ev.event, "presence", "event name of %r" % ev)
        stream += others([ev.json()])
    t.assert_eq([shape(d) for d in stream], want, "ann's event stream")
    t.assert_eq([d["id"] for d in stream], [e["id"] for e in others(evs)],
                "the same event ids in the mailbox and the stream")


def test_killed_framed_client_is_a_drop_in_the_http_mailbox_and_stream(srv):
    """A framed client whose socket is reset is announced to HTTP as a
    drop with reason "reset" in /me/events and the event stream, and to
    the telnet user as "dropped from #r: connection reset"."""
    ann, bob, cy, ja = trio(srv)
    start = h.ok(ann.events(after=0), 200, "GET /me/events")["next"]
    st = h.open_stream(srv, ann.token)
    cy.reset_close()
    bob.expect_line(r"^%s \* cy dropped from #r: connection reset$" % CLOCK, timeout=3)
    e = st.next_event(3)
    d = e.json()
    t.assert_eq((e.event, d["type"], d["room"], d["nick"], d["reason"]),
                ("presence", "drop", "r", "cy", "reset"), "the drop in ann's stream")
    h.assert_now_ms(d["time"], "drop time")
    evs, _ = h.collect_events(ann, start, lambda x: any(y["type"] == "drop" for y in x))
    drops = [x for x in evs if x["type"] == "drop"]
    t.assert_eq([(x["nick"], x["reason"], x["id"]) for x in drops], [("cy", "reset", d["id"])],
                "the drop in ann's mailbox, with the stream's id")
    members = h.ok(ann.req("GET", "/rooms/r/members"), 200, "members")["members"]
    t.assert_eq(members, ["ann", "bob"], "members after the drop")


def test_closed_text_client_is_a_drop_closed_for_http_and_framed(srv):
    """A telnet user who closes the connection is announced to HTTP as a
    drop with reason "closed" and to framed members as DROP CLOSED."""
    ann, bob, cy, ja = trio(srv)
    st = h.open_stream(srv, ann.token)
    bob.sock.shutdown(socket.SHUT_WR)
    p = cy.expect(PRESENCE, kind=t.P_DROP, nick="bob", timeout=3)
    t.assert_eq((p.room, p.reason), ("r", t.R_CLOSED), "cy's PRESENCE DROP (room, reason)")
    d = st.next_event(3).json()
    t.assert_eq((d["type"], d["room"], d["nick"], d["reason"]), ("drop", "r", "bob", "closed"),
                "the drop in ann's stream")


# ---------------------------------------------------------------------------
# Reliability: 1,000 messages, connections cut mid-stream


def text_of(i):
    return "m%04d" % i


class Feeder(threading.Thread):
    """A framed client saying N numbered messages to a room, batch by batch
    at a steady pace, in its own thread; .error holds what went wrong."""

    def __init__(self, client, room, n, batch=25, interval=0.1):
        super().__init__(daemon=True)
        self.client = client
        self.room = room
        self.n = n
        self.batch = batch
        self.interval = interval
        self.error = None

    def run(self):
        c = self.client
        try:
            for k in range(0, self.n, self.batch):
                for i in range(k, min(self.n, k + self.batch)):
                    c.say(self.room, text_of(i), wait=False)
                c.drain(0)
                t.pause(self.interval)  # the sender's pace is part of the scenario
            deadline = time.monotonic() + 20
            while len(c.received(ACK)) < self.n:
                if time.monotonic() > deadline:
                    raise t.Timeout("feeder: %d of %d ACKs" % (len(c.received(ACK)), self.n))
                c.drain(0.05)
            errors = c.received(ERROR)
            if errors:
                raise AssertionError("feeder got errors: %r" % errors[:5])
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def finish(self, timeout=30):
        self.join(timeout)
        if self.is_alive():
            raise t.Timeout("feeder still sending after %ds" % timeout)
        if self.error is not None:
            raise self.error


def check_all_once(got, what):
    """got holds the N room messages, seq 1..N, in order, each once."""
    s = [m["seq"] for m in got]
    if s != list(range(1, N + 1)):
        dup = sorted({x for x in s if s.count(x) > 1})[:10]
        missing = sorted(set(range(1, N + 1)) - set(s))[:10]
        raise AssertionError("%s: %d messages, duplicates %r, missing %r, first out of order "
                             "at %r" % (what, len(s), dup, missing,
                                        next((i for i, x in enumerate(s) if x != i + 1), None)))
    t.assert_eq([m["text"] for m in got], [text_of(i) for i in range(N)], "%s: texts" % what)
    t.assert_eq({m["from"] for m in got}, {"feeder"}, "%s: senders" % what)
    ids = [m["id"] for m in got]
    if any(b <= a for a, b in zip(ids, ids[1:])):
        raise AssertionError("%s: event ids do not strictly increase" % what)


@t.server_args("--flood-rate", "0", "--history", "1000")
def test_long_poll_reader_gets_1000_messages_once_each_across_reconnects(srv):
    """A client long-polling with after=next receives 1,000 messages from
    a framed sender exactly once and in order, while its connection is cut
    six times: with a poll unanswered, with an answer half read, reset, and
    between polls, each time resuming with the same after."""
    feeder = srv.client("feeder")
    feeder.join("r")
    ann = h.Session(srv, "ann")
    j = ann.join("r")
    ann.api.close()
    f = Feeder(feeder, "r", N)
    f.start()
    plan = [(80, "unanswered"), (200, "half-read"), (330, "between"), (480, "reset"),
            (620, "unanswered"), (780, "half-read")]
    got, after, polls, cuts = [], j["cursor"], 0, 0
    conn = h.raw(srv, label="poller")
    deadline = time.monotonic() + 40

    def path(a):
        return h.API + "/rooms/r/messages" + h.query(after=a, wait=5)

    while len(got) < N:
        if time.monotonic() > deadline:
            raise t.Timeout("long-poll reader has %d of %d messages after 40 s" % (len(got), N))
        if plan and len(got) >= plan[0][0]:
            kind = plan.pop(0)[1]
            cuts += 1
            if kind == "between":
                conn.close()
            else:
                conn.request("GET", path(after), token=ann.token)
                if kind == "half-read":
                    conn.read_head(10)
                if kind == "reset":
                    conn.reset_close()
                else:
                    conn.close()
            conn = h.raw(srv, label="poller%d" % cuts)
            continue
        conn.request("GET", path(after), token=ann.token)
        body = h.ok(conn.read_response(10), 200, "long poll after %s" % after)
        polls += 1
        if body["truncated"] or body["epoch_changed"]:
            raise AssertionError("poll after %s: truncated %r, epoch_changed %r"
                                 % (after, body["truncated"], body["epoch_changed"]))
        if body["messages"]:
            t.assert_eq(body["next"], body["messages"][-1]["cursor"], "next")
        else:
            t.assert_eq(body["next"], after, "next of an empty answer")
        got += body["messages"]
        after = body["next"]
    f.finish()
    t.assert_eq(cuts, 6, "connections cut")
    check_all_once(got, "long-poll reader")
    rest = h.ok(conn.exchange("GET", h.API + "/rooms/r/messages" + h.query(after=after, wait=0.3),
                              token=ann.token), 200, "the last poll")
    t.assert_eq(rest["messages"], [], "messages after the 1,000th")
    print("    %d polls, %d cuts" % (polls, cuts))


@t.server_args("--flood-rate", "0", "--history", "1000")
def test_event_stream_reader_gets_1000_messages_once_each_across_reconnects(srv):
    """An event-stream reader receives 1,000 messages from a framed sender
    exactly once and in order, while its stream is closed or reset six
    times mid-stream and reopened with Last-Event-ID (or ?after=), never
    told of an overflow."""
    feeder = srv.client("feeder")
    feeder.join("r")
    bob = h.Session(srv, "bob")
    bob.join("r")
    bob.api.close()
    st = h.open_stream(srv, bob.token, label="sse0")
    f = Feeder(feeder, "r", N)
    f.start()
    plan = [(90, "close"), (210, "reset"), (340, "after"), (470, "reset"), (610, "close"),
            (760, "after")]
    got, last_id, cuts = [], None, 0
    deadline = time.monotonic() + 40
    while len(got) < N:
        if time.monotonic() > deadline:
            raise t.Timeout("stream reader has %d of %d messages after 40 s" % (len(got), N))
        ev = st.next_event(10)
        if ev.event == "overflow":
            raise AssertionError("overflow after event %s: %r" % (last_id, ev))
        if ev.id is not None:
            last_id = ev.id
        if ev.event == "message":
            d = ev.json()
            t.assert_eq(str(d["id"]), ev.id, "id line vs data id")
            t.assert_eq(d["room"], "r", "room")
            got.append(d)
        if plan and len(got) >= plan[0][0]:
            kind = plan.pop(0)[1]
            cuts += 1
            if kind == "reset":
                st.reset_close()
            else:
                st.close()
            if kind == "after":
                st = h.open_stream(srv, bob.token, after=last_id, label="sse%d" % cuts)
            else:
                st = h.open_stream(srv, bob.token, last_event_id=last_id, label="sse%d" % cuts)
    f.finish()
    t.assert_eq(cuts, 6, "streams cut")
    check_all_once(got, "stream reader")
    extra = [e for e in st.events_for(0.3) if e.event == "message"]
    t.assert_eq(extra, [], "messages after the 1,000th")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
