#!/usr/bin/env python3
"""chatd-swarm across restarts of a chatd with a store (--store): nothing
that was acknowledged may be lost.

Two runs of the swarm, each with --restart-every and a restart command
that asks this script to restart chatd on the same address:

- kill -9 at a random moment of the traffic, at least MIN_KILLS times;
- SIGTERM, a graceful restart, a few times: it must lose nothing at all
  (no message in the store whose ACK did not reach its sender).

After each run the swarm's exact checks must have passed (nothing lost,
duplicated or reordered; every sequence number one message for every
bot; every bot back), and the store, opened with sqlite3, must be sound:
PRAGMA integrity_check ok, each room's messages numbered 1..N with no gap
and no duplicate and in the room's epoch, rooms.seq >= the highest, and
every message the swarm's ledger (--ledger) records as acknowledged there
at its number with its payload; a message whose ACK went with a kill is
there at most once, and the swarm counted as many of those as the store
holds.  A third, short run puts the store back as it was one restart
earlier: the swarm must fail, and say why.

The restart command is this script with --restart SOCKET: it asks the
scenario, over a Unix socket, to restart chatd (the scenario is chatd's
parent, so it reaps each one it kills), and exits 0 once the new chatd
listens.

    python3 swarm_restart.py --chatd build/chatd --swarm build/chatd-swarm

--heavy runs only the kill -9 run, under load (100 bots sending as fast as
chatd takes them, in 2 rooms), with the same checks; not in CI.  --seed
repeats the kill moments, --keep DIR keeps the stores, reports and ledgers.
"""

import argparse
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import chatdtest as t

MIN_KILLS = 20
KILL_JITTER = 0.3  # the kill comes 0..KILL_JITTER s after the swarm asks
# No retention by count: the store must hold every message of the run.
CHATD_ARGS = ("--flood-rate", "0", "--max-conns-per-ip", "0", "--retention-messages", "0")
CHECKS = ("lost", "duplicated", "reordered", "misrouted", "bad_payload")


class Chatd:
    """The real chatd with a store, on one port of 127.0.0.1 for all its
    incarnations; restart() ends one (by sig) and starts the next."""

    def __init__(self, path, store):
        self.path = path
        self.store = store
        self.port = 0
        self.proc = None
        self.lines = []
        self.kills = 0
        self.restarts = 0
        self.problems = []

    def start(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.proc = subprocess.Popen(
            [self.path, "--listen", "127.0.0.1:%d" % self.port, "--store", self.store,
             *CHATD_ARGS], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 15
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            m = re.search(r"listening on (\S+):(\d+)", line)
            if m:
                self.port = int(m.group(2))
                break
            if time.monotonic() > deadline:
                break
        else:
            raise AssertionError("chatd exited (code %s) before listening:\n%s"
                                 % (self.proc.wait(5), "\n".join(self.lines[-20:])))
        if not self.port:
            raise AssertionError("chatd did not listen within 15 s")
        threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()

    def _drain(self, proc):
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if any(mark in line for mark in t.SANITIZER_MARKS):
                self.problems.append("sanitizer report from chatd: %s" % line)

    def stop(self, sig):
        """End this chatd with sig and check how it went."""
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("chatd did not exit within 15 s of signal %d" % sig)
        want = -signal.SIGKILL if sig == signal.SIGKILL else 0
        if rc != want:
            raise AssertionError("chatd exited %s after signal %d, expected %s:\n%s"
                                 % (rc, sig, want, "\n".join(self.lines[-20:])))
        if sig == signal.SIGKILL:
            self.kills += 1

    def restart(self, sig, jitter, between=None):
        """A while into the traffic, end chatd with sig and start it again
        (after between(n), n from 1, if given)."""
        time.sleep(random.uniform(0, jitter))
        self.stop(sig)
        if between:
            between(self.restarts + 1)
        self.start()
        self.restarts += 1


def serve_restarts(sock_path, chatd, sig, jitter, between):
    """Answer restart requests on a Unix socket: "ok" once chatd is back,
    or "fail" and why.  Returns the listening socket (closed by the
    caller)."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(4)

    def loop():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.recv(64)
                    chatd.restart(sig, jitter, between)
                    conn.sendall(b"ok %d\n" % chatd.restarts)
                except Exception as e:  # told to the restart command
                    chatd.problems.append("restart %d: %s" % (chatd.restarts + 1, e))
                    conn.sendall(("fail %s\n" % e).encode())

    threading.Thread(target=loop, daemon=True).start()
    return srv


def ask_restart(sock_path):
    """--restart: the swarm's restart command.  Exit 0 once chatd is back."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(sock_path)
    s.sendall(b"restart\n")
    reply = b""
    while not reply.endswith(b"\n"):
        got = s.recv(256)
        if not got:
            break
        reply += got
    if not reply.startswith(b"ok"):
        sys.stderr.write("restart failed: %s\n" % reply.decode(errors="replace").strip())
        return 1
    return 0


def run_swarm(swarm, chatd, tmp, sig, every, duration, *extra, between=None, status=0):
    """One swarm run whose restart command restarts chatd with sig, and
    that exits with status (None: any).  Returns (the swarm's JSON report,
    the ledger's lines)."""
    name = os.path.splitext(os.path.basename(chatd.store))[0]
    sock = os.path.join(tmp, name + ".sock")
    out = os.path.join(tmp, name + ".json")
    ledger = os.path.join(tmp, name + ".ledger")
    srv = serve_restarts(sock, chatd, sig, KILL_JITTER, between)
    restart_cmd = " ".join(shlex.quote(a) for a in
                           (sys.executable, "-S", os.path.abspath(__file__), "--restart", sock))
    cmd = [swarm, "--server", "127.0.0.1:%d" % chatd.port, "--warmup", "0.5",
           "--duration", str(duration), "--grace", "10", "--restart-every", str(every),
           "--restart-cmd", restart_cmd, "--json", out, "--ledger", ledger, "--quiet",
           *map(str, extra)]
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    started = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=duration + 60, env=env)
    finally:
        srv.close()
    print("$ chatd-swarm " + " ".join(shlex.quote(a) for a in cmd[1:]))
    print("(%.1f s)" % (time.monotonic() - started))
    print(p.stdout, end="")
    if p.stderr:
        print(p.stderr, end="", file=sys.stderr)
    for mark in t.SANITIZER_MARKS:
        if mark in p.stderr:
            raise AssertionError("sanitizer report from chatd-swarm: %s" % mark)
    if chatd.problems:
        raise AssertionError("; ".join(chatd.problems))
    if status is not None and p.returncode != status:
        raise AssertionError("chatd-swarm exited %d, expected %d" % (p.returncode, status))
    with open(out) as f:
        report = json.load(f)
    with open(ledger) as f:
        lines = [line.split() for line in f]
    return report, lines


def check_report(r, bots):
    """The swarm's exact checks passed, across its restarts."""
    t.assert_eq(r["result"], "ok", "JSON result")
    t.assert_eq(r["ready"], bots, "bots ready")
    for k in CHECKS:
        t.assert_eq(r[k], 0, k)
    rs = r["restart"]
    t.assert_eq(rs["failed"], 0, "failed restarts")
    t.assert_eq(rs["bots_back"], bots, "bots back after the last restart")
    for k in ("conflicts", "room_duplicated", "room_reordered", "rooms_started_over"):
        t.assert_eq(rs[k], 0, k)
    if rs["commands"] < 1 or rs["reconnects"] < bots:
        raise AssertionError("the restarts did not reach the bots: %r" % rs)
    if r["acked"] == 0:
        raise AssertionError("nothing was acknowledged: %r" % r)


def payload(text):
    """A swarm payload's sender, target and sequence (src/swarm/botmsg.h)."""
    return int(text[1:9], 16), int(text[9:17], 16), int(text[17:33], 16)


def check_store(chatd_path, db, report, ledger):
    """The store is sound, and holds every acknowledged message.  Returns
    how many messages whose ACK went with a restart it holds."""
    rc = subprocess.run([chatd_path, "--store", db, "--check-store"], capture_output=True,
                        text=True, timeout=60)
    if rc.returncode != 0:
        raise AssertionError("chatd --check-store exited %d:\n%s%s"
                             % (rc.returncode, rc.stdout, rc.stderr))
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        t.assert_eq(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)],
                    "PRAGMA integrity_check")
        # messages: a table keyed by rooms.id (schema 1), or a view over
        # the chunks that names the room (schema 2).
        view = con.execute("SELECT type FROM sqlite_schema WHERE name = 'messages'"
                           ).fetchone() == ("view",)
        rooms = {}
        for rid, key, name, epoch, seq in con.execute(
                "SELECT id, key, name, epoch, seq FROM rooms").fetchall():
            rows = con.execute("SELECT seq, epoch, sender, text FROM messages WHERE room = ?"
                               " ORDER BY seq", (name if view else rid,)).fetchall()
            seqs = [row[0] for row in rows]
            if seqs != list(range(1, len(seqs) + 1)):
                gaps = sorted(set(range(1, (seqs[-1] if seqs else 0) + 1)) - set(seqs))
                raise AssertionError("room %s: seqs are not 1..%d: %d missing (%s...), "
                                     "%d duplicated" % (key, len(seqs), len(gaps), gaps[:5],
                                                        len(seqs) - len(set(seqs))))
            if seqs and seq < seqs[-1]:
                raise AssertionError("room %s: rooms.seq %d < the highest message %d"
                                     % (key, seq, seqs[-1]))
            for s, e, _, _ in rows:
                if e != epoch:
                    raise AssertionError("room %s: message %d of epoch %d, the room's is %d"
                                         % (key, s, e, epoch))
            rooms[key] = {"epoch": epoch, "msgs": {s: (nick, text) for s, _, nick, text in rows}}
    finally:
        con.close()

    acked = 0
    per_room = {}
    by_payload = {}
    for name, room in rooms.items():
        for s, (nick, text) in room["msgs"].items():
            sender, target, pseq = payload(text)
            if "r%d" % target != name:
                raise AssertionError("room %s holds a message for r%d: seq %d by %s: %s"
                                     % (name, target, s, nick, text))
            if nick != "b%d" % sender and not nick.startswith("b%d-" % sender):
                raise AssertionError("message by %s carries sender %d's payload" % (nick, sender))
            key = (target, sender, pseq)
            by_payload[key] = by_payload.get(key, 0) + 1
    dup = [k for k, n in by_payload.items() if n > 1]
    if dup:
        raise AssertionError("%d payloads are in the store twice, e.g. %r" % (len(dup), dup[0]))
    unacked_in_store = 0
    for f in ledger:
        if f[0] == "ack":
            room, epoch, seq, sender, pseq = f[1], int(f[2]), int(f[3]), int(f[4]), int(f[5])
            got = rooms.get(room)
            if got is None:
                raise AssertionError("acknowledged %r: room not in the store" % (f,))
            t.assert_eq(epoch, got["epoch"], "epoch of acknowledged %r" % (f,))
            if seq not in got["msgs"]:
                raise AssertionError("acknowledged %r: seq %d not in the store (room has %d)"
                                     % (f, seq, len(got["msgs"])))
            _, text = got["msgs"][seq]
            t.assert_eq(payload(text), (sender, int(room[1:]), pseq),
                        "payload at acknowledged %r" % (f,))
            acked += 1
            per_room[room] = per_room.get(room, 0) + 1
        elif f[0] == "unacked":
            room, sender, pseq = f[1], int(f[3]), int(f[4])
            unacked_in_store += by_payload.get((int(room[1:]), sender, pseq), 0)
        else:
            raise AssertionError("ledger line %r" % (f,))
    t.assert_eq(acked, sum(r["acked"] for r in report["restart"]["rooms"]),
                "acknowledged room messages in the ledger")
    for r in report["restart"]["rooms"]:
        t.assert_eq(per_room.get(r["room"], 0), r["acked"], "acked in %s" % r["room"])
        got = rooms.get(r["room"])
        if r["acked"] and (got is None or len(got["msgs"]) < r["last_acked"]):
            raise AssertionError("room %s: the store ends before its last acknowledged "
                                 "message %d" % (r["room"], r["last_acked"]))
    # The swarm knows of those its bots saw: all of them, unless a rejoin
    # was told that more than it replays were missed (TRUNCATED).
    seen = report["restart"]["unacked_in_room"]
    if report["missed_announced"] == 0 and report["restart"]["unseen"] == 0:
        t.assert_eq(unacked_in_store, seen, "messages whose ACK went with a restart, in the store")
    elif unacked_in_store < seen:
        raise AssertionError("%d messages whose ACK went with a restart in the store, the swarm "
                             "saw %d" % (unacked_in_store, seen))
    print("store: %d rooms, %d messages, %d acknowledged ones all there, %d of %d unacknowledged"
          " ones there too" % (len(rooms), sum(len(r["msgs"]) for r in rooms.values()), acked,
                               unacked_in_store, report["unacked"]))
    return unacked_in_store


def rollback(db, keep):
    """A between() for Chatd.restart() that makes the store forget: at
    the first restart it copies the store aside, at the second it puts the
    copy back, so that chatd comes back without what it acknowledged in
    between."""
    def between(n):
        files = ("", "-wal")
        if n == 1:
            for f in files:
                if os.path.exists(db + f):
                    shutil.copyfile(db + f, keep + f)
        elif n == 2:
            for f in ("", "-wal", "-shm"):
                if os.path.exists(db + f):
                    os.unlink(db + f)
            for f in files:
                if os.path.exists(keep + f):
                    shutil.copyfile(keep + f, db + f)
    return between


def heavy(chatd_path, swarm, tmp, seed):
    """--heavy: kill -9 every half second while 100 bots in 2 rooms send as
    fast as chatd takes them, so that output waits for slow readers and
    turns are long: the same checks, under load."""
    db = os.path.join(tmp, "heavy.db")
    chatd = Chatd(chatd_path, db)
    chatd.start()
    try:
        r, ledger = run_swarm(swarm, chatd, tmp, signal.SIGKILL, 0.5, 20, "--bots", 100,
                              "--rooms", 2, "--rate", 0, "--window", 64,
                              "--seed", seed % 1000 + 4, status=None)
    finally:
        chatd.stop(signal.SIGTERM)
    check_store(chatd_path, db, r, ledger)
    check_report(r, 100)
    print("PASS swarm_restart --heavy (%d kills)" % chatd.kills)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chatd")
    ap.add_argument("--swarm")
    ap.add_argument("--restart", metavar="SOCKET", help="(the swarm's restart command)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", metavar="DIR", help="keep the stores, reports and ledgers in DIR")
    ap.add_argument("--heavy", action="store_true",
                    help="only the kill -9 run, as fast as chatd takes messages (not in CI)")
    args = ap.parse_args()
    if args.restart:
        return ask_restart(args.restart)
    if not args.chatd or not args.swarm:
        ap.error("--chatd and --swarm are required")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    random.seed(seed)
    print("seed %d (--seed to repeat the kill moments)" % seed)
    chatd_path, swarm = os.path.abspath(args.chatd), os.path.abspath(args.swarm)
    bots = 200
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or scratch
        if args.heavy:
            return heavy(chatd_path, swarm, tmp, seed)
        # kill -9 at random moments of the traffic.
        db = os.path.join(tmp, "kill.db")
        chatd = Chatd(chatd_path, db)
        chatd.start()
        try:
            r, ledger = run_swarm(swarm, chatd, tmp, signal.SIGKILL, 0.5, 30, "--bots", bots,
                                  "--rooms", 8, "--rooms-per-bot", 2, "--rate", 10,
                                  "--direct", 0.02, "--churn", 2, "--seed", seed % 1000 + 1)
        finally:
            chatd.stop(signal.SIGTERM)
        check_report(r, bots)
        if chatd.kills < MIN_KILLS:
            raise AssertionError("%d kills, fewer than %d" % (chatd.kills, MIN_KILLS))
        check_store(chatd_path, db, r, ledger)
        kills = chatd.kills

        # A graceful restart (SIGTERM) loses nothing at all.
        db = os.path.join(tmp, "term.db")
        chatd = Chatd(chatd_path, db)
        chatd.start()
        try:
            r, ledger = run_swarm(swarm, chatd, tmp, signal.SIGTERM, 1, 8, "--bots", bots,
                                  "--rooms", 8, "--rooms-per-bot", 2, "--rate", 10,
                                  "--seed", seed % 1000 + 2)
        finally:
            chatd.stop(signal.SIGTERM)
        check_report(r, bots)
        if chatd.restarts < 3:
            raise AssertionError("%d graceful restarts, fewer than 3" % chatd.restarts)
        held = check_store(chatd_path, db, r, ledger)
        t.assert_eq(held, 0, "messages stored by a graceful restart without their ACK")
        t.assert_eq(r["restart"]["unacked_in_room"], 0, "unacked messages in their rooms")
        graceful = chatd.restarts

        # The checks see a store that forgets: one put back, at the second
        # restart, as it was at the first.
        db = os.path.join(tmp, "forget.db")
        chatd = Chatd(chatd_path, db)
        chatd.start()
        try:
            r, ledger = run_swarm(swarm, chatd, tmp, signal.SIGKILL, 1, 6, "--bots", 50,
                                  "--rooms", 4, "--rate", 10, "--seed", seed % 1000 + 3,
                                  between=rollback(db, db + ".copy"), status=1)
        finally:
            chatd.stop(signal.SIGTERM)
        rs = r["restart"]
        t.assert_eq(r["result"], "fail", "result with a store that forgot")
        if rs["rooms_started_over"] == 0 or rs["conflicts"] == 0:
            raise AssertionError("a store put back unseen: %r" % rs)
        try:
            check_store(chatd_path, db, r, ledger)
        except AssertionError as e:
            print("store check, as expected: %s" % e)
        else:
            raise AssertionError("the store check passed a store that forgot")
    print("PASS swarm_restart (%d kills, %d graceful restarts)" % (kills, graceful))
    return 0


if __name__ == "__main__":
    sys.exit(main())
