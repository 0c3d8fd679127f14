#!/usr/bin/env python3
"""Two chatd nodes sharing rooms through one redis-server (Debian's, on a
free loopback port, started and stopped here by its pid): a room spans
the nodes, each message has one sequence number wherever it is read, the
history a join replays and a cursor resumes from is the same on either
node, and while Redis is down a message is refused with "cluster
unavailable" in each front end and nothing acknowledged is lost or
delivered twice once it is back (appendonly, fsync always).  Skipped when
redis-server is not installed."""

import signal
import socket
import sys
import time

import chatdtest as t
from test_cluster_redis import Redis
from textclient import TextClient

TIME_LIMIT = 90


def node(srv, redis, name, *extra):
    n = t.Server(srv.path, "--cluster", redis.url, "--node-name", name, *extra)
    n.start()
    # Its links come up in the loop, just after it listens.
    n.wait_for_line(r"cluster: shard 0 .* up", 10)
    return n


def test_a_room_spans_two_nodes_with_one_sequence(srv):
    with Redis() as r, node(srv, r, "a") as a, node(srv, r, "b") as b:
        alice = a.client("alice")
        bob = b.client("bob")
        ja = alice.join("lobby")
        jb = bob.join("lobby")
        t.assert_eq((ja.ok, jb.ok), (True, True), "joins")
        t.assert_eq(ja.epoch, jb.epoch, "one epoch on both nodes")
        seqs = []
        for i in range(20):
            sender, receiver = (alice, bob) if i % 2 == 0 else (bob, alice)
            ack = sender.say("lobby", "m%d" % i)
            t.assert_eq(ack.type, t.ACK, "ACK of m%d: %r" % (i, ack))
            m = receiver.expect(t.MESSAGE, pred=lambda f, i=i: f.text == "m%d" % i)
            t.assert_eq(m.seq, ack.seq, "the same seq on the other node")
            seqs.append(ack.seq)
        t.assert_eq(seqs, list(range(1, 21)), "one sequence for the room")
        # Neither heard its own messages back.
        for c, mine in ((alice, 0), (bob, 1)):
            echoed = [f.text for f in c.received(t.MESSAGE)
                      if int(f.text[1:]) % 2 == mine]
            t.assert_eq(echoed, [], "%s's own messages echoed" % c.label)
        # A burst pipelined by one sender arrives in order, once each.
        refs = [alice.say("lobby", "p%d" % i, wait=False) for i in range(200)]
        acks = [alice.expect(t.ACK, pred=lambda f, ref=ref: f.ref == ref) for ref in refs]
        t.assert_eq([f.seq for f in acks], list(range(21, 221)), "pipelined ACKs in order")
        got = [bob.expect(t.MESSAGE, timeout=10) for _ in range(200)]
        t.assert_eq([f.seq for f in got], list(range(21, 221)),
                    "on b in order, no loss, no duplicate")
        t.assert_eq([f.text for f in got], ["p%d" % i for i in range(200)], "texts")
        # The backplane's figures, on /metrics.
        m = metrics(a)
        t.assert_eq((m["chatd_cluster_shards"], m["chatd_cluster_shards_up"]), (1, 1), "shards")
        t.assert_eq(m["chatd_cluster_published_total"], 210, "a published m0, m2.. and p0..")
        t.assert_eq(m["chatd_cluster_received_total"], 220, "a heard every message")
        t.assert_eq(m["chatd_cluster_rooms"], 1, "rooms followed")
        if not 0 < m["chatd_cluster_round_trip_seconds_max"] < 3:
            raise AssertionError("round trip max: %r" % m)


def http_exchange(n, request):
    """One HTTP/1.0 request to n; the status code and the body."""
    with socket.create_connection(("127.0.0.1", n.port), timeout=5) as s:
        s.sendall(request.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


def metrics(n):
    """The numbers of n's /metrics, by name (unlabelled rows only)."""
    out = {}
    for line in http_exchange(n, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")[1].splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()
            out[name] = float(value)
    return out


def test_join_on_another_node_replays_the_same_history(srv):
    with Redis() as r, node(srv, r, "a") as a, node(srv, r, "b") as b:
        alice = a.client("alice")
        t.assert_eq(alice.join("hall").ok, True, "join")
        for i in range(5):
            alice.say("hall", "h%d" % i)
        carol = b.client("carol")
        jc = carol.join("hall")
        t.assert_eq([f.text for f in jc.history], ["h%d" % i for i in range(5)],
                    "b replays what a wrote")
        t.assert_eq([f.seq for f in jc.history], [1, 2, 3, 4, 5], "with a's numbers")
        dave = a.client("dave")
        jd = dave.join("hall")
        t.assert_eq([(f.seq, f.text) for f in jd.history],
                    [(f.seq, f.text) for f in jc.history], "the same on both nodes")
        t.assert_eq(jd.epoch, jc.epoch, "epoch")


def test_cursor_resumes_on_the_other_node_without_gap_or_duplicate(srv):
    with Redis() as r, node(srv, r, "a") as a, node(srv, r, "b") as b:
        alice = a.client("alice")
        bob = b.client("bob")
        alice.join("den")
        jb = bob.join("den")
        for i in range(3):
            alice.say("den", "before%d" % i)
        last = bob.expect(t.MESSAGE, pred=lambda f: f.text == "before2")
        epoch = jb.epoch
        bob.close()
        for i in range(4):
            alice.say("den", "missed%d" % i)
        # Back, on the other node, with the cursor it had.
        bob2 = a.client("bob2")
        j = bob2.join("den", epoch=epoch, since=last.seq)
        t.assert_eq([f.text for f in j.history], ["missed%d" % i for i in range(4)],
                    "exactly what it missed")
        t.assert_eq(j.flags, 0, "no gap flagged")


def test_a_cursor_older_than_the_ring_resumes_from_the_stream(srv):
    with Redis() as r, node(srv, r, "a", "--history", "10") as a, \
            node(srv, r, "b", "--history", "10") as b:
        alice = a.client("alice")
        alice.join("deep")
        bob = b.client("bob")
        jb = bob.join("deep")
        alice.say("deep", "seen")
        last = bob.expect(t.MESSAGE, pred=lambda f: f.text == "seen")
        bob.close()
        # Five rings' worth while bob is away.
        for i in range(50):
            alice.say("deep", "missed%d" % i, wait=False)
        alice.expect(t.ACK, pred=lambda f: f.seq == 51, timeout=10)
        for n, where in ((b, "b"), (a, "a")):
            c = n.client("bob" + where)
            j = c.join("deep", epoch=jb.epoch, since=last.seq)
            t.assert_eq([f.text for f in j.history], ["missed%d" % i for i in range(50)],
                        "on %s: everything it missed, from the stream and the ring" % where)
            t.assert_eq(j.seqs, list(range(2, 52)), "seqs on %s" % where)
            t.assert_eq(j.flags, 0, "no gap flagged on %s" % where)
        # Older than the stream keeps: flagged, never a gap inside.
        j = a.client("carol").join("deep", epoch=jb.epoch + 1, since=1)
        t.assert_eq(j.flags & t.HIST_EPOCH_CHANGED, t.HIST_EPOCH_CHANGED, "another epoch")


def test_cluster_unavailable_then_catch_up_with_nothing_lost_or_twice(srv):
    with Redis(appendonly=True) as r, node(srv, r, "a") as a, node(srv, r, "b") as b:
        alice = a.client("alice")
        bob = b.client("bob")
        alice.join("ops")
        bob.join("ops")
        for i in range(3):
            t.assert_eq(alice.say("ops", "up%d" % i).type, t.ACK, "say while up")
        for i in range(3):
            bob.expect(t.MESSAGE, pred=lambda f, i=i: f.text == "up%d" % i)
        text = TextClient(a.port, "tina")
        a.clients.append(text)
        text.send_line("tina")
        text.expect_line(r"^\* hello tina\b")
        text.send_line("/join ops")
        text.expect_line(r"#ops")
        r.kill()
        # Every front end says so while the shard is down.
        def refused():
            # A say sent just before Redis died waits for the catch-up
            # that would tell whether it went, CORE_BP_LOST_MS at most.
            f = alice.say("ops", "down?", timeout=10)
            return f if f.type == t.ERROR else None
        err = t.wait_until(refused, 10, interval=0.05, what="a refusal while Redis is down")
        t.assert_eq(err.code, 216, "CLUSTER_UNAVAILABLE: %r" % err)
        if "cluster unavailable" not in err.text:
            raise AssertionError("the error's words: %r" % err.text)
        text.send_line("hello")
        text.expect_line(r"^! cluster unavailable: #ops")
        r.start()
        # Back: messages go through again, and both nodes agree.
        def accepted():
            f = alice.say("ops", "back")
            return f if f.type == t.ACK else None
        ack = t.wait_until(accepted, 15, interval=0.1, what="an ACK once Redis is back")
        m = bob.expect(t.MESSAGE, pred=lambda f: f.text == "back", timeout=10)
        t.assert_eq(m.seq, ack.seq, "one sequence after the restart")
        seqs = [f.seq for f in bob.received(t.MESSAGE)]
        t.assert_eq(seqs, sorted(set(seqs)), "no duplicate, in order: %r" % seqs)
        acked = [f.seq for f in alice.received(t.ACK)]
        for s in acked:
            if s not in seqs:
                raise AssertionError("ACKed seq %d never reached b: %r" % (s, seqs))


def test_a_nick_is_unique_across_nodes_and_released_when_let_go(srv):
    with Redis() as r, node(srv, r, "a") as a, node(srv, r, "b") as b:
        alice = a.client("Alice")
        other = b.client()
        f = other.hello("alice")
        t.assert_eq((f.type, f.code), (t.ERROR, t.E_NICK_TAKEN), "alice held on a: %r" % f)
        t.assert_eq(other.hello("carol").type, t.WELCOME, "a free nick")
        f = other.nick("ALICE")
        t.assert_eq((f.type, f.code), (t.ERROR, t.E_NICK_TAKEN), "NICK too: %r" % f)
        # A rename lets the old name go; a quit too.
        t.assert_eq(alice.nick("alicia").type, t.PRESENCE, "alice renamed on a")
        t.wait_until(lambda: other.nick("alice").type == t.PRESENCE, 5, interval=0.05,
                     what="alice free on b once a let it go")
        third = a.client()
        f = third.hello("alice")
        t.assert_eq((f.type, f.code), (t.ERROR, t.E_NICK_TAKEN), "now b holds it: %r" % f)
        other.quit()
        t.wait_until(lambda: third.hello("alice").type == t.WELCOME, 5, interval=0.05,
                     what="alice free on a once b's user quit")


def test_nicks_of_a_stopped_node_are_free_at_once_and_of_a_dead_one_within_10s(srv):
    with Redis() as r, node(srv, r, "b") as b:
        a = node(srv, r, "a")
        a.client("alice")
        c = node(srv, r, "c")
        c.client("carol")
        a.stop()  # SIGTERM: released before it exits
        t.assert_eq(b.client().hello("alice").type, t.WELCOME, "alice free at once")
        c.stop(signal.SIGKILL)
        t0 = time.monotonic()
        probe = b.client()
        t.wait_until(lambda: probe.hello("carol").type == t.WELCOME, 12, interval=0.2,
                     what="carol free once c's lease ran out")
        if time.monotonic() - t0 > 10.5:
            raise AssertionError("carol took %.1f s to come free" % (time.monotonic() - t0))


def http_post(n, path, body):
    """POST a JSON body to n; the status code and the response body."""
    return http_exchange(n, "POST %s HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: %d\r\n\r\n%s" % (path, len(body), body))


def test_http_sessions_claim_their_nick_across_nodes(srv):
    with Redis() as r, node(srv, r, "a") as a, node(srv, r, "b") as b:
        b.client("bob")
        status, body = http_post(a, "/api/v1/session", '{"nick":"alice"}')
        t.assert_eq(status, 201, "a session on a: %s" % body)
        if '"token"' not in body:
            raise AssertionError("no token: %s" % body)
        status, body = http_post(a, "/api/v1/session", '{"nick":"bob"}')
        t.assert_eq(status, 409, "bob is b's: %s" % body)
        t.assert_eq(a.client().hello("alice").code, t.E_NICK_TAKEN, "alice is the session's")


def test_direct_messages_cross_nodes(srv):
    with Redis() as r, node(srv, r, "a") as a, node(srv, r, "b") as b:
        alice = a.client("alice")
        bob = b.client("bob")
        ack = alice.msg("BOB", "psst")
        t.assert_eq(ack.type, t.ACK, "ACK of a direct message to b: %r" % ack)
        m = bob.expect(t.MESSAGE)
        t.assert_eq((m.flags & t.MSG_DIRECT, m["from"], m.text), (t.MSG_DIRECT, "alice", "psst"),
                    "bob's direct message")
        t.assert_eq(bob.msg("alice", "hi back").type, t.ACK, "and back")
        t.assert_eq(alice.expect(t.MESSAGE).text, "hi back", "alice's")
        f = alice.msg("nobody", "hello?")
        t.assert_eq((f.type, f.code), (t.ERROR, t.E_NO_SUCH_USER), "no such user: %r" % f)


def redis_command(redis, line):
    """One inline command to redis; its first reply line."""
    with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as s:
        s.sendall(line.encode() + b"\r\n")
        return s.recv(4096).decode()


def test_a_node_that_lost_its_channels_catches_up_in_order(srv):
    with Redis() as r, node(srv, r, "a") as a, node(srv, r, "b") as b:
        alice = a.client("alice")
        bob = b.client("bob")
        alice.join("den")
        bob.join("den")
        alice.say("den", "first")
        bob.expect(t.MESSAGE, pred=lambda f: f.text == "first")
        # Every subscriber link is cut; alice goes on meanwhile, and b
        # hears those messages only from the stream once resubscribed.
        if not redis_command(r, "CLIENT KILL TYPE pubsub").startswith(":"):
            raise AssertionError("CLIENT KILL refused")
        acks = [alice.say("den", "gap%d" % i) for i in range(50)]
        t.assert_eq({f.type for f in acks}, {t.ACK}, "a's messages taken")
        got = [bob.expect(t.MESSAGE, timeout=10) for _ in range(50)]
        t.assert_eq([f.text for f in got], ["gap%d" % i for i in range(50)],
                    "b caught up, in order, once each")
        t.assert_eq([f.seq for f in got], [f.seq for f in acks], "with a's numbers")
        alice.say("den", "after")
        t.assert_eq(bob.expect(t.MESSAGE).text, "after", "live again, nothing twice")


def test_a_room_redis_lost_starts_over_and_reaches_everyone(srv):
    with Redis() as r, node(srv, r, "a") as a, node(srv, r, "b") as b:
        alice, carol = a.client("alice"), a.client("carol")
        bob = b.client("bob")
        for c in (alice, carol, bob):
            t.assert_eq(c.join("small").ok, True, "join")
        for i in range(3):
            alice.say("small", "old%d" % i)
        for c in (carol, bob):
            t.assert_eq([c.expect(t.MESSAGE).text for _ in range(3)], ["old0", "old1", "old2"],
                        "%s before" % c.label)
        if not redis_command(r, "FLUSHALL").startswith("+OK"):
            raise AssertionError("FLUSHALL refused")
        ack = alice.say("small", "new", timeout=10)
        t.assert_eq(ack.type, t.ACK, "the first message of the room's new epoch")
        for c in (carol, bob):
            m = c.expect(t.MESSAGE, timeout=10)
            t.assert_eq((m.text, m.seq), ("new", ack.seq), "%s hears it" % c.label)
        # A join now replays the new epoch only.
        dave = b.client("dave")
        t.assert_eq([f.text for f in dave.join("small").history], ["new"], "replay")


def test_a_room_freed_after_its_linger_is_left_and_can_be_joined_again(srv):
    with Redis() as r, node(srv, r, "a", "--room-linger", "1", "--room-linger-solo", "1") as a, \
            node(srv, r, "b") as b:
        alice = a.client("alice")
        bob = b.client("bob")
        for i in range(3):
            t.assert_eq(alice.join("quiet").ok, True, "join %d" % i)
            t.assert_eq(bob.join("quiet").ok, True, "bob joins")
            t.assert_eq(bob.say("quiet", "m%d" % i).type, t.ACK, "bob says m%d" % i)
            alice.expect(t.MESSAGE, pred=lambda f, i=i: f.text == "m%d" % i)
            bob.part("quiet")
            presence(alice, "bob", t.P_PART)
            alice.part("quiet")
            # Freed after its linger, with no member left on either node:
            # its channel is left.
            t.wait_until(lambda: metrics(a)["chatd_cluster_rooms"] == 0, 5, interval=0.01,
                         what="quiet freed and unfollowed after its linger")
            # Joined again at once: the new subscription is live.
        t.assert_eq(alice.join("quiet").ok, True, "join again")
        t.assert_eq(bob.join("quiet").ok, True, "bob joins")
        t.assert_eq(bob.say("quiet", "last").type, t.ACK, "bob says last")
        m = alice.expect(t.MESSAGE, pred=lambda f: f.text == "last")
        t.assert_eq(m.seq, 4, "seq of last")
        # A room whose state Redis refuses (a key of another type): the
        # join fails, and the room is left once freed all the same.
        redis_command(r, "HSET chatd:room:{bad}:seq a b")
        res = alice.join("bad", timeout=5)
        t.assert_eq(res.ok, False, "a join Redis cannot serve: %r" % res)
        t.wait_until(lambda: metrics(a)["chatd_cluster_rooms"] == 1, 5, interval=0.05,
                     what="bad left after its linger (quiet still followed)")


def test_a_join_while_redis_is_down_is_refused(srv):
    with Redis() as r, node(srv, r, "a") as a:
        alice = a.client("alice")
        r.kill()
        def refused():
            res = alice.join("r%d" % time.monotonic_ns())
            return res.error if not res.ok else None
        err = t.wait_until(refused, 10, interval=0.05, what="a refused join")
        t.assert_eq(err.code, 216, "CLUSTER_UNAVAILABLE: %r" % err)
        r.start()


def presence(c, nick, kind, timeout=5):
    """The next PRESENCE of kind for nick that c hears."""
    return c.expect(t.PRESENCE, timeout=timeout, pred=lambda f: f.nick == nick and f.kind == kind)


def test_members_and_users_of_other_nodes_are_seen_and_announced(srv):
    with Redis() as r, node(srv, r, "a") as a, node(srv, r, "b") as b:
        alice = a.client("alice")
        alice.join("lobby")
        bob = b.client("bob")
        carol = b.client("carol")  # in no room
        res = bob.join("lobby")
        t.assert_eq(sorted(res.names), ["alice", "bob"], "b's join reply names a's member")
        p = presence(alice, "bob", t.P_JOIN)
        t.assert_eq(p.room, "lobby", "a hears of b's join: %r" % p)
        t.assert_eq(sorted(alice.who("lobby")), ["alice", "bob"], "WHO on a")
        t.assert_eq(sorted(bob.who("lobby")), ["alice", "bob"], "WHO on b")
        t.wait_until(lambda: sorted(alice.users()) == ["alice", "bob", "carol"], 5,
                     interval=0.05, what="a's USERS naming b's users")
        t.assert_eq(dict(alice.list()).get("lobby"), 2, "LIST on a counts both members")
        m = metrics(a)
        t.assert_eq((m["chatd_sessions"], m["chatd_cluster_remote_users"],
                     m["chatd_cluster_nodes"]), (1, 2, 1), "a's metrics: its own, b's, nodes")
        # What b's users do, a's members hear, in order.
        t.assert_eq(carol.join("lobby").ok, True, "carol joins")
        presence(alice, "carol", t.P_JOIN)
        t.assert_eq(bob.nick("robert").type, t.PRESENCE, "bob renamed on b")
        p = presence(alice, "bob", t.P_NICK)
        t.assert_eq(p.new_nick, "robert", "the new name on a: %r" % p)
        bob.part("lobby")
        presence(alice, "robert", t.P_PART)
        carol.quit()
        p = presence(alice, "carol", t.P_QUIT)
        t.assert_eq(sorted(alice.who("lobby")), ["alice"], "WHO on a after they left")
        t.assert_eq(sorted(alice.users()), ["alice", "robert"], "USERS on a")
        # A nick a ghost holds is refused on a, and free once let go.
        f = a.client().hello("robert")
        t.assert_eq((f.type, f.code), (t.ERROR, t.E_NICK_TAKEN), "robert is b's: %r" % f)
        # And the other way: a's user joins a room b's user is in.
        t.assert_eq(bob.join("den").ok, True, "robert joins den")
        res = alice.join("den")
        t.assert_eq(sorted(res.names), ["alice", "robert"], "a's join reply names b's member")
        presence(bob, "alice", t.P_JOIN)


def alice_sees_bob(srv, r, a):
    """Node b, started here, with bob in a room with a's alice; b and alice."""
    b = node(srv, r, "b")
    alice = a.client("alice")
    alice.join("lobby")
    bob = b.client("bob")
    bob.join("lobby")
    presence(alice, "bob", t.P_JOIN)
    return b, alice


def test_a_killed_node_is_lost_and_its_users_dropped_within_10s(srv):
    with Redis() as r, node(srv, r, "a") as a:
        b, alice = alice_sees_bob(srv, r, a)
        b.stop(signal.SIGKILL)
        t0 = time.monotonic()
        p = presence(alice, "bob", t.P_DROP, timeout=12)
        took = time.monotonic() - t0
        t.assert_eq((p.room, p.reason), ("lobby", t.R_NODE_LOST), "dropped: node lost: %r" % p)
        if took > 10:
            raise AssertionError("node lost announced after %.1f s" % took)
        print("    node lost announced %.1f s after kill -9" % took)
        t.assert_eq(alice.who("lobby"), ["alice"], "WHO after the loss")
        m = metrics(a)
        t.assert_eq((m["chatd_cluster_nodes_lost_total"], m["chatd_cluster_nodes"],
                     m["chatd_cluster_remote_users"]), (1, 0, 0), "a's figures after the loss")
        probe = a.client()
        t.wait_until(lambda: probe.hello("bob").type == t.WELCOME, 12 - took, interval=0.2,
                     what="bob's nick free once its lease ran out")
        a.wait_for_line(r"node b is lost", 2)


def test_a_stopped_node_announces_its_users_gone_at_once(srv):
    with Redis() as r, node(srv, r, "a") as a:
        b, alice = alice_sees_bob(srv, r, a)
        t0 = time.monotonic()
        b.stop()  # SIGTERM
        p = presence(alice, "bob", t.P_DROP, timeout=5)
        t.assert_eq(p.reason, t.R_SHUTDOWN, "dropped: server shutdown: %r" % p)
        if time.monotonic() - t0 > 3:
            raise AssertionError("took %.1f s" % (time.monotonic() - t0))
        t.assert_eq(alice.users(), ["alice"], "USERS after b stopped")


def test_presence_is_whole_again_after_redis_lost_it(srv):
    with Redis() as r, node(srv, r, "a") as a, node(srv, r, "b") as b:
        alice = a.client("alice")
        alice.join("lobby")
        bob = b.client("bob")
        bob.join("lobby")
        presence(alice, "bob", t.P_JOIN)
        r.kill()
        r.start()  # empty: no persistence
        # Each node writes its users again; neither is taken for lost.
        t.wait_until(lambda: "lobby" in redis_command(r, "HGET chatd:pres:{b} bob"), 10,
                     interval=0.1, what="b's presence written again")
        carol = b.client("carol")
        t.assert_eq(carol.join("lobby").ok, True, "a join once Redis is back")
        presence(alice, "carol", t.P_JOIN, timeout=10)
        t.assert_eq(sorted(alice.who("lobby")), ["alice", "bob", "carol"], "WHO on a")
        left = [f for f in alice.received(t.PRESENCE) if f.kind in (t.P_DROP, t.P_QUIT)]
        t.assert_eq(left, [], "no one announced gone")


def test_an_irc_user_sees_the_other_nodes_users_come_and_go(srv):
    from test_irc import irc
    with Redis() as r, node(srv, r, "a") as a:
        b = node(srv, r, "b")
        ian = irc(a, "ian")
        ian.join("#lobby")
        bob = b.client("bob")
        bob.join("lobby")
        ian.expect("JOIN", lambda ln: ln.nick == "bob")
        ian.inbox = []  # its own JOIN's NAMES, from before bob
        ian.send("NAMES #lobby")
        names = ian.expect("353").params[-1].split()
        t.assert_eq(sorted(n.lstrip("@+") for n in names), ["bob", "ian"], "NAMES on a")
        ian.send("WHO #lobby")
        who = [ian.expect("352")]
        who.append(ian.expect("352"))
        t.assert_eq(sorted(ln.params[5] for ln in who), ["bob", "ian"], "WHO on a")
        b.stop()  # SIGTERM
        q = ian.expect("QUIT", lambda ln: ln.nick == "bob")
        if "shutdown" not in q.params[-1].lower():
            raise AssertionError("bob's QUIT: %r" % q)


def test_two_nodes_on_one_port_are_one_server(srv):
    from test_reuseport import registered, server_on
    with Redis() as r, node(srv, r, "a", "--reuseport") as a:
        with server_on(srv.path, a.port, "--reuseport", "--cluster", r.url,
                       "--node-name", "b") as b:
            b.wait_for_line(r"cluster: shard 0 .* up", 10)
            nicks = ["u%02d" % i for i in range(40)]  # all on one node: 2 in 2^40
            clients = [t.Client(a.port, n, label=n) for n in nicks]
            a.clients.extend(clients)
            for c in clients:
                t.assert_eq(c.join("lobby").ok, True, "%s joins" % c.name)
            # Whichever node each reached, each sees everyone.
            for c in (clients[0], clients[-1]):
                t.wait_until(lambda c=c: sorted(c.users()) == nicks, 10, interval=0.1,
                             what="%s's USERS naming all 40" % c.name)
                t.wait_until(lambda c=c: sorted(c.who("lobby")) == nicks, 10, interval=0.1,
                             what="%s's WHO naming all 40" % c.name)
            ack = clients[0].say("lobby", "hello all")
            t.assert_eq(ack.type, t.ACK, "say")
            for c in clients[1:]:
                m = c.expect(t.MESSAGE, pred=lambda f: f.text == "hello all")
                t.assert_eq(m.seq, ack.seq, "%s: one sequence" % c.name)
            t.wait_until(lambda: len(registered(a)) + len(registered(b)) == 40, 5,
                         what="every registration logged")
            here = (len(registered(a)), len(registered(b)))
            if 0 in here:
                raise AssertionError("all clients on one node: %r" % (here,))
            print("    clients per node: %d and %d" % here)


def test_ready_only_once_its_redis_links_are_up_and_its_presence_written(srv):
    from test_service import Daemon, Notify, require_libsystemd
    require_libsystemd(srv)
    with Redis() as r, Notify() as n:
        with Daemon(srv.path, "--cluster", r.url, "--node-name", "a",
                    env={"NOTIFY_SOCKET": n.path}) as a:
            n.expect(r"^READY=1$", 15, "start")
            # Right now: the other nodes can know of it, and it serves.
            if redis_command(r, "EXISTS chatd:pres:{a}").strip() != ":1":
                raise AssertionError("READY=1 before a's presence was written")
            a.wait_for_line(r"cluster: shard 0 .* up", 1)
            alice = a.client("alice")
            t.assert_eq(alice.join("lobby").ok, True, "a join right after READY=1")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
