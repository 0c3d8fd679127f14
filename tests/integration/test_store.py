#!/usr/bin/env python3
"""The SQLite history store (--store PATH): what a restart, a crash, a
damaged file or a full disk look like from outside.

- a restart with SIGTERM keeps every room's name, epoch and seq; a client
  back with its cursor gets exactly what it missed, from the store and the
  ring, without TRUNCATED (up to 1000 from the store, TRUNCATED beyond); a
  joiner without one gets the last 50; new messages go on from the seq;
- every ACKed message survives kill -9, checked by joining and by reading
  the file with Python's sqlite3 (integrity, seqs 1..N, the rooms' seqs);
- an operator reading the file (a long read, a backup) does not stop
  chatd; a room that lingered out of memory comes back from the store;
- start-up refuses, with exit code 2 and one line "chatd: store PATH:
  reason", what is not a SQLite database, another program's database, a
  newer schema, a damaged or truncated file, and a store on a read-only
  file system, leaving the file as it was; --check-store says ok (0),
  damaged (1) or not a chatd store (2);
- a version-1 store and a version-2 store are migrated at start (the
  rooms gain their topic columns), keeping every message;
- --store none forgets at a restart, as before;
- a store that cannot be written at run time (a full file system, the
  file-size limit) refuses room messages on every front end and nothing
  else, keeps what it had ACKed, logs it once, and takes messages again
  within seconds once it can write.

Each test starts its own chatd instances on a store in a temporary
directory (the one the runner passes is only used for its path), so that
it can restart them.  The run-time faults use mount(8) (a tmpfs) and
prlimit(1) on chatd's pid, and are skipped where those are refused.

Run as

    python3 test_store.py --chatd build/chatd [-k NAME]
"""

import contextlib
import errno
import hashlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

import chatdtest as t
from chatdtest import ACK, ERROR, MESSAGE
from test_http import Session, expect_error
from test_websocket_json import json_user
from textclient import text_client

APP_ID = 0x63686174  # PRAGMA application_id of a chatd store: "chat"
HISTORY = 50
E_STORE_UNAVAILABLE = getattr(t, "E_STORE_UNAVAILABLE", 215)

# The schema of the first chatd that wrote a store (schema_v1 in
# src/store/sqlite.c), to build a store that must be migrated.
SCHEMA_V1 = """
CREATE TABLE rooms(
 id INTEGER PRIMARY KEY,
 key TEXT NOT NULL UNIQUE,
 name TEXT NOT NULL,
 epoch INTEGER NOT NULL,
 seq INTEGER NOT NULL);
CREATE TABLE messages(
 room INTEGER NOT NULL,
 seq INTEGER NOT NULL,
 time INTEGER NOT NULL,
 sender TEXT NOT NULL,
 text TEXT NOT NULL,
 PRIMARY KEY(room, seq)) WITHOUT ROWID;
"""

# The schema of version 2 (schema_v1 and the migration to 2 in
# src/store/sqlite.c): a room's messages of a commit in one chunk, before
# rooms had topics.
SCHEMA_V2 = """
CREATE TABLE rooms(
 id INTEGER PRIMARY KEY,
 key TEXT NOT NULL UNIQUE,
 name TEXT NOT NULL,
 epoch INTEGER NOT NULL,
 seq INTEGER NOT NULL);
CREATE TABLE chunks(
 room INTEGER NOT NULL,
 first INTEGER NOT NULL,
 last INTEGER NOT NULL,
 epoch INTEGER NOT NULL,
 time INTEGER NOT NULL,
 body TEXT NOT NULL,
 PRIMARY KEY(room, first)) WITHOUT ROWID;
CREATE INDEX chunks_time ON chunks(time);
CREATE VIEW messages(room, seq, epoch, time, sender, text) AS
 SELECT r.name, m.value ->> 0, c.epoch, m.value ->> 1, m.value ->> 2, m.value ->> 3
 FROM chunks c JOIN rooms r ON r.id = c.room, json_each(c.body) m;
"""


# ---------------------------------------------------------------------------
# Helpers


class Chatd(t.Server):
    """chatd on a store (None: no --store option), flood control off so
    that volume is not slowed.  Leaving it stops it with SIGTERM and
    checks exit 0 and no sanitizer report, unless kill() ended it; a
    failure inside prints its output."""

    def __init__(self, srv, store, *args):
        opt = ("--store", store) if store is not None else ()
        super().__init__(srv.path, *opt, "--flood-rate", "0", *args)
        self.store = store
        self.killed = False

    def kill(self):
        """SIGKILL, by pid, at once: a crash at this point."""
        self.stop(signal.SIGKILL)
        self.killed = True
        for c in self.clients:
            c.close()

    def check(self):
        problems = super().check()
        if self.killed:
            problems = [p for p in problems if not p.startswith("chatd ended with")]
        return problems

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not issubclass(exc_type, t.Skip) and self.lines:
            print("    --- chatd on %s (last 25 lines) ---" % self.store)
            for line in self.stderr_tail(25):
                print("    | " + line)
        return super().__exit__(exc_type, exc, tb)


def chatd_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


def run_to_exit(srv, *args, timeout=5.0):
    """Run chatd with args where it must exit by itself (a refused start,
    --check-store); returns (code, stdout, stderr).  One that is still
    running at the deadline is killed (by pid) and the test fails."""
    p = subprocess.Popen([srv.path, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=chatd_env())
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("chatd %s did not exit within %.0fs (it should have); output: %r"
                             % (" ".join(args), timeout, (out + err)[-600:])) from None
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def refused_start(srv, path, what):
    """chatd --store path exits 2 with one stderr line "chatd: store
    PATH: reason" and leaves the file as it was; returns the reason."""
    before = digest(path) if os.path.exists(path) else None
    rc, out, err = run_to_exit(srv, "--listen", "127.0.0.1:0", "--store", path)
    lines = (out + err).splitlines()
    t.assert_eq(rc, 2, "%s: exit code of chatd --store (output %r)" % (what, lines))
    prefix = "chatd: store %s: " % path
    if len(lines) != 1 or not lines[0].startswith(prefix):
        raise AssertionError("%s: expected one line %r..., got %d line(s): %r"
                             % (what, prefix, len(lines), lines))
    if before is not None:
        t.assert_eq(digest(path), before, "%s: the file after the refused start (sha256)"
                    % what)
    return lines[0][len(prefix):]


def check_store(srv, path):
    """chatd --store path --check-store: (exit code, stdout lines)."""
    rc, out, err = run_to_exit(srv, "--store", path, "--check-store")
    if err.strip():
        raise AssertionError("--check-store on %s wrote to stderr: %r" % (path, err))
    return rc, out.splitlines()


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def say_all(client, items, timeout=10):
    """Send every (room, text) SAY in one write, then collect the ACKs in
    order; returns them."""
    refs = [client.next_ref() for _ in items]
    client.send_raw(b"".join(t.encode(t.SAY, ref=ref, room=room, text=text)
                             for ref, (room, text) in zip(refs, items)))
    return [t.assert_ack(client.expect((ACK, ERROR), timeout, ref=ref),
                         "%s SAY %r" % (client.label, item))
            for ref, item in zip(refs, items)]


def facts(m):
    """What a user sees of a message: (seq, from, text, time)."""
    return (m.seq, m.from_, m.text, m.time_ms)


def check_replay(j, want, what, epoch=None, last_seq=None):
    """A JOIN reply replays exactly want [(seq, from, text, time)], each
    flagged HISTORY only, with no TRUNCATED or EPOCH_CHANGED."""
    if not j.ok:
        raise AssertionError("%s: JOIN refused: %r" % (what, j.error))
    got = [facts(m) for m in j.history]
    if got != want:
        missing = [w for w in want if w not in got]
        extra = [g for g in got if g not in want]
        raise AssertionError("%s: replay differs: %d messages, want %d; missing %s; extra %s"
                             % (what, len(got), len(want), missing[:5], extra[:5]))
    t.assert_eq(sorted({m.flags for m in j.history}) or [t.MSG_HISTORY], [t.MSG_HISTORY],
                "%s: flags of the replayed MESSAGEs" % what)
    t.assert_eq((j.end.count, j.end.flags), (len(want), 0),
                "%s: HISTORY_END (count, flags)" % what)
    if epoch is not None:
        t.assert_eq((j.joined.epoch, j.end.epoch), (epoch, epoch), "%s: epoch" % what)
    if last_seq is not None:
        t.assert_eq((j.joined.last_seq, j.end.last_seq), (last_seq, last_seq),
                    "%s: last_seq" % what)


def open_db(path):
    """Python's sqlite3 on a store (chatd stopped or killed: it recovers
    the write-ahead log as chatd would)."""
    return sqlite3.connect(path, timeout=5, isolation_level=None)


def stored_messages(db):
    """{room name: [(seq, sender, text, time, epoch)]} in seq order, as
    the file shows them to sqlite3: a table of messages by room id, or a
    view of them by room name."""
    kind = db.execute("SELECT type FROM sqlite_schema WHERE name = 'messages'").fetchone()
    if kind == ("view",):
        q = "SELECT room, seq, sender, text, time, epoch FROM messages"
    else:
        q = ("SELECT r.name, m.seq, m.sender, m.text, m.time, m.epoch FROM messages m "
             "LEFT JOIN rooms r ON r.id = m.room")
    out = {}
    for row in db.execute(q + " ORDER BY 1, 2"):
        out.setdefault(row[0], []).append(row[1:])
    return out


def db_check(path, what):
    """Read the store with Python's sqlite3: integrity ok, each room's
    seqs 1..N with no gap or duplicate, the room's seq covering them and
    every message of the room's epoch.  Returns {room name: [(seq,
    sender, text, time)]}."""
    db = open_db(path)
    try:
        t.assert_eq(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)],
                    "%s: PRAGMA integrity_check" % what)
        t.assert_eq(db.execute("PRAGMA application_id").fetchone()[0], APP_ID,
                    "%s: application_id" % what)
        rooms = {name: (epoch, seq) for name, epoch, seq in
                 db.execute("SELECT name, epoch, seq FROM rooms")}
        messages = stored_messages(db)
        if None in messages:
            raise AssertionError("%s: %d messages without a room" % (what, len(messages[None])))
        out = {}
        for name, rows in messages.items():
            if name not in rooms:
                raise AssertionError("%s: messages of %r, which is not in rooms" % (what, name))
            epoch, seq = rooms[name]
            seqs = [r[0] for r in rows]
            t.assert_eq(seqs, list(range(1, len(rows) + 1)),
                        "%s: seqs of room %s in the file" % (what, name))
            if seq < seqs[-1]:
                raise AssertionError("%s: room %s has seq %d below its newest message %d"
                                     % (what, name, seq, seqs[-1]))
            t.assert_eq({r[4] for r in rows} - {epoch}, set(),
                        "%s: message epochs of room %s other than its own" % (what, name))
            out[name] = [r[:4] for r in rows]
        return out
    finally:
        db.close()


def fill_store(srv, path, rooms=3, per_room=500, size=300):
    """A store big enough to have many pages (some 200 of 4 KiB)."""
    with Chatd(srv, path) as s:
        a = s.client("filler")
        names = ["big%d" % i for i in range(rooms)]
        for room in names:
            a.join(room)
        for start in range(0, per_room, 100):
            say_all(a, [(room, "%d %s" % (i, "x" * size))
                        for i in range(start, start + 100) for room in names])
    return rooms, rooms * per_room


@contextlib.contextmanager
def small_fs(size):
    """A tmpfs of this size on a temporary directory, unmounted at the
    end; yields its path, or None when it cannot be mounted here."""
    d = tempfile.mkdtemp(prefix="chatd-store-")
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size,
                            "tmpfs", d], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        r = None
    mounted = r is not None and r.returncode == 0
    try:
        yield d if mounted else None
    finally:
        if mounted and subprocess.run(["umount", d], capture_output=True).returncode != 0:
            # Still busy (a test failed with something open): detach it
            # anyway rather than leave a mount behind.
            subprocess.run(["umount", "-l", d], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def fill_up(directory):
    """Write a filler file until the file system is full; returns it."""
    path = os.path.join(directory, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\xa5" * chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return path


def prlimit(pid, soft):
    """Set the file-size limit of pid (soft; the hard one stays
    unlimited, so that it can be raised again without privilege)."""
    r = subprocess.run(["prlimit", "--pid", str(pid), "--fsize=%s:unlimited" % soft],
                       capture_output=True, text=True, timeout=10)
    return r.returncode == 0, r.stderr.strip()


def old_messages(words, n, now):
    """n messages [(seq, from, text, time)] of an older chatd's store."""
    return [(seq, "nick%d" % (seq % 2), "%s %d" % (words, seq), now + seq)
            for seq in range(1, n + 1)]


def old_store(store, schema, version):
    """A new file with an older chatd's schema and version, open."""
    db = open_db(store)
    db.executescript(schema)
    db.execute("PRAGMA application_id = %d" % APP_ID)
    db.execute("PRAGMA user_version = %d" % version)
    return db


def check_old_store(srv, store, version):
    """--check-store finds the store of an older schema sound and says it
    is migrated when chatd opens it."""
    rc, lines = check_store(srv, store)
    t.assert_eq((rc, lines[-1]), (0, "ok"), "--check-store on the version-%d store" % version)
    if "schema %d (migrated when chatd opens it)" % version not in lines[0]:
        raise AssertionError("--check-store on a version-%d store: %r" % (version, lines[0]))


def log_lines(s, regex):
    rx = re.compile(regex)
    return [line for line in s.stderr_tail(100000) if rx.search(line)]


# ---------------------------------------------------------------------------
# Restarts


ROOMS = ("Alpha", "bravo", "Charlie", "delta", "ECHO")
PER_ROOM = 100
# Where each room's listener leaves.  After the restart the ring holds
# 51..100, so what it missed comes from the store and the ring, or (50)
# from the ring alone.
CUTS = (5, 25, 40, 49, 50)


def test_sigterm_restart_replays_exactly_what_each_cursor_missed(srv):
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        sent = {room: [] for room in ROOMS}  # (seq, from, text, time) in seq order
        cursors = {}
        with Chatd(srv, store) as s:
            listeners = [s.client("lis%d" % i) for i in range(len(ROOMS))]
            epochs = {room: lis.join(room).epoch for room, lis in zip(ROOMS, listeners)}
            senders = [s.client("Alice"), s.client("bob")]
            for x in senders:
                for room in ROOMS:
                    x.join(room)

            def send(first, last):
                # Rooms interleaved and pipelined: a loop turn commits
                # messages of several rooms at once.
                for k, x in enumerate(senders):
                    items = [(room, "%s #%d \u00e9t\u00e9 \U0001f389" % (room, i))
                             for i in range(first, last + 1)
                             if i % 2 == k for room in ROOMS]
                    for (room, text), ack in zip(items, say_all(x, items)):
                        sent[room].append((ack.seq, x.name, text, ack.time_ms))

            send(1, max(CUTS))
            for room, lis, cut in zip(ROOMS, listeners, CUTS):
                sent[room].sort()
                live = [lis.expect(MESSAGE, room=room) for _ in range(max(CUTS))]
                t.assert_eq([facts(m) for m in live], sent[room],
                            "%s: live MESSAGEs before the restart" % room)
                cursors[room] = (epochs[room], live[cut - 1].seq)
                lis.close()
            send(max(CUTS) + 1, PER_ROOM)
            for room in ROOMS:
                sent[room].sort()
                t.assert_eq([m[0] for m in sent[room]], list(range(1, PER_ROOM + 1)),
                            "%s: ACK seqs" % room)

        with Chatd(srv, store, "--store-sync", "full") as s:
            s.wait_for_line(r"store %s: schema 3, %d rooms, sync full" % (re.escape(store),
                                                                          len(ROOMS)))
            for i, (room, cut) in enumerate(zip(ROOMS, CUTS)):
                # Half the rooms are first joined with a cursor, half
                # without: either one fills the ring from the store.
                back = s.client("lis%d" % i)
                plain = s.client("new%d" % i)
                order = [(back, cursors[room]), (plain, (0, 0))]
                if i % 2:
                    order.reverse()
                for c, (epoch, since) in order:
                    j = c.join(room.lower(), epoch=epoch, since=since)
                    t.assert_eq(j.joined.room, room, "room name after the restart")
                    if c is back:
                        check_replay(j, sent[room][cut:], "%s: rejoin with cursor %d"
                                     % (room, cut), epoch=epochs[room], last_seq=PER_ROOM)
                    else:
                        check_replay(j, sent[room][-HISTORY:], "%s: join without cursor" % room,
                                     epoch=epochs[room], last_seq=PER_ROOM)
                ack = t.assert_ack(plain.say(room, "after the restart"), "SAY after the restart")
                t.assert_eq(ack.seq, PER_ROOM + 1, "%s: seq of the first new message" % room)
                m = back.expect(MESSAGE, room=room, text="after the restart")
                t.assert_eq((m.seq, m.flags), (PER_ROOM + 1, 0), "%s: the new message live"
                            % room)
        got = db_check(store, "after the restart")
        t.assert_eq(sorted(got), sorted(ROOMS), "rooms in the file")


def test_replay_from_the_store_covers_1000_missed_and_says_truncated_beyond(srv):
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        n = 1100
        with Chatd(srv, store) as s:
            a = s.client("alice")
            epoch = a.join("long").epoch
            acks = []
            for first in range(0, n, 275):
                acks += say_all(a, [("long", "m%d" % i) for i in range(first, first + 275)])
        sent = [(k + 1, "alice", "m%d" % k, ack.time_ms) for k, ack in enumerate(acks)]
        with Chatd(srv, store) as s:
            check_replay(s.client("bob").join("long", epoch=epoch, since=n - 1000), sent[-1000:],
                         "a cursor 1000 messages back", epoch=epoch, last_seq=n)
            j = s.client("carol").join("long", epoch=epoch, since=10)
            t.assert_eq(j.end.flags, t.HIST_TRUNCATED, "HISTORY_END flags, 1090 messages back")
            if len(j.history) < 1000 or [facts(m) for m in j.history] != sent[-len(j.history):]:
                raise AssertionError("1090 messages back: the replay is not the newest 1000 or "
                                     "more, in order: %r" % j)


# ---------------------------------------------------------------------------
# Crashes

CRASH_ROOMS = ("k1", "k2")
CRASH_BATCH = 60          # SAYs per room and round
CRASH_WINDOW = 8          # SAYs sent and not yet ACKed
KILL_AFTER = (1, 17, 64, 119)  # ACKs read before each SIGKILL (of 120)


def check_crash_history(texts, sent, acked, what):
    """texts (a room's messages in seq order) are, round after round, a
    prefix of what was sent in that round, as long as what was ACKed at
    least: nothing ACKed lost, nothing invented or reordered."""
    pos = 0
    for rnd, (batch, n) in enumerate(zip(sent, acked)):
        k = 0
        while k < len(batch) and pos < len(texts) and texts[pos] == batch[k]:
            k += 1
            pos += 1
        if k < n:
            raise AssertionError("%s: round %d: %d messages ACKed, only %d came back (then %r)"
                                 % (what, rnd, n, k, texts[pos:pos + 3]))
    if pos != len(texts):
        raise AssertionError("%s: messages that were never sent: %r" % (what, texts[pos:pos + 5]))


def test_every_acked_message_survives_kill_9(srv):
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        sent = {room: [] for room in CRASH_ROOMS}   # per round: texts sent
        acked = {room: [] for room in CRASH_ROOMS}  # per round: how many ACKed
        epochs = {}
        for rnd in range(len(KILL_AFTER) + 1):
            with Chatd(srv, store) as s:
                a = s.client("alice")
                for room in CRASH_ROOMS:
                    j = a.join(room, epoch=epochs.get(room, 0))
                    what = "round %d, %s" % (rnd, room)
                    if room in epochs and j.epoch != epochs[room] and not any(acked[room]):
                        # None of its messages was written before the
                        # crash: the room comes back new, and says so.
                        t.assert_eq((j.joined.last_seq, j.end.flags),
                                    (0, t.HIST_TRUNCATED | t.HIST_EPOCH_CHANGED),
                                    "%s: a room back with a new epoch (last_seq, flags)" % what)
                        epochs[room] = j.epoch
                    else:
                        epochs.setdefault(room, j.epoch)
                        # Whatever came back: flagged, counted, not truncated.
                        check_replay(j, [facts(m) for m in j.history], what,
                                     epoch=epochs[room])
                    t.assert_eq(j.seqs, list(range(1, j.joined.last_seq + 1)),
                                "%s: seqs replayed after the crash" % what)
                    check_crash_history([m.text for m in j.history], sent[room], acked[room],
                                        what)
                if rnd == len(KILL_AFTER):
                    break
                items = [(room, "r%d %s %d" % (rnd, room, i)) for i in range(CRASH_BATCH)
                         for room in CRASH_ROOMS]
                for room in CRASH_ROOMS:
                    sent[room].append([])
                    acked[room].append(0)
                # A window of SAYs in flight, so that the kill lands with
                # some sent and not yet ACKed (they may or may not be kept).
                flight = []
                for _ in range(KILL_AFTER[rnd]):
                    while items and len(flight) < CRASH_WINDOW:
                        room, text = items.pop(0)
                        flight.append((a.say(room, text, wait=False), room))
                        sent[room][-1].append(text)
                    ref, room = flight.pop(0)
                    t.assert_ack(a.expect((ACK, ERROR), 10, ref=ref), "SAY before the crash")
                    acked[room][-1] += 1
                s.kill()
            # The crashed store as an operator would read it, from a copy so
            # that the next chatd recovers the log itself.
            copy = os.path.join(d, "copy.db")
            for suffix in ("", "-wal"):
                if os.path.exists(store + suffix):
                    shutil.copyfile(store + suffix, copy + suffix)
            got = db_check(copy, "after SIGKILL %d" % (rnd + 1))
            for room in CRASH_ROOMS:
                check_crash_history([m[2] for m in got.get(room, [])], sent[room], acked[room],
                                    "the file after SIGKILL %d, %s" % (rnd + 1, room))
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(copy + suffix):
                    os.unlink(copy + suffix)
        got = db_check(store, "after the last restart")
        for room in CRASH_ROOMS:
            check_crash_history([m[2] for m in got[room]], sent[room], acked[room],
                                "the file at the end, %s" % room)


def test_reading_the_store_while_chatd_runs_does_not_stop_messages(srv):
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        with Chatd(srv, store) as s:
            a = s.client("alice")
            a.join("r")
            say_all(a, [("r", "m%d" % i) for i in range(1, 11)])
            db = open_db(store)
            try:
                # A long read, as a report or a backup takes: chatd goes on
                # writing, and the reader sees the file as it began.
                db.execute("BEGIN")
                t.assert_eq(db.execute("SELECT count(*) FROM messages").fetchone()[0], 10,
                            "messages a reader sees")
                say_all(a, [("r", "m%d" % i) for i in range(11, 21)])
                t.assert_eq(db.execute("SELECT count(*) FROM messages").fetchone()[0], 10,
                            "messages the same read transaction sees")
                db.execute("COMMIT")
                backup = sqlite3.connect(os.path.join(d, "backup.db"))
                db.backup(backup)
                backup.close()
                t.assert_eq(t.assert_ack(a.say("r", "after the backup"), "SAY").seq, 21,
                            "seq after a backup")
            finally:
                db.close()
        t.assert_eq(len(db_check(os.path.join(d, "backup.db"), "the backup")["r"]), 20,
                    "messages in the backup")


def metric(port, name):
    """One label-free figure of chatd's /metrics."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError("/metrics has no %s" % name)


def test_the_log_is_folded_back_while_chatd_writes(srv):
    """Thousands of commits in a row, each of a few pages: the write-ahead
    log is folded back into the file and begun again as it goes, so it
    stays a few megabytes instead of growing with every message (it did,
    when the checkpointer's connection had never read the file)."""
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        with Chatd(srv, store) as s:
            a = s.client("alice")
            a.join("r")
            for i in range(5000):
                t.assert_ack(a.say("r", "message %d %s" % (i, "x" * 100)), "SAY %d" % i)
            commits = metric(s.port, "chatd_store_commits_total")
            pages = metric(s.port, "chatd_store_log_pages")
            waited = metric(s.port, "chatd_store_wait_seconds_total")
            longest = metric(s.port, "chatd_store_wait_seconds_max")
            size = os.path.getsize(store + "-wal")
        # Each commit writes 3 pages or more (the chunk, the time index,
        # the room): 15,000 pages, 75 MB, if the log were never begun
        # again.  It is folded back every 1,000 pages and cut back to 8
        # MB when it begins again; a busy machine lets it run further
        # between two checkpoints.
        if commits < 3000:
            raise AssertionError("only %d commits for 5000 messages one at a time" % commits)
        if pages > 4000 or size > 24 << 20:
            raise AssertionError("log of %d pages, %d bytes after %d commits"
                                 % (pages, size, commits))
        t.assert_eq(len(db_check(store, "the store")["r"]), 5000, "messages stored")
        # A commit of one message is quick: the loop waits for it at the
        # end of its turn, so the ACK leaves in the same turn.  The wait's
        # deadline is 1 ms; on a machine this loaded (the suite runs two
        # at a time) the thread may be scheduled some milliseconds after
        # it, so only a wait without a deadline is caught here, and the
        # benchmark notes give the figure on a quiet machine.
        if waited <= 0 or longest > 0.1:
            raise AssertionError("the loop waited %.6f s for commits, %.6f s at most"
                                 % (waited, longest))


# ---------------------------------------------------------------------------
# Rooms


def test_room_name_epoch_and_a_lingered_out_room_come_back(srv):
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        with Chatd(srv, store, "--room-linger", "0.1", "--log-level", "debug") as s:
            a = s.client("alice")
            kept = a.join("MixedCase")
            say_all(a, [("MixedCase", "m%d" % i) for i in range(1, 4)])
            gone = a.join("Gone")
            acks = say_all(a, [("Gone", "g1"), ("Gone", "g2")])
            t.assert_eq(a.part("Gone").type, t.PRESENCE, "PART of Gone")
            s.wait_for_line(r"room Gone freed after its linger", 5)

            # Freed from memory: the next join reads it back, history and all.
            b = s.client("bob")
            j = b.join("GONE")
            t.assert_eq(j.joined.room, "Gone", "name of the room read back from the store")
            check_replay(j, [(k + 1, "alice", "g%d" % (k + 1), acks[k].time_ms)
                             for k in range(2)], "join of the lingered-out room",
                         epoch=gone.epoch, last_seq=2)
            t.assert_eq(t.assert_ack(b.say("gone", "g3"), "SAY").seq, 3,
                        "seq after the room came back")
            j = s.client("carol").join("gone", epoch=gone.epoch, since=1)
            t.assert_eq([(m.seq, m.text) for m in j.history], [(2, "g2"), (3, "g3")],
                        "cursor join of the room read back")

        with Chatd(srv, store) as s:
            x = s.client("xena")
            for room, first, n in (("MixedCase", kept, 3), ("Gone", gone, 3)):
                j = x.join(room.upper())
                t.assert_eq((j.joined.room, j.joined.epoch, j.joined.last_seq, j.seqs),
                            (room, first.epoch, n, list(range(1, n + 1))),
                            "%s after the restart (name, epoch, last_seq, history)" % room)
            t.assert_eq(sorted(x.list()), [("Gone", 1), ("MixedCase", 1)],
                        "LIST after the restart (names as their creators spelled them)")


# ---------------------------------------------------------------------------
# Start-up refusals and --check-store


def test_start_refuses_what_is_not_a_chatd_store_and_check_store_says_so(srv):
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        rooms, messages = fill_store(srv, store, per_room=100)
        rc, lines = check_store(srv, store)
        t.assert_eq((rc, lines[-2:]), (0, ["%d rooms, %d messages" % (rooms, messages), "ok"]),
                    "--check-store on a sound store (exit code, last lines)")
        if not re.match(r"store %s: chatd schema 3, \d+ bytes$" % re.escape(store), lines[0]):
            raise AssertionError("--check-store's first line: %r" % lines[0])

        noise = os.path.join(d, "noise.db")
        with open(noise, "wb") as f:
            f.write(random.Random(7).randbytes(16384))
        other = os.path.join(d, "other.db")
        db = open_db(other)
        db.executescript("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);"
                         "INSERT INTO users(name) VALUES('someone');")
        db.close()
        newer = os.path.join(d, "newer.db")
        shutil.copyfile(store, newer)
        db = open_db(newer)
        db.execute("PRAGMA user_version = 4")
        db.close()
        for path, reason in ((noise, "not a SQLite database"),
                             (other, "not a chatd store"),
                             (newer, "schema version 4 is newer")):
            what = os.path.basename(path)
            got = refused_start(srv, path, what)
            if reason not in got:
                raise AssertionError("%s: reason %r does not say %r" % (what, got, reason))
            rc, lines = check_store(srv, path)
            t.assert_eq(rc, 2, "%s: --check-store exit code (%r)" % (what, lines))
            if len(lines) != 1 or path not in lines[0] or reason not in lines[0]:
                raise AssertionError("%s: --check-store printed %r, expected one line naming "
                                     "the file and saying %r" % (what, lines, reason))

        missing = os.path.join(d, "no such dir", "chatd.db")
        reason = refused_start(srv, missing, "a store in a missing directory")
        if not reason.startswith("cannot open"):
            raise AssertionError("a store in a missing directory: reason %r" % reason)
        t.assert_eq(check_store(srv, missing)[0], 2, "--check-store on a missing file")
        rc, out, err = run_to_exit(srv, "--check-store")
        t.assert_eq(rc, 2, "--check-store without --store (%r)" % err)


def damage(srv, d, how):
    """A store with many pages, damaged by how(data) -> data while chatd
    is down; returns its path."""
    store = os.path.join(d, "chatd.db")
    fill_store(srv, store)
    with open(store, "rb") as f:
        data = f.read()
    if len(data) < 100 * 4096:
        raise AssertionError("the store is too small to damage (%d bytes)" % len(data))
    with open(store, "wb") as f:
        f.write(how(data))
    return store


def check_damaged(srv, store, what):
    """chatd refuses the damaged store with one line saying damaged, and
    --check-store exits 1 ending with "damaged"."""
    reason = refused_start(srv, store, what)
    if not reason.startswith("damaged"):
        raise AssertionError("%s: refusal reason %r, expected 'damaged: ...'" % (what, reason))
    rc, lines = check_store(srv, store)
    t.assert_eq((rc, lines[-1:]), (1, ["damaged"]),
                "%s: --check-store (exit code, last line) (printed %r)" % (what, lines[:4]))


def test_start_refuses_a_store_with_pages_overwritten(srv):
    with tempfile.TemporaryDirectory() as d:
        def overwrite(data):
            # Three whole pages in the middle: their b-tree headers go too,
            # which PRAGMA quick_check sees (a few bytes inside a cell may
            # be beyond what any check can see).
            mid = len(data) // 2 // 4096 * 4096
            return data[:mid] + random.Random(11).randbytes(3 * 4096) + data[mid + 3 * 4096:]

        check_damaged(srv, damage(srv, d, overwrite), "a store with pages overwritten")


def test_start_refuses_a_truncated_store(srv):
    with tempfile.TemporaryDirectory() as d:
        store = damage(srv, d, lambda data: data[:len(data) // 2 // 4096 * 4096])
        check_damaged(srv, store, "a store truncated to half")


def test_store_on_a_read_only_file_system_is_refused_at_start(srv):
    with small_fs("4m") as d:
        if d is None:
            raise t.Skip("cannot mount a tmpfs here (needs root)")
        store = os.path.join(d, "chatd.db")
        with Chatd(srv, store) as s:
            a = s.client("alice")
            j = a.join("r")
            acks = say_all(a, [("r", "one"), ("r", "two")])
        r = subprocess.run(["mount", "-o", "remount,ro", d], capture_output=True, text=True)
        if r.returncode != 0:
            raise t.Skip("cannot remount the tmpfs read-only: %s" % r.stderr.strip())
        try:
            # Refused at start rather than served with every message
            # refused; and the reason must not call a sound store something
            # it is not (an operator might delete it).
            reason = refused_start(srv, store, "a store on a read-only file system")
            for wrong in ("not a SQLite database", "not a chatd store", "damaged"):
                if wrong in reason:
                    raise AssertionError("a sound store on a read-only file system is refused "
                                         "as %r: %r" % (wrong, reason))
        finally:
            subprocess.run(["mount", "-o", "remount,rw", d], capture_output=True)
        with Chatd(srv, store) as s:
            check_replay(s.client("bob").join("r", epoch=j.epoch),
                         [(1, "alice", "one", acks[0].time_ms),
                          (2, "alice", "two", acks[1].time_ms)],
                         "the store once writable again", epoch=j.epoch, last_seq=2)


# ---------------------------------------------------------------------------
# Migration


def test_version_1_store_is_migrated_at_start(srv):
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        epoch, now = 987654321, int(time.time() * 1000) - 60000
        old = old_messages("old message", 7, now)
        db = old_store(store, SCHEMA_V1, 1)
        db.execute("INSERT INTO rooms(id, key, name, epoch, seq) VALUES(1, 'oldies', "
                   "'OldIes', ?, 7)", (epoch,))
        db.executemany("INSERT INTO messages(room, seq, time, sender, text) VALUES(1, ?, ?, ?, ?)",
                       [(seq, at, who, text) for seq, who, text, at in old])
        db.close()
        check_old_store(srv, store, 1)

        with Chatd(srv, store) as s:
            s.wait_for_line(r"store %s: schema migrated from version 1 to 3$" % re.escape(store))
            a = s.client("alice")
            j = a.join("oldies", epoch=epoch, since=2)
            t.assert_eq(j.joined.room, "OldIes", "room name from the version-1 store")
            check_replay(j, old[2:], "cursor join after the migration", epoch=epoch, last_seq=7)
            check_replay(s.client("bob").join("OLDIES"), old, "plain join after the migration",
                         epoch=epoch, last_seq=7)
            t.assert_eq(t.assert_ack(a.say("oldies", "new"), "SAY").seq, 8,
                        "seq of the first message after the migration")

        db = open_db(store)
        try:
            t.assert_eq(db.execute("PRAGMA user_version").fetchone()[0], 3,
                        "user_version after the migration")
            t.assert_eq(db.execute("SELECT topic, topic_by, topic_ms FROM rooms").fetchall(),
                        [("", "", 0)], "the topic columns of version 3, empty")
            t.assert_eq([(m[0], m[4]) for m in stored_messages(db)["OldIes"]],
                        [(seq, epoch) for seq in range(1, 9)], "messages (seq, epoch)")
            t.assert_eq(db.execute("SELECT count(*) FROM sqlite_schema WHERE type = 'index' "
                                   "AND sql LIKE '%(time)'").fetchone()[0], 1,
                        "the index by time of version 2")
        finally:
            db.close()
        db_check(store, "after the migration")
        # Once only: a second start finds nothing to migrate.
        with Chatd(srv, store) as s:
            pass
        t.assert_eq(log_lines(s, "migrated"), [], "migration lines at the second start")


def test_version_2_store_is_migrated_at_start_and_keeps_a_topic_after(srv):
    """A store of version 2 (chunks, rooms without topics) is migrated to
    3 in place: its messages replay as before, its rooms have no topic,
    and a topic set after the migration is kept across a restart."""
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        epoch, now = 123456789, int(time.time() * 1000) - 60000
        old = old_messages("chunked", 9, now)
        db = old_store(store, SCHEMA_V2, 2)
        db.execute("INSERT INTO rooms(id, key, name, epoch, seq) VALUES(1, 'twos', 'TwoS', ?, 9)",
                   (epoch,))
        for first, last in ((1, 4), (5, 9)):
            body = json.dumps([[seq, at, who, text] for seq, who, text, at in old
                               if first <= seq <= last])
            db.execute("INSERT INTO chunks(room, first, last, epoch, time, body) "
                       "VALUES(1, ?, ?, ?, ?, ?)", (first, last, epoch, now + last, body))
        db.close()
        check_old_store(srv, store, 2)

        with Chatd(srv, store) as s:
            s.wait_for_line(r"store %s: schema migrated from version 2 to 3$" % re.escape(store))
            a = s.client("alice")
            j = a.join("twos", epoch=epoch, since=3)
            t.assert_eq(j.joined.room, "TwoS", "room name from the version-2 store")
            t.assert_eq(j.topic, None, "a migrated room's topic (none)")
            check_replay(j, old[3:], "cursor join after the migration", epoch=epoch, last_seq=9)
            f = a.topic("twos", "migrated \u2713")
            t.assert_eq((f.type, f.text, f.nick), (t.ROOM_TOPIC, "migrated \u2713", "alice"),
                        "alice's TOPIC after the migration")
            t.assert_eq(t.assert_ack(a.say("twos", "new"), "SAY").seq, 10,
                        "seq of the first message after the migration")

        db = open_db(store)
        try:
            t.assert_eq(db.execute("PRAGMA user_version").fetchone()[0], 3,
                        "user_version after the migration")
            t.assert_eq(db.execute("SELECT name, seq, topic, topic_by FROM rooms").fetchall(),
                        [("TwoS", 10, "migrated \u2713", "alice")], "the room's row")
            t.assert_eq([(m[0], m[4]) for m in stored_messages(db)["TwoS"]],
                        [(seq, epoch) for seq in range(1, 11)], "messages (seq, epoch)")
        finally:
            db.close()
        db_check(store, "after the migration from version 2")
        with Chatd(srv, store) as s:
            j = s.client("bob").join("TWOS")
            t.assert_eq((j.topic.text, j.topic.nick, j.topic.flags),
                        ("migrated \u2713", "alice", t.TOPIC_CURRENT),
                        "the topic after a restart")
            check_replay(j, old + [(10, "alice", "new", j.history[-1].time_ms)],
                         "plain join after the restart", epoch=epoch, last_seq=10)
        t.assert_eq(log_lines(s, "migrated"), [], "migration lines at the second start")


# ---------------------------------------------------------------------------
# No store


def test_store_none_forgets_at_restart(srv):
    with tempfile.TemporaryDirectory() as d:
        cwd = os.getcwd()
        os.chdir(d)  # a file called "none" would appear here
        try:
            with Chatd(srv, "none") as s:
                a = s.client("alice")
                j = a.join("r")
                say_all(a, [("r", "one"), ("r", "two")])
            with Chatd(srv, None) as s:
                j2 = s.client("bob").join("r", epoch=j.epoch, since=1)
        finally:
            os.chdir(cwd)
        if j2.joined.epoch == j.joined.epoch:
            raise AssertionError("without a store the room kept its epoch %d over a restart"
                                 % j.joined.epoch)
        t.assert_eq((j2.joined.last_seq, j2.history, j2.end.flags),
                    (0, [], t.HIST_TRUNCATED | t.HIST_EPOCH_CHANGED),
                    "after a restart without a store (last_seq, history, flags)")
        t.assert_eq(os.listdir(d), [], "files made with --store none")


# ---------------------------------------------------------------------------
# Faults at run time


def check_outage(srv, store, begin, end, what):
    """While begin(s) .. end(s) keeps chatd from writing the store: the
    message of the turn whose commit failed is ACKed and kept, later room
    messages are refused on every front end while everything else works,
    the failure is logged once; after end(s) messages are taken again
    within seconds, and a restart finds every ACKed message."""
    acked = []  # (from, text) in seq order
    with Chatd(srv, store, "--detect-window", "0.2") as s:
        a, b = s.client("alice"), s.client("bob")
        j = a.join("ops")
        b.join("ops")
        txt = text_client(s, "carol")
        txt.join("ops")
        web = Session(s, "dave")
        web.join("ops")
        ws = json_user(s, "erin")
        ws.join("ops")
        say_all(a, [("ops", "before 1"), ("ops", "before 2")])
        acked += [("alice", "before 1"), ("alice", "before 2")]

        begin(s)
        # This message's turn is the one whose commit fails: it is ACKed
        # (and delivered), and kept for a later commit.
        kept = t.assert_ack(a.say("ops", "kept"), "%s: the SAY whose commit fails" % what)
        acked.append(("alice", "kept"))
        t.assert_eq(b.expect(MESSAGE, text="kept").seq, kept.seq, "bob's MESSAGE kept")
        s.wait_for_line(r"store %s: cannot write" % re.escape(store), 5)

        err = a.say("ops", "refused framed")
        t.assert_error(err, E_STORE_UNAVAILABLE, "%s: framed SAY" % what, req_type=t.SAY)
        t.assert_eq(err.text, "history store unavailable", "%s: ERROR text" % what)
        txt.send_line("refused text")
        txt.expect_line(r"^! history store unavailable: not taken, try again later$")
        expect_error(web.req("POST", "/rooms/ops/messages", json_body={"text": "refused http"}),
                     503, "store_unavailable", "%s: HTTP POST message" % what)
        o = ws.say("ops", "refused ws")
        if o.get("type") != "error" or o.get("code") != "store_unavailable":
            raise AssertionError("%s: chatd.json say answered %r, expected error "
                                 "store_unavailable" % (what, o))

        # Everything but room messages goes on.
        a.ping()
        t.assert_eq(a.join("elsewhere").ok, True, "%s: JOIN of a new room" % what)
        late = s.client("frank").join("ops")
        t.assert_eq(late.seqs[-1:], [kept.seq], "%s: a joiner's history ends with" % what)
        t.assert_ack(a.msg("bob", "direct"), "%s: MSG" % what)
        b.expect(MESSAGE, text="direct", flags=t.MSG_DIRECT)
        b.sync()
        t.assert_eq([m.text for m in b.received(MESSAGE) if m.text.startswith("refused")], [],
                    "%s: refused messages delivered to bob" % what)
        # The commit is retried each second, and the log says so once a
        # minute: nothing to see but the passing of a retry or two.
        t.pause(1.5)
        t.assert_error(a.say("ops", "still refused"), E_STORE_UNAVAILABLE,
                       "%s: SAY after a second" % what)
        t.assert_eq(len(log_lines(s, r"store .*: cannot write")), 1,
                    "%s: 'cannot write' log lines over the retries" % what)

        end(s)
        s.wait_for_line(r"store %s: writable again" % re.escape(store), 5)
        t.assert_eq(t.assert_ack(a.say("ops", "after"), "%s: SAY once writable" % what).seq,
                    kept.seq + 1, "%s: seq after the outage" % what)
        acked.append(("alice", "after"))
        t.assert_eq(web.say("ops", "after http")["seq"], kept.seq + 2, "%s: HTTP seq" % what)
        acked.append(("dave", "after http"))
        o = ws.say("ops", "after ws")
        t.assert_eq((o.get("type"), o.get("seq")), ("ack", kept.seq + 3), "%s: ws ack" % what)
        acked.append(("erin", "after ws"))
        txt.send_line("after text")
        t.assert_eq(b.expect(MESSAGE, text="after text").seq, kept.seq + 4,
                    "%s: text seq" % what)
        acked.append(("carol", "after text"))

    with Chatd(srv, store) as s:
        j2 = s.client("bob").join("ops", epoch=j.epoch)
        t.assert_eq([(m.seq, m.from_, m.text) for m in j2.history],
                    [(k + 1, who, text) for k, (who, text) in enumerate(acked)],
                    "%s: the room after a restart (seq, from, text)" % what)
        t.assert_eq(j2.end.flags, 0, "%s: HISTORY_END flags after the restart" % what)


def test_full_file_system_refuses_room_messages_until_space_returns(srv):
    with small_fs("1m") as d:
        if d is None:
            # No mount here: the file-size limit makes writes fail the same
            # way (EFBIG instead of ENOSPC).
            test_file_size_limit_refuses_room_messages_until_raised(srv)
            return
        store = os.path.join(d, "chatd.db")
        filler = []
        check_outage(srv, store, lambda s: filler.append(fill_up(d)),
                     lambda s: os.unlink(filler[0]), "full tmpfs")


def test_file_size_limit_refuses_room_messages_until_raised(srv):
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")

        def begin(s):
            # At the size the log has now: the next commit grows it past.
            ok, why = prlimit(s.pid, os.path.getsize(store + "-wal"))
            if not ok:
                raise t.Skip("prlimit cannot limit chatd's file size: %s" % why)

        def end(s):
            ok, why = prlimit(s.pid, "unlimited")
            if not ok:
                raise AssertionError("prlimit cannot raise the limit again: %s" % why)

        check_outage(srv, store, begin, end, "file-size limit")


# A store made read-only under a running chatd cannot be staged here: Linux
# refuses "mount -o remount,ro" (EBUSY) while a file on the file system is
# open for writing, as the store always is.  A full disk and the file-size
# limit above are the run-time write failures; a read-only file system at
# start is refused by the test before them.


def test_write_failure_log_names_its_cause(srv):
    with small_fs("1m") as d:
        if d is None:
            raise t.Skip("cannot mount a tmpfs here (needs root)")
        store = os.path.join(d, "chatd.db")
        with Chatd(srv, store) as s:
            a = s.client("alice")
            a.join("r")
            say_all(a, [("r", "before")])
            filler = fill_up(d)
            t.assert_ack(a.say("r", "kept"), "SAY whose commit fails")
            m = s.wait_for_line(r"store %s: cannot write: .*" % re.escape(store), 5)
            os.unlink(filler)
            s.wait_for_line(r"writable again", 5)
        # An operator reads why: the disk is full (SQLite: "database or
        # disk is full"), not what a later step said.
        if "full" not in m.group(0):
            raise AssertionError("the log line of a failed commit on a full file system does "
                                 "not say it is full: %r" % m.group(0))


def test_a_program_holding_the_store_locked_delays_acks_then_they_go_on(srv):
    """Another program's write transaction on the store (the checkpointer's
    are a millisecond or two): a turn's commit waits, and its ACKs and
    messages with it; released soon, they go out then.  Held longer than
    half a second, the commit counts as failed, as on a full disk: the
    output goes, the message is kept and written once the lock is gone,
    and room messages are refused meanwhile."""
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "chatd.db")
        with Chatd(srv, store) as s:
            a, b = s.client("alice"), s.client("bob")
            a.join("r")
            b.join("r")
            t.assert_ack(a.say("r", "before"), "SAY before the lock")
            b.expect(MESSAGE, 5, text="before")
            a.drain()
            db = sqlite3.connect(store, isolation_level=None, timeout=5)
            try:
                db.execute("BEGIN IMMEDIATE")
                ref = a.say("r", "waits", wait=False)
                got = [f for f in a.drain(0.2) + b.drain(0.01)
                       if f.type in (ACK, MESSAGE, ERROR)]
                t.assert_eq(got, [], "output while the store is locked for 0.2 s")
                db.execute("ROLLBACK")
                t.assert_ack(a.expect((ACK, ERROR), 5, ref=ref), "SAY that waited")
                t.assert_eq(b.expect(MESSAGE, 5).text, "waits", "bob's message that waited")

                db.execute("BEGIN IMMEDIATE")
                t0 = time.monotonic()
                t.assert_ack(a.say("r", "kept", timeout=5), "SAY while locked for long")
                waited = time.monotonic() - t0
                if waited < 0.4:
                    raise AssertionError("ACK after %.2f s of lock, not after half a second"
                                         % waited)
                s.wait_for_line(r"store %s: cannot write: database is locked"
                                % re.escape(store), 5)
                e = a.say("r", "refused")
                t.assert_eq((e.type, e.code), (ERROR, E_STORE_UNAVAILABLE),
                            "SAY while the store stays locked")
                db.execute("ROLLBACK")
                s.wait_for_line(r"writable again; 1 kept messages written", 5)
                t.assert_ack(a.say("r", "after"), "SAY after the lock")
            finally:
                db.close()
        texts = [m[2] for m in db_check(store, "the store")["r"]]
        t.assert_eq(texts, ["before", "waits", "kept", "after"], "messages in the store")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
