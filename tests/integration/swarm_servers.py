#!/usr/bin/env python3
"""chatd-swarm --server A,B,...: the bots spread over the entries in turn
by id (bot i connects to entry i mod N, reconnects included), every
transport honours its bot's entry, and the checks stay exact when a
room's members are on different entries.

- One chatd listed twice (127.0.0.1:P,127.0.0.1:P), and under two
  spellings (127.0.0.1:P and [::1]:Q, two listeners of one process): the
  rooms span both entries, with every transport, direct messages and
  churn; nothing may be lost, duplicated, reordered or misrouted, and the
  text, JSON and HTML reports list both entries with their bot counts.
- Two separate chatd processes, rooms laid out so that each room's
  members are all on one of them (--rooms even, one room per bot): the
  history each chatd keeps of each room must hold messages from exactly
  the bots i with i mod 2 equal to its place in the list, and none from
  the others, for every transport (a five-entry --transport list, so that
  every transport has bots on both), with churn resets that reconnect.
- Two chatd processes with --max-conns-per-ip 100 and 400 bots: the
  loopback source addresses are counted per server (2 addresses for 200
  bots a server), and no connection is refused.
- A bad entry is one line naming it, exit 2; so is a --server-pid list
  that does not match the servers.

    python3 swarm_servers.py --chatd build/chatd --swarm build/chatd-swarm
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import chatdtest as t

SWARM = None  # set from --swarm in main()
SERVER_ARGS = ("--flood-rate", "0", "--max-conns-per-ip", "0")
CHECKS = ("lost", "duplicated", "reordered", "misrouted", "bad_payload")
TRANSPORTS_5 = "framed,http,ws,ws-json,framed"  # coprime with 2: every transport on both


def swarm(servers, *args, html=False, expect_rc=0):
    """Run chatd-swarm against the entries in servers; returns (stdout,
    JSON report, HTML text or None)."""
    with tempfile.TemporaryDirectory() as tmp:
        jpath = os.path.join(tmp, "swarm.json")
        hpath = os.path.join(tmp, "swarm.html")
        cmd = [SWARM, "--server", ",".join(servers), "--warmup", "0.5", "--grace", "5",
               "--json", jpath, "--quiet", *map(str, args)]
        if html:
            cmd += ["--report", hpath]
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=90, env=env)
        print("$ chatd-swarm " + " ".join(cmd[1:]))
        print(p.stdout, end="")
        if p.stderr:
            print(p.stderr, end="", file=sys.stderr)
        for mark in t.SANITIZER_MARKS:
            if mark in p.stderr:
                raise AssertionError("sanitizer report from chatd-swarm: %s" % mark)
        t.assert_eq(p.returncode, expect_rc, "chatd-swarm exit status")
        with open(jpath) as f:
            r = json.load(f)
        page = None
        if html:
            with open(hpath, encoding="utf-8") as f:
                page = f.read()
        return p.stdout, r, page


def assert_clean(r, bots):
    t.assert_eq(r["result"], "ok", "result")
    t.assert_eq(r["ready"], bots, "bots ready")
    for k in CHECKS:
        t.assert_eq(r[k], 0, k)
    if r["delivered"] == 0:
        raise AssertionError("nothing was delivered: %r" % r)


def assert_servers_listed(stdout, r, expect):
    """expect: [(entry, bots)] in --server's order, in the text and JSON."""
    got = [(s["server"], s["bots"]) for s in r["servers"]]
    t.assert_eq(got, expect, "JSON servers")
    for s in r["servers"]:
        t.assert_eq(s["ready"], s["bots"], "ready on %s" % s["server"])
    line = [ln for ln in stdout.splitlines() if re.match(r"  servers? +\S+ \d+ bots", ln)]
    want = r"  servers? +" + r"(?: [^,]*)?, ".join(
        re.escape("%s %d bots (%d ready)" % (e, n, n)) for e, n in expect) + r"(?: .*)?"
    if len(line) != 1 or not re.fullmatch(want, line[0]):
        raise AssertionError("text report: expected one servers line matching %r, got %r"
                             % (want, line))


def test_one_server_listed_twice_shares_its_rooms(chatd):
    """127.0.0.1:P twice: rooms span the two entries, checks exact."""
    with t.Server(chatd, *SERVER_ARGS) as srv:
        entry = "127.0.0.1:%d" % srv.port
        out, r, _ = swarm([entry, entry], "--bots", "60", "--rooms", "4", "--rooms-per-bot",
                          "2", "--rate", "4", "--direct", "0.1", "--churn", "4",
                          "--duration", "2", "--transport", TRANSPORTS_5)
        assert_clean(r, 60)
        assert_servers_listed(out, r, [(entry, 30), (entry, 30)])
    print("ok one server listed twice shares its rooms")


def test_same_server_over_ipv4_and_ipv6(chatd):
    """127.0.0.1:P and [::1]:Q, two listeners of one chatd: the same, and
    the HTML report's servers table."""
    with t.Server(chatd, *SERVER_ARGS, "--listen", "[::1]:0") as srv:
        m = srv.wait_for_line(r"listening on \[::1\]:(\d+)")
        v4, v6 = "127.0.0.1:%d" % srv.port, "[::1]:%s" % m.group(1)
        out, r, page = swarm([v4, v6], "--bots", "61", "--rooms", "3", "--rooms-per-bot",
                             "2", "--rate", "4", "--direct", "0.1", "--churn", "4",
                             "--duration", "2", "--transport", TRANSPORTS_5,
                             "--server-pid", "%d,%d" % (srv.pid, srv.pid), html=True)
        assert_clean(r, 61)
        assert_servers_listed(out, r, [(v4, 31), (v6, 30)])
        for s in r["servers"]:
            t.assert_eq(s["pid"], srv.pid, "pid of %s" % s["server"])
        root = ET.fromstring(page.split("\n", 1)[1])  # after the DOCTYPE
        table = [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "table"
                 and e.get("id") == "servers"]
        t.assert_eq(len(table), 1, "HTML servers tables")
        rows = [(tr.get("data-server"), [td.text for td in tr if td.tag.endswith("td")])
                for tr in table[0] if tr.get("data-server")]
        t.assert_eq(rows, [(v4, [v4, "31", "31"]), (v6, [v6, "30", "30"])],
                    "HTML servers rows")
    print("ok same server over IPv4 and IPv6")


def senders_of(port, room):
    """The bot ids whose messages chatd at port keeps in room's history."""
    with t.Client(port) as c:
        c.hello("reader")
        res = c.join(room)
        if not res.ok:
            raise AssertionError("JOIN %s on :%d refused: %r" % (room, port, res.error))
        ids = set()
        for msg in res.history:
            mm = re.fullmatch(r"b(\d+)(?:-\d+)?", msg.from_)
            if not mm:
                raise AssertionError("history of %s on :%d: a message from %r"
                                     % (room, port, msg.from_))
            ids.add(int(mm.group(1)))
        return ids


def test_bot_i_connects_to_server_i_mod_n(chatd):
    """Two separate chatds; bot i in room i mod 4 on server i mod 2: each
    chatd's history of each room names exactly the bots that belong
    there, whatever they speak, reconnects included."""
    bots, rooms = 40, 4
    args = SERVER_ARGS + ("--history", "500")
    with t.Server(chatd, *args) as a, t.Server(chatd, *args) as b:
        entries = ["127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port]
        out, r, _ = swarm(entries, "--bots", bots, "--rooms", rooms, "--rate", "2",
                          "--churn", "3", "--duration", "1.5", "--transport", TRANSPORTS_5)
        assert_clean(r, bots)
        assert_servers_listed(out, r, [(entries[0], 20), (entries[1], 20)])
        if r["churn_resets"] == 0:
            raise AssertionError("no churn reset: nothing reconnected: %r" % r)
        for n, srv in enumerate((a, b)):
            for room in range(rooms):
                got = senders_of(srv.port, "r%d" % room)
                want = {i for i in range(bots) if i % rooms == room} if room % 2 == n else set()
                t.assert_eq(sorted(got), sorted(want),
                            "senders in r%d on server %d" % (room, n))
    print("ok bot i connects to server i mod n")


def test_sources_spread_per_server(chatd):
    """400 bots over two chatds that allow 100 connections an address:
    200 a server, 2 loopback addresses (100 of each server's on each)."""
    args = ("--flood-rate", "0", "--max-conns-per-ip", "100")
    with t.Server(chatd, *args) as a, t.Server(chatd, *args) as b:
        entries = ["127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port]
        out, r, _ = swarm(entries, "--bots", "400", "--idle", "--duration", "0.5")
        t.assert_eq(r["result"], "ok", "result")
        t.assert_eq(r["ready"], 400, "bots ready")
        t.assert_eq(r["sources"], 2, "source addresses")
        assert_servers_listed(out, r, [(entries[0], 200), (entries[1], 200)])
    print("ok sources spread per server")


def test_bad_lists_are_one_line_exit_2(chatd):
    del chatd
    cases = [
        ("127.0.0.1:7000,nope", r"--server: entry 2 'nope' is not ADDR:PORT"),
        ("127.0.0.1:7000,", r"--server: entry 2 of 2 is empty"),
        (",127.0.0.1:7000", r"--server: entry 1 of 2 is empty"),
        ("127.0.0.1:7000,[::1]:0", r"--server: entry 2 '\[::1\]:0' is not ADDR:PORT"),
        ("nope", r"--server: 'nope' is not ADDR:PORT"),
    ]
    for arg, want in cases:
        p = subprocess.run([SWARM, "--server", arg, "--bots", "1"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=10)
        t.assert_eq(p.returncode, 2, "exit status for --server %r" % arg)
        t.assert_eq(p.stdout, "", "stdout for --server %r" % arg)
        lines = p.stderr.splitlines()
        if len(lines) != 1 or not re.fullmatch("chatd-swarm: " + want, lines[0]):
            raise AssertionError("--server %r: expected one line %r, got %r"
                                 % (arg, want, p.stderr))
    p = subprocess.run([SWARM, "--server", "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3",
                        "--server-pid", "%d,%d" % (os.getpid(), os.getpid())],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    t.assert_eq(p.returncode, 2, "exit status for a --server-pid list of 2 for 3 servers")
    t.assert_eq(p.stderr, "chatd-swarm: --server-pid: 2 processes for 3 servers (give one, "
                "or one per server)\n", "--server-pid mismatch")
    print("ok bad lists are one line, exit 2")


def main():
    global SWARM
    ap = argparse.ArgumentParser()
    ap.add_argument("--chatd", required=True)
    ap.add_argument("--swarm", required=True)
    args = ap.parse_args()
    SWARM = os.path.abspath(args.swarm)
    chatd = os.path.abspath(args.chatd)
    test_bad_lists_are_one_line_exit_2(chatd)
    test_one_server_listed_twice_shares_its_rooms(chatd)
    test_same_server_over_ipv4_and_ipv6(chatd)
    test_bot_i_connects_to_server_i_mod_n(chatd)
    test_sources_spread_per_server(chatd)
    print("PASS swarm_servers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
