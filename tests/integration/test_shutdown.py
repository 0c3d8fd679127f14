#!/usr/bin/env python3
"""Graceful shutdown: on SIGTERM (or SIGINT) every client gets BYE reason 6
after everything already queued for it, and chatd exits 0 within its
shutdown deadline."""

import signal
import sys
import time

import chatdtest as t
from chatdtest import ACK, BYE, ERROR, MESSAGE

# A few hundred KB must queue for one client without it being dropped as a
# slow consumer, and flood control must not stretch the test.
SERVER_ARGS = ["--flood-rate", "0", "--max-queue", str(8 << 20)]
N = 400
TEXT = "q" * 1000


def queue_for_slow_reader(srv):
    """alice says N long messages in room z; bob reads them as they come,
    slow (small receive buffer) reads nothing.  Returns the clients."""
    a, b = srv.client("alice"), srv.client("bob")
    s = srv.client("slow", rcvbuf=8192)
    for c in (a, b, s):
        c.join("z")
    refs, acked, got = [], 0, 0
    deadline = time.monotonic() + 15
    while acked < N:
        if time.monotonic() > deadline:
            raise AssertionError("only %d of %d SAYs acknowledged" % (acked, N))
        while len(refs) < N and len(refs) - acked < 32:
            refs.append(a.say("z", TEXT, wait=False))
        for f in a.drain(0.005):
            if f.type == ERROR:
                raise AssertionError("alice got %r" % (f,))
            acked += f.type == ACK
        got += sum(f.type == MESSAGE for f in b.drain())
    while got < N:
        b.expect(MESSAGE, room="z", timeout=5)
        got += 1
    return a, b, s


def test_sigterm_says_bye_to_everyone_after_flushing_queued_output(srv):
    a, b, s = queue_for_slow_reader(srv)
    d = srv.client("dave")   # registered, in no room
    u = srv.client()         # preface only, not registered
    u.sync()

    t0 = time.monotonic()
    srv.send_signal(signal.SIGTERM)
    for c in (a, b, d, u):
        bye = c.expect(BYE, timeout=5)
        t.assert_eq(bye.reason, t.R_SHUTDOWN, "%s: BYE reason" % c.label)
        c.expect_closed(timeout=5)
        t.assert_eq(c.received_after(bye), [], "%s: frames after the BYE" % c.label)

    # slow has not read a byte of the room's traffic yet; it keeps still for
    # a while longer, then reads everything to the end.
    t.pause(max(0.0, t0 + 0.5 - time.monotonic()))
    frames = s.expect_closed(timeout=10)
    if s.trailing:
        raise AssertionError("slow: stream ended inside a frame (%d bytes)" % len(s.trailing))
    msgs = [f for f in frames if f.type == MESSAGE]
    t.assert_eq([m.seq for m in msgs], list(range(1, N + 1)),
                "slow: seqs of the queued MESSAGEs it finally read")
    if any(m.text != TEXT for m in msgs):
        raise AssertionError("slow: a queued MESSAGE arrived altered")
    t.assert_eq(frames[-1].type, BYE, "slow: last frame before the end")
    t.assert_eq(frames[-1].reason, t.R_SHUTDOWN, "slow: BYE reason")

    rc = srv.wait(timeout=max(0.1, t0 + 6.0 - time.monotonic()))
    if rc is None:
        raise AssertionError("chatd still running 6 s after SIGTERM (shutdown timeout 5 s)")
    t.assert_eq(rc, 0, "chatd exit code after SIGTERM")


@t.server_args("--shutdown-timeout", "1")
def test_shutdown_deadline_bounds_the_flush_to_a_client_that_never_reads(srv):
    a, b, s = queue_for_slow_reader(srv)
    t0 = time.monotonic()
    srv.send_signal(signal.SIGTERM)
    for c in (a, b):
        t.assert_eq(c.expect(BYE, timeout=5).reason, t.R_SHUTDOWN, "%s: BYE reason" % c.label)
    rc = srv.wait(timeout=3.0)
    elapsed = time.monotonic() - t0
    if rc is None:
        raise AssertionError("chatd still running 3 s after SIGTERM with --shutdown-timeout 1")
    t.assert_eq(rc, 0, "chatd exit code after SIGTERM")
    if elapsed > 2.5:
        raise AssertionError("chatd took %.2fs to exit (shutdown timeout 1 s)" % elapsed)
    s.close()


def test_sigint_shuts_down_like_sigterm(srv):
    a = srv.client("alice")
    a.join("z")
    srv.send_signal(signal.SIGINT)
    t.assert_eq(a.expect(BYE, timeout=5).reason, t.R_SHUTDOWN, "BYE reason after SIGINT")
    a.expect_closed(timeout=5)
    rc = srv.wait(timeout=6)
    t.assert_eq(rc, 0, "chatd exit code after SIGINT")


def test_server_stops_accepting_after_sigterm(srv):
    a = srv.client("alice")
    srv.send_signal(signal.SIGTERM)
    a.expect(BYE, timeout=5)
    # The BYE shows SIGTERM was handled: a new connection must not be served.
    try:
        late = t.Client(srv.port, timeout=2)
    except OSError:
        return  # refused: the listener is closed
    try:
        late.send(t.HELLO, nick="late")
        f = late.recv_frame(timeout=2)
    except t.Closed:
        return
    finally:
        late.close()
    if f is not None and f.type == t.WELCOME:
        raise AssertionError("a connection made after SIGTERM was welcomed: %r" % (f,))


def test_sigterm_right_after_the_listening_line_still_exits_cleanly(srv):
    # "listening on" tells a supervisor (and this harness) that chatd is up;
    # from then on SIGTERM must mean a graceful exit 0, never death by signal.
    # The race is narrow, so try it many times.
    failures = []
    for _ in range(40):
        other = t.Server(srv.path)
        other.start()
        rc = other.stop(signal.SIGTERM, timeout=10)
        if rc != 0:
            failures.append(rc)
    if failures:
        raise AssertionError("%d of 40 chatd processes SIGTERMed right after logging "
                             "'listening on' ended with %r instead of exit 0"
                             % (len(failures), sorted(set(failures))))


if __name__ == "__main__":
    sys.exit(t.main(globals()))
