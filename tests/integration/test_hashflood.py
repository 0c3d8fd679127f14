#!/usr/bin/env python3
"""Hash flooding: room names chosen to collide under the hash the room
table used to have (unkeyed FNV-1a 32-bit) cost chatd no more CPU than
random names.  Two clients join and part 20,000 random names, then
20,000 names that share one FNV-1a hash; chatd's CPU time (utime + stime
from /proc/PID/stat) for the colliding set must stay within 3x that of the
random set.  With FNV-1a every lookup walked one probe run as long as the
set, and the colliding phase cost about 70 times the random one."""

import os
import random
import sys
import time

import chatdtest as t
from chatdtest import ERROR, HISTORY_END, JOIN, PART, PRESENCE, encode

NAMES = 20000        # per phase
BATCH = 500          # JOINs (then PARTs) one client pipelines before reading the replies
MAX_RATIO = 3.0      # colliding CPU / random CPU
CPU_FLOOR = 0.1      # seconds: the random phase is never taken as cheaper (10 ms ticks)
BATCH_TIMEOUT = 30.0

# Flood control off, so that the phases measure the room table, not the
# token bucket; no per-user or server room limit, so that every name
# becomes a room, and rooms linger after the PART (at the default
# --room-linger), so that the table holds every name of both phases.
SERVER_ARGS = ["--flood-rate", "0", "--max-rooms", "0", "--max-rooms-total", "0"]

# Lower case only: rooms are keyed by their folded name, so the names must
# collide as the server hashes them.
ALPHABET = b"abcdefghijklmnopqrstuvwxyz0123456789_.-"
FNV_BASIS, FNV_PRIME, MASK32 = 2166136261, 16777619, 0xFFFFFFFF
BLOCKS = 16          # 4-byte blocks: 64-byte names, WIRE_ROOM_MAX


def fnv1a(data, h=FNV_BASIS):
    """FNV-1a 32-bit of data, continued from state h."""
    for c in data:
        h = ((h ^ c) * FNV_PRIME) & MASK32
    return h


# For each value v, two alphabet characters whose XOR is v, where one exists.
_XOR_PAIRS = {}
for _d in ALPHABET:
    for _e in ALPHABET:
        _XOR_PAIRS.setdefault(_d ^ _e, (_d, _e))


def colliding_blocks(h):
    """Two different 4-byte blocks of the alphabet that take FNV-1a from
    state h to the same state, by a birthday search.  The last byte is
    XORed into the state before a multiplication by an odd number (a
    bijection), so blocks abc+d and a'b'c'+e meet exactly when their
    states y, y' after three bytes agree in the top 24 bits and
    d ^ e == (y ^ y') & 0xff: a birthday search over about 2^12 three-byte
    prefixes rather than 2^16 whole blocks, which keeps it fast in
    Python."""
    seen = {}
    for a in ALPHABET:
        s1 = ((h ^ a) * FNV_PRIME) & MASK32
        for b in ALPHABET:
            s2 = ((s1 ^ b) * FNV_PRIME) & MASK32
            for c in ALPHABET:
                y = ((s2 ^ c) * FNV_PRIME) & MASK32
                old = seen.get(y >> 8)
                if old is None:
                    seen[y >> 8] = (bytes((a, b, c)), y)
                    continue
                pair = _XOR_PAIRS.get((y ^ old[1]) & 0xFF)
                if pair is not None:
                    d, e = pair
                    return bytes((a, b, c, d)), old[0] + bytes((e,))
    raise AssertionError("no FNV-1a collision from state %08x" % h)


def fnv_collision_names(count):
    """count distinct 64-byte room names that share one FNV-1a hash: at
    each of 16 positions one of two colliding blocks, chained from the
    state the blocks before them leave.  Returns (names, hash)."""
    h = FNV_BASIS
    pairs = []
    for _ in range(BLOCKS):
        x, y = colliding_blocks(h)
        h = fnv1a(x, h)
        pairs.append((x, y))
    names = [b"".join(pairs[k][(i >> k) & 1] for k in range(BLOCKS)) for i in range(count)]
    return [n.decode("ascii") for n in names], h


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        # Fields after the parenthesised command: state is the first,
        # utime and stime the 12th and 13th.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def await_replies(c, want, ftype, what, deadline):
    """Read c's frames until one ftype frame per room of want has come, in
    order (rooms compared by their room field); any ERROR fails."""
    got = 0
    while got < len(want):
        f = c.recv_frame(timeout=max(0.0, deadline - time.monotonic()))
        if f is None:
            raise t.Timeout("%s: %s: %d of %d replies within %.0fs"
                            % (c.label, what, got, len(want), BATCH_TIMEOUT))
        if f.type == ERROR:
            raise AssertionError("%s: %s: %r" % (c.label, what, f))
        if f.type != ftype:
            continue
        if f.room != want[got]:
            raise AssertionError("%s: %s: reply %d is for %r, expected %r"
                                 % (c.label, what, got, f.room, want[got]))
        got += 1


def churn(srv, clients, names, what, budget=None):
    """The clients take turns with batches of names: each pipelines a JOIN
    per name, awaits every reply, then the same with PART.  Returns
    chatd's CPU seconds for the whole phase; with budget, fails as soon as
    that is exceeded, so that a flooded server does not hold the suite."""
    cpu0 = cpu_seconds(srv.pid)
    step = BATCH * len(clients)
    for start in range(0, len(names), step):
        shares = [(c, names[start + i * BATCH:start + (i + 1) * BATCH])
                  for i, c in enumerate(clients)]
        shares = [(c, share) for c, share in shares if share]
        deadline = time.monotonic() + BATCH_TIMEOUT
        for c, share in shares:
            c.send_raw(b"".join(encode(JOIN, room=n) for n in share))
        for c, share in shares:
            await_replies(c, share, HISTORY_END, "%s JOINs" % what, deadline)
        for c, share in shares:
            c.send_raw(b"".join(encode(PART, room=n) for n in share))
        for c, share in shares:
            await_replies(c, share, PRESENCE, "%s PARTs" % what, deadline)
        spent = cpu_seconds(srv.pid) - cpu0
        if budget is not None and spent > budget:
            done = start + sum(len(share) for _, share in shares)
            raise AssertionError("%s names: chatd spent %.2fs of CPU on the first %d of %d, "
                                 "over its budget of %.2fs" % (what, spent, done, len(names),
                                                               budget))
    return cpu_seconds(srv.pid) - cpu0


def test_fnv1a_colliding_room_names_cost_no_more_cpu_than_random_names(srv):
    flood, h = fnv_collision_names(NAMES)
    # The test's own premise: distinct valid names, all with one FNV-1a hash.
    t.assert_eq(len(set(flood)), NAMES, "distinct colliding names")
    odd = [n for n in flood if fnv1a(n.encode()) != h or len(n) != 64]
    t.assert_eq(odd[:3], [], "names not of 64 bytes with FNV-1a hash %08x" % h)
    rng = random.Random(1717)
    plain = ["".join(rng.choices(ALPHABET.decode(), k=64)) for _ in range(NAMES)]
    t.assert_eq(len(set(plain) | set(flood)), 2 * NAMES, "distinct names over both sets")

    a, b = srv.client("alice"), srv.client("bob")
    # Random names first: the colliding set then finds them in the table,
    # which does not shorten its probe runs under FNV-1a.
    base = churn(srv, (a, b), plain, "random")
    floor = max(base, CPU_FLOOR)
    hit = churn(srv, (a, b), flood, "colliding", budget=MAX_RATIO * floor)
    print("    chatd CPU for %d JOIN + PART: random names %.2fs, FNV-1a-colliding %.2fs "
          "(%.2fx; at most %.1fx of %.2fs)" % (NAMES, base, hit, hit / max(base, 0.01),
                                              MAX_RATIO, floor))
    if hit > MAX_RATIO * floor:
        raise AssertionError("colliding names cost %.2fs of CPU, random ones %.2fs: over %.1fx"
                             % (hit, base, MAX_RATIO))


if __name__ == "__main__":
    sys.exit(t.main(globals()))
