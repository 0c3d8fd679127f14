#!/usr/bin/env python3
"""Room topics (issue 15): a member sets a room's topic on any front end
and every member hears it on theirs; a joiner is shown it; it is kept with
the room, across a restart with --store.

- text: /topic shows, /topic TEXT sets, /topic -delete clears, /topic
  #ROOM names another room; the change line every member gets; the topic
  line of a join; the refusals (not a member, too long, a control
  character) in words;
- framed: TOPIC answered by ROOM_TOPIC to every member, the setter too; a
  JOIN answer carries ROOM_TOPIC flagged CURRENT between NAMES and the
  history; ERROR 208 / 207 / 206 / 205;
- HTTP: POST /rooms/{room}/topic, GET /rooms/{room}, the topic in a join's
  answer and as a "topic" event in the mailbox; WebSocket JSON "topic"
  request, event and joined.topic;
- IRC: TOPIC queries (331, 332/333), sets and clears, 332/333 on join,
  the topic in LIST, TOPICLEN in 005;
- a restart with --store keeps the topic; without one a topic lingers and
  goes with its room.

Run as

    python3 test_topic.py --chatd build/chatd [-k NAME]
"""

import os
import re
import sys
import tempfile

import chatdtest as t
from chatdtest import ERROR, PRESENCE, ROOM_TOPIC
from test_http import API, Session, collect_events, expect_error, ok, q
from test_irc import irc
from test_store import Chatd
from test_websocket_json import json_user
from textclient import CLOCK, text_client

SERVER_ARGS = ("--detect-window", "0.2")

TOPIC = "plans for friday: caf\u00e9 at 8"


def framed_topic(f, room, text, nick):
    """f is a ROOM_TOPIC change (not CURRENT) of room, by nick, to text."""
    t.assert_eq((f.type, f.flags, f.room, f.nick, f.text), (ROOM_TOPIC, 0, room, nick, text),
                "ROOM_TOPIC (type, flags, room, nick, text)")


# ---------------------------------------------------------------------------
# Text


def test_text_topic_sets_shows_clears_and_every_front_end_hears_it(srv):
    alice = text_client(srv, "alice")
    alice.join("Lobby")
    bob = srv.client("bob")
    bob.join("lobby")
    ws = json_user(srv, "wes")
    ws.join("lobby")
    ann = Session(srv, "ann")
    ann.join("lobby")

    alice.send_line("/topic")
    alice.expect_line(r"^\* #Lobby has no topic$")
    alice.send_line("/topic " + TOPIC)
    line = r"^%s \* alice set the topic of #Lobby: %s$" % (CLOCK, re.escape(TOPIC))
    alice.expect_line(line)
    framed_topic(bob.expect(ROOM_TOPIC), "Lobby", TOPIC, "alice")
    o = ws.expect("topic")
    t.assert_eq((o["room"], o["nick"], o["text"]), ("Lobby", "alice", TOPIC), "wes's topic event")
    events, _ = collect_events(ann, 0, lambda ev: any(e["type"] == "topic" for e in ev))
    e = [e for e in events if e["type"] == "topic"][0]
    t.assert_eq((e["room"], e["nick"], e["text"]), ("Lobby", "alice", TOPIC),
                "ann's topic event (mailbox)")

    alice.send_line("/topic")
    alice.expect_line(r"^\* topic of #Lobby: %s \(set by alice at %s\)$"
                      % (re.escape(TOPIC), CLOCK))
    # Another room's, by name, without being in it.
    carol = text_client(srv, "carol")
    carol.send_line("/topic #LOBBY")
    carol.expect_line(r"^\* topic of #Lobby: %s \(set by alice at %s\)$"
                      % (re.escape(TOPIC), CLOCK))
    carol.send_line("/topic #nowhere")
    carol.expect_line(r"^! nobody is in #nowhere$")
    carol.send_line("/topic #lobby hijack")
    carol.expect_line(r"^! you are not in #lobby$")
    carol.send_line("/topic hi")
    carol.expect_line(r"^! you are not in a room: /topic #ROOM$")

    # A joiner sees the topic after the members line, before the history.
    carol.send_line("/join lobby")
    carol.expect_line(r"^\* joined #Lobby, 5 members:")
    nxt = carol.next_line()
    if not re.match(r"^\* topic of #Lobby: %s \(set by alice at %s\)$"
                    % (re.escape(TOPIC), CLOCK), str(nxt)):
        raise AssertionError("the line after carol's join header: %r" % nxt)

    alice.send_line("/topic -delete")
    alice.expect_line(r"^%s \* alice cleared the topic of #Lobby$" % CLOCK)
    framed_topic(bob.expect(ROOM_TOPIC), "Lobby", "", "alice")
    carol.expect_line(r"^%s \* alice cleared the topic of #Lobby$" % CLOCK)
    alice.send_line("/topic")
    alice.expect_line(r"^\* #Lobby has no topic$")


def test_text_topic_refusals_are_explained_and_change_nothing(srv):
    alice = text_client(srv, "alice")
    alice.join("r")
    alice.send_line("/topic keep")
    alice.expect_line(r"^%s \* alice set the topic of #r: keep$" % CLOCK)
    alice.send_line("/topic " + "x" * (t.TOPIC_MAX + 1))
    alice.expect_line(r"^! a topic is at most 390 bytes$")
    alice.send_line("/topic tab\there")
    alice.expect_line(r"^! a topic is one line of UTF-8 text, without control characters$")
    alice.send_line("/topic " + "y" * t.TOPIC_MAX)
    alice.expect_line(r"^%s \* alice set the topic of #r: y{390}$" % CLOCK)
    alice.send_line("/help")
    alice.expect_line(r"^\*   /topic \[TEXT\]      show or set the room's topic")


# ---------------------------------------------------------------------------
# Framed


def test_framed_topic_reaches_every_member_and_a_joiner_gets_it_current(srv):
    a, b = t.room_pair(srv, "Room")
    carol = text_client(srv, "carol")
    carol.join("Room")
    t.assert_ack(a.say("room", "before the topic"), "alice's SAY")
    framed_topic(a.topic("ROOM", TOPIC), "Room", TOPIC, a.name)
    framed_topic(b.expect(ROOM_TOPIC), "Room", TOPIC, a.name)
    carol.expect_line(r"^%s \* %s set the topic of #Room: %s$"
                      % (CLOCK, a.name, re.escape(TOPIC)))
    j = srv.client("dave").join("room")
    if j.topic is None:
        raise AssertionError("dave's JOIN answer has no ROOM_TOPIC: %r" % j)
    t.assert_eq((j.topic.flags, j.topic.room, j.topic.nick, j.topic.text),
                (t.TOPIC_CURRENT, "Room", a.name, TOPIC), "ROOM_TOPIC of the JOIN answer")
    t.assert_eq([m.text for m in j.history], ["before the topic"], "the history after it")
    if not 0 < j.topic.time_ms <= j.end.epoch + 10 ** 13:
        raise AssertionError("ROOM_TOPIC time_ms %r" % j.topic.time_ms)
    # A room without a topic answers a JOIN without one.
    t.assert_eq(srv.client("erin").join("bare").topic, None, "JOIN of a room with no topic")


def test_framed_topic_errors(srv):
    a, b = t.room_pair(srv, "r")
    x = srv.client("xavier")
    t.assert_error(x.topic("r", "hi"), t.E_NOT_IN_ROOM, "TOPIC of a room xavier is not in",
                   req_type=t.TOPIC)
    t.assert_error(a.topic("r", "x" * (t.TOPIC_MAX + 1)), t.E_TEXT_TOO_LONG, "TOPIC of 391 bytes",
                   req_type=t.TOPIC)
    t.assert_error(a.topic("r", "two\nlines"), t.E_TEXT_INVALID, "TOPIC with a line break",
                   req_type=t.TOPIC)
    t.assert_error(a.topic("r", "\u0085"), t.E_TEXT_INVALID, "TOPIC with a C1 control",
                   req_type=t.TOPIC)
    t.assert_error(a.topic("no room", "hi"), t.E_ROOM_INVALID, "TOPIC of a bad room name",
                   req_type=t.TOPIC)
    a.send_raw(t.raw_frame(t.TOPIC, b"\x01r\x00\x03\xff\xfe\xfd"))
    t.assert_error(a.expect(ERROR), t.E_TEXT_INVALID, "TOPIC that is not UTF-8",
                   req_type=t.TOPIC)
    if [f for f in b.drain(0.2) if f.type == ROOM_TOPIC]:
        raise AssertionError("bob heard a ROOM_TOPIC of a refused TOPIC")
    # Malformed: trailing byte closes, as for every frame.
    x.send_raw(t.raw_frame(t.TOPIC, b"\x01r\x00\x00\x00"))
    t.expect_fatal(x, t.E_MALFORMED, "TOPIC with a trailing byte")
    t.assert_room_works(a, b, "r")


# ---------------------------------------------------------------------------
# HTTP and WebSocket


def test_http_post_topic_and_get_room_show_it(srv):
    ann = Session(srv, "ann")
    ann.join("Cafe")
    bob = srv.client("bob")
    bob.join("cafe")
    info = ok(ann.req("GET", "/rooms/cafe"), 200, "GET /rooms/cafe")
    t.assert_eq((info["name"], info["members"], info["topic"], info["last_seq"]),
                ("Cafe", 2, None, 0), "room info before a topic")
    t.assert_eq(info["cursor"], "%d-0" % info["epoch"], "room info cursor")
    body = ok(ann.req("POST", "/rooms/cafe/topic", json_body={"text": TOPIC}), 200,
              "POST topic")
    t.assert_eq((body["room"], body["topic"]["text"], body["topic"]["by"]),
                ("Cafe", TOPIC, "ann"), "POST topic answer")
    framed_topic(bob.expect(ROOM_TOPIC), "Cafe", TOPIC, "ann")
    public = ok(ann.api.get(API + "/rooms/CAFE"), 200, "GET /rooms/CAFE without a token")
    t.assert_eq((public["topic"]["text"], public["topic"]["by"]), (TOPIC, "ann"),
                "room info topic")
    if public["topic"]["time"] != body["topic"]["time"]:
        raise AssertionError("topic time %r != %r" % (public["topic"], body["topic"]))
    cy = Session(srv, "cy")
    t.assert_eq(cy.join("cafe")["topic"]["text"], TOPIC, "the topic in a join's answer")
    expect_error(Session(srv, "dee").req("POST", "/rooms/cafe/topic", json_body={"text": "x"}),
                 403, "not_in_room", "POST topic by a non-member")
    expect_error(ann.req("POST", "/rooms/cafe/topic", json_body={"text": "x" * 391}), 400,
                 "text_too_long", "POST topic of 391 bytes")
    expect_error(ann.req("POST", "/rooms/cafe/topic", json_body={"text": "a\rb"}), 400,
                 "text_invalid", "POST topic with a CR")
    expect_error(ann.req("POST", "/rooms/cafe/topic", json_body={"topic": "x"}), 400,
                 "bad_json", "POST topic without text")
    expect_error(ann.req("GET", "/rooms/nowhere"), 404, "no_such_room", "GET /rooms/nowhere")
    cleared = ok(ann.req("POST", "/rooms/cafe/topic", json_body={"text": ""}), 200, "clear")
    t.assert_eq(cleared["topic"], None, "the answer of a clear")
    framed_topic(bob.expect(ROOM_TOPIC), "Cafe", "", "ann")
    t.assert_eq(ok(ann.req("GET", "/rooms/cafe"), 200, "GET after clear")["topic"], None,
                "room info after a clear")


def test_websocket_topic_request_event_and_joined(srv):
    w = json_user(srv, "wes")
    w.join("Dock")
    text = text_client(srv, "tim")
    text.join("Dock")
    w.send(type="topic", room="dock", text=TOPIC)
    o = w.expect("topic")
    t.assert_eq((o["room"], o["nick"], o["text"]), ("Dock", "wes", TOPIC), "wes's own event")
    if not isinstance(o.get("id"), int) or not isinstance(o.get("time"), int):
        raise AssertionError("topic event without id or time: %r" % o)
    text.expect_line(r"^%s \* wes set the topic of #Dock: %s$" % (CLOCK, re.escape(TOPIC)))
    v = json_user(srv, "vic")
    j = v.join("dock")["joined"]
    t.assert_eq((j["topic"]["text"], j["topic"]["by"]), (TOPIC, "wes"), "joined.topic")
    t.assert_eq(json_user(srv, "una").join("empty")["joined"]["topic"], None,
                "joined.topic of a room with none")
    w.send(type="topic", room="dock", text="x" * 391)
    e = w.expect("error")
    t.assert_eq((e["code"], e["request"]), ("text_too_long", "topic"), "error of a long topic")
    w.send(type="topic", room="dock")
    t.assert_eq(w.expect("error")["code"], "bad_json", "topic without text")
    v.send(type="topic", room="elsewhere", text="hi")
    t.assert_eq(v.expect("error")["code"], "not_in_room", "topic of a room vic is not in")


def test_irc_topic_query_set_clear_and_seen_on_every_front_end(srv):
    """TOPIC over IRC: 331 for none, a member sets it and everyone hears
    it (the IRC setter its own TOPIC, framed ROOM_TOPIC, telnet the
    line), 332/333 on query, on join and in LIST; a long one is cut to
    TOPICLEN between characters; a non-member gets 442; formatting codes
    pass, other controls FAIL."""
    i = irc(srv, "ivy", cap=True)
    isup = " ".join(ln.raw for ln in i.all if ln.cmd == "005")
    if "TOPICLEN=%d" % t.TOPIC_MAX not in isup.split():
        raise AssertionError("005 lacks TOPICLEN: %s" % isup)
    i.join("#Pier")
    a = srv.client("alice")
    a.join("pier")
    tom = text_client(srv, "tom")
    tom.join("Pier")
    i.send("TOPIC #pier")
    t.assert_eq(i.expect("331").params[1:], ["#Pier", "No topic is set"], "331")
    i.send("TOPIC #pier :" + TOPIC)
    ln = i.expect("TOPIC")
    t.assert_eq((ln.nick, ln.params), ("ivy", ["#Pier", TOPIC]), "the setter's TOPIC")
    f = a.expect(ROOM_TOPIC)
    t.assert_eq((f.nick, f.text), ("ivy", TOPIC), "framed ROOM_TOPIC from IRC")
    tom.expect_line(r"^%s \* ivy set the topic of #Pier: %s$" % (CLOCK, re.escape(TOPIC)))
    # From a framed member to the IRC one.
    framed_topic(a.topic("pier", "from framed"), "Pier", "from framed", "alice")
    ln = i.expect("TOPIC")
    t.assert_eq((ln.nick, ln.params), ("alice", ["#Pier", "from framed"]), "framed -> IRC")
    i.send("TOPIC #pier")
    t.assert_eq(i.expect("332").params[1:], ["#Pier", "from framed"], "332")
    w = i.expect("333").params
    t.assert_eq(w[1:3], ["#Pier", "alice!alice@chatd"], "333 setter")
    if not w[3].isdigit():
        raise AssertionError("333 time %r" % w)
    # A joiner: JOIN, 332, 333, then NAMES.
    j = irc(srv, "jay")
    j.send("JOIN #pier")
    j.expect("JOIN")
    t.assert_eq(j.expect("332").params[-1], "from framed", "332 on join")
    j.expect("333")
    j.expect("366")
    order = [ln.cmd for ln in j.all if ln.cmd in ("JOIN", "332", "333", "353", "366")]
    t.assert_eq(order, ["JOIN", "332", "333", "353", "366"], "join burst order")
    j.send("LIST #pier")
    t.assert_eq(j.expect("322").params[-1], "from framed", "322 shows the topic")
    # Cut to TOPICLEN between characters: 200 two-byte letters are 400 bytes.
    i.send("TOPIC #pier :" + "\u00e9" * 200)
    t.assert_eq(i.expect("TOPIC").params[-1], "\u00e9" * (t.TOPIC_MAX // 2), "cut topic")
    # IRC formatting passes; other controls are refused.
    fmt = "\x02bold\x02 \x0304red\x03"
    i.send("TOPIC #pier :" + fmt)
    t.assert_eq(i.expect("TOPIC").params[-1], fmt, "formatting kept for IRC")
    tom.expect_line(r"^%s \* ivy set the topic of #Pier: bold red$" % CLOCK)
    i.send("TOPIC #pier :bell\x07")
    t.assert_eq(i.expect("FAIL").params[:2], ["TOPIC", "INVALID_TEXT"], "a BEL refused")
    # Cleared: an empty TOPIC.
    i.send("TOPIC #pier :")
    t.assert_eq(i.expect("TOPIC").params, ["#Pier", ""], "cleared")
    i.send("TOPIC #pier")
    i.expect("331")
    # Not a member; no such channel.
    j.send("PART #pier")
    j.expect("PART")
    j.send("TOPIC #pier :mine")
    t.assert_eq(j.expect("442").params[1], "#pier", "442 for a non-member")
    j.send("TOPIC #nowhere")
    j.expect("403")


# ---------------------------------------------------------------------------
# Kept with the room


def test_topic_lingers_with_its_room_without_a_store(srv):
    a = srv.client("alice")
    a.join("r")
    framed_topic(a.topic("r", "stays"), "r", "stays", "alice")
    a.part("r")
    j = srv.client("bob").join("r")
    t.assert_eq((j.topic.text, j.topic.nick), ("stays", "alice"), "topic after the room emptied")


def test_topic_survives_a_restart_with_a_store(srv):
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        with Chatd(srv, store) as s:
            a = s.client("alice")
            a.join("Kept")
            t.assert_ack(a.say("kept", "one"), "SAY")
            f = a.topic("kept", TOPIC)
            framed_topic(f, "Kept", TOPIC, "alice")
            a.join("solo")
            framed_topic(a.topic("solo", "no messages here"), "solo", "no messages here",
                         "alice")
            a.join("cleared")
            a.topic("cleared", "soon gone")
            framed_topic(a.topic("cleared", ""), "cleared", "", "alice")
        with Chatd(srv, store) as s:
            b = s.client("bob")
            j = b.join("KEPT")
            t.assert_eq((j.topic.text, j.topic.nick, j.topic.time_ms),
                        (TOPIC, "alice", f.time_ms), "Kept's topic after the restart")
            t.assert_eq([m.text for m in j.history], ["one"], "Kept's history")
            j = b.join("solo")
            t.assert_eq((j.topic.text, j.last_seq), ("no messages here", 0),
                        "solo's topic and last_seq after the restart")
            t.assert_eq(b.join("cleared").topic, None, "a cleared topic after the restart")
            # Read back for HTTP too, a room only the store has.
            a2 = Session(s, "ann")
            info = ok(a2.api.get(API + "/rooms/%s" % q("kept"), token=a2.token), 200,
                      "GET /rooms/kept")
            t.assert_eq(info["topic"]["text"], TOPIC, "GET /rooms/kept after the restart")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
