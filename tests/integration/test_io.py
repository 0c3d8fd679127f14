#!/usr/bin/env python3
"""The I/O layer: fan-out is written with one write call per connection
per loop turn, not one per message, and the listener survives running out
of file descriptors without spinning, and recovers when they come back."""

import os
import subprocess
import sys
import time

import chatdtest as t
from chatdtest import ACK, ERROR, MESSAGE, SAY, WELCOME

SERVER_ARGS = ("--flood-rate", "0", "--log-level", "notice")


def io_counter(pid, key):
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            k, v = line.split(":")
            if k == key:
                return int(v)
    raise AssertionError("no %s in /proc/%d/io" % (key, pid))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_fanout_burst_is_written_with_one_writev_per_reader(srv):
    n = 200
    a, b, c = srv.client("alice"), srv.client("bob"), srv.client("carol")
    for x in (a, b, c):
        x.join("r")
    a.drain(0.05)
    b.drain(0.05)
    before = io_counter(srv.pid, "syscw")
    # 200 SAYs in one send: one read on the server, 200 fan-outs to each
    # of bob and carol and 200 ACKs to alice.
    a.send_raw(b"".join(t.encode(SAY, ref=i + 1, room="r", text="burst %d" % i)
                        for i in range(n)))
    acks = [a.expect(ACK, timeout=5) for _ in range(n)]
    got_b = [b.expect(MESSAGE, timeout=5) for _ in range(n)]
    got_c = [c.expect(MESSAGE, timeout=5) for _ in range(n)]
    writes = io_counter(srv.pid, "syscw") - before
    t.assert_eq([m.seq for m in got_b], [f.seq for f in acks], "bob's seqs match the ACKs")
    t.assert_eq([m.seq for m in got_c], [f.seq for f in acks], "carol's seqs match the ACKs")
    # 600 frames went out; a write per frame would be 600 calls.  The
    # burst may span a few reads (and so a few turns), never hundreds.
    if writes > 12:
        raise AssertionError("%d write calls for %d frames to 3 readers" % (writes, 3 * n))


def test_listener_survives_running_out_of_descriptors(srv):
    # chatd sizes its connection limit from the descriptor limit at start;
    # lowering that limit under it (as descriptors used elsewhere would)
    # makes accept() fail with EMFILE.
    limit = 40
    subprocess.run(["prlimit", "--pid", str(srv.pid), "--nofile=%d:%d" % (limit, limit)],
                   check=True, timeout=10)
    clients = []
    try:
        # More connections than descriptors: the surplus waits in the
        # listen backlog while chatd pauses its accepts.
        for i in range(limit + 10):
            clients.append(t.Client(srv.port, label="c%d" % i))
        srv.wait_for_line(r"pausing accepts", timeout=5)
        for i, c in enumerate(clients[:limit // 2]):
            t.assert_eq(c.hello("u%d" % i).type, WELCOME, "HELLO from an accepted client")
        cpu0 = cpu_seconds(srv.pid)
        t.pause(1.0)  # out of descriptors for a while: chatd must not spin
        spent = cpu_seconds(srv.pid) - cpu0
        if spent > 0.3:
            raise AssertionError("chatd used %.2f s of CPU in 1 s while out of descriptors"
                                 % spent)
        # Free descriptors: the waiting clients are then accepted and served.
        for c in clients[:limit // 2]:
            c.close()
        for i, c in enumerate(clients[-5:]):
            t.assert_eq(c.hello("late%d" % i, timeout=5).type, WELCOME,
                        "HELLO from a client that waited in the backlog")
    finally:
        for c in clients:
            c.close()


@t.server_args("--max-conns", "3")
def test_full_server_refuses_with_an_error_naming_the_limit(srv):
    held = [srv.client("u%d" % i) for i in range(3)]
    extra = t.Client(srv.port, label="extra")
    err = extra.expect(ERROR, timeout=5)
    t.assert_eq(err.code, 105, "ERROR code for a full server")
    if "max-conns" not in err.text:
        raise AssertionError("the refusal does not name the limit: %r" % err.text)
    extra.expect_closed(timeout=5)
    # A slot freed is a slot for the next client.
    held[0].quit()
    t.wait_until(lambda: t.Client(srv.port, label="again").hello("again", timeout=2).type
                 == WELCOME, 5, interval=0.1, what="a client accepted after one left")


@t.server_args("--max-conns-per-ip", "2")
def test_one_address_cannot_take_more_than_its_share(srv):
    a, b = srv.client("a"), srv.client("b")
    c = t.Client(srv.port, label="third")
    err = c.expect(ERROR, timeout=5)
    t.assert_eq(err.code, 105, "ERROR code for too many connections from one address")
    if "max-conns-per-ip" not in err.text or "127.0.0.1" not in err.text:
        raise AssertionError("the refusal does not name the limit: %r" % err.text)
    c.expect_closed(timeout=5)
    a.join("still")
    b.join("still")
    t.assert_room_works(a, b, "still", text="the first two are unaffected")


@t.server_args("--handshake-timeout", "0.3")
def test_a_connection_that_never_says_hello_is_closed(srv):
    silent = t.Client(srv.port, label="silent")  # sends the preface, then nothing
    t0 = time.monotonic()
    err = silent.expect(ERROR, timeout=5)
    t.assert_eq(err.code, 104, "ERROR code for a handshake timeout")
    silent.expect_closed(timeout=5)
    waited = time.monotonic() - t0
    if not 0.2 <= waited <= 2.0:
        raise AssertionError("closed after %.2f s, expected about 0.3 s" % waited)
    # A client that does say hello in time stays.
    ok = srv.client("prompt")
    t.pause(0.6)
    ok.ping()  # answered: the registered client is still connected


if __name__ == "__main__":
    sys.exit(t.main(globals()))
