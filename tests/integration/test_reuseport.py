#!/usr/bin/env python3
"""--reuseport: two real chatd processes with it listen on one port of
127.0.0.1 and the kernel spreads clients over both (each process lists and
logs only its own); a process without it cannot take that port, and one
with it cannot take a port held without it, each with one error line and
exit status 1 as for any port in use; a socket passed by systemd is used
as it comes, without SO_REUSEPORT; --print-config and --help show the
option and the key."""

import os
import re
import socket
import subprocess
import sys
import tempfile

import chatdtest as t
from chatdtest import WELCOME
from test_sdnotify import activated
from test_service import require_libsystemd

CLIENTS = 40  # all on one process by chance: 2 in 2^40


def run(path, *args):
    p = subprocess.run([path, *args], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=10, text=True)
    return p.returncode, p.stdout, p.stderr


def server_on(path, port, *args):
    """A Server listening on 127.0.0.1:port instead of an ephemeral port."""
    s = t.Server(path, *args)
    s.args = [path, "--listen", "127.0.0.1:%d" % port, *map(str, args)]
    return s


def start_failure(path, *args):
    """Run a chatd that must fail to start: (exit code, its error lines,
    all of its output)."""
    p = subprocess.run([path, *args], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=10, text=True)
    if p.returncode == 0 or p.returncode is None:
        raise AssertionError("chatd %s started (exit %r):\n%s" % (args, p.returncode, p.stderr))
    out = p.stdout + p.stderr
    return p.returncode, [l for l in out.splitlines() if l.startswith("error:")], out


def registered(srv):
    """The nicks srv's log says registered."""
    return {m.group(1) for l in srv.stderr_tail(10 * CLIENTS)
            for m in [re.search(r"registered as (\S+)$", l)] if m}


@t.server_args("--reuseport")
def test_two_processes_share_one_port_and_each_serves_its_own_clients(srv):
    srv.wait_for_line(r"listening on 127\.0\.0\.1:%d \(detected\), port shared \(SO_REUSEPORT\)"
                      % srv.port, 5)
    clients = []
    with server_on(srv.path, srv.port, "--reuseport") as other:
        t.assert_eq(other.port, srv.port, "second process's port")
        other.wait_for_line(r"port shared \(SO_REUSEPORT\)", 5)
        try:
            nicks = ["u%02d" % i for i in range(CLIENTS)]
            for nick in nicks:
                clients.append(t.Client(srv.port, nick, label=nick))
            # Each process answers USERS with its own users only: the
            # clients fall into two disjoint groups that cover them all.
            groups = {}
            for c in clients:
                users = frozenset(c.users())
                if c.name not in users:
                    raise AssertionError("%s is not in its own USERS %s" % (c.name, sorted(users)))
                groups.setdefault(users, []).append(c.name)
            if len(groups) != 2:
                raise AssertionError("expected two processes' USERS listings, got %d: %s"
                                     % (len(groups), [sorted(g) for g in groups]))
            for users, members in groups.items():
                t.assert_eq(sorted(members), sorted(users), "clients that list %s" % sorted(users))
            a, b = groups
            t.assert_eq(a & b, frozenset(), "nicks listed by both processes")
            t.assert_eq(sorted(a | b), nicks, "nicks listed by the two processes")
            print("    clients per process: %d and %d" % (len(a), len(b)))
            # The logs agree: each process registered the nicks it lists.
            t.wait_until(lambda: len(registered(srv)) + len(registered(other)) == CLIENTS, 5,
                         what="every registration logged")
            t.assert_eq(sorted([sorted(registered(srv)), sorted(registered(other))]),
                        sorted(map(sorted, groups)), "nicks each process logged as registered")
        finally:
            for c in clients:
                c.close()
    # With one process gone, the port is still served by the other.
    with t.Client(srv.port, "late") as c:
        t.assert_eq(c.welcome.type, WELCOME, "HELLO after the second process stopped")
        t.assert_eq(c.users(), ["late"], "USERS after the second process stopped")


@t.server_args("--reuseport")
def test_a_process_without_reuseport_cannot_take_a_shared_port(srv):
    rc, errors, out = start_failure(srv.path, "--listen", "127.0.0.1:%d" % srv.port)
    t.assert_eq(rc, 1, "exit code of chatd without --reuseport on a shared port")
    t.assert_eq(errors, ["error: listen 127.0.0.1:%d: Address already in use" % srv.port],
                "error lines (output %r)" % out)
    # The same line and exit status as for a port any program holds.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        rc2, errors2, out2 = start_failure(srv.path, "--listen", "127.0.0.1:%d" % port)
    t.assert_eq((rc2, errors2), (1, ["error: listen 127.0.0.1:%d: Address already in use"
                                     % port]), "a port held by a plain socket (output %r)" % out2)
    # The shared port still works.
    c = srv.client("still")
    t.assert_eq(c.users(), ["still"], "USERS on the shared port")


def test_reuseport_cannot_take_a_port_held_without_it(srv):
    rc, errors, out = start_failure(srv.path, "--reuseport", "--listen",
                                    "127.0.0.1:%d" % srv.port)
    t.assert_eq(rc, 1, "exit code of chatd --reuseport on a port held without it")
    t.assert_eq(errors, ["error: listen 127.0.0.1:%d: Address already in use (held without "
                         "SO_REUSEPORT, or by another user)" % srv.port],
                "error lines (output %r)" % out)
    c = srv.client("owner")
    t.assert_eq(c.users(), ["owner"], "USERS on the first process's port")


def test_a_socket_from_systemd_is_used_as_it_comes(srv):
    """Under socket activation --reuseport does not touch the passed
    socket: chatd says so, and the port stays its own (a chatd with
    --reuseport cannot join it)."""
    require_libsystemd(srv)
    d, (port,) = activated(srv.path, "--reuseport", names="auto", nsockets=1)
    with d:
        # systemd-socket-activate starts chatd on the first connection.
        with t.Client(port, "first") as c:
            t.assert_eq(c.welcome.type, WELCOME, "HELLO on the passed socket")
        d.wait_for_line(r"socket activation: reuseport applies only to sockets chatd opens", 5)
        if any("SO_REUSEPORT" in l for l in d.stderr_tail(20)):
            raise AssertionError("a passed socket announced as shared:\n%s"
                                 % "\n".join(d.stderr_tail(20)))
        rc, errors, out = start_failure(srv.path, "--reuseport", "--listen",
                                        "127.0.0.1:%d" % port)
        t.assert_eq((rc, len(errors)), (1, 1), "a second chatd on the passed port (%r)" % out)
        if "Address already in use" not in errors[0]:
            raise AssertionError("error line: %r" % errors[0])


def test_print_config_and_help_show_reuseport(srv):
    def printed(*args):
        rc, out, err = run(srv.path, "-c", os.devnull, *args, "--print-config")
        t.assert_eq((rc, err), (0, ""), "--print-config %s" % " ".join(args))
        return re.findall(r"^reuseport = (.*)$", out, re.M), out

    t.assert_eq(printed()[0], ["no"], "reuseport by default")
    t.assert_eq(printed("--reuseport")[0], ["yes"], "reuseport with --reuseport")
    t.assert_eq(printed("--reuseport=yes")[0], ["yes"], "reuseport with --reuseport=yes")
    t.assert_eq(printed("--reuseport", "--reuseport=no")[0], ["no"], "the last option wins")
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "chatd.conf")
        with open(conf, "w") as f:
            f.write("reuseport = yes\n")
        rc, out, err = run(srv.path, "-c", conf, "--print-config")
        t.assert_eq(re.findall(r"^reuseport = (.*)$", out, re.M), ["yes"], "from the file")
        # What --print-config shows reads back the same.
        with open(conf, "w") as f:
            f.write(out)
        rc, again, err = run(srv.path, "-c", conf, "--print-config")
        t.assert_eq((rc, err), (0, ""), "reading the printed configuration")
        t.assert_eq(again.split("\n", 1)[1], out.split("\n", 1)[1], "printed twice")
        rc, out, err = run(srv.path, "-c", conf, "--reuseport=no", "--print-config")
        t.assert_eq(re.findall(r"^reuseport = (.*)$", out, re.M), ["no"],
                    "--reuseport=no over the file's yes")
        with open(conf, "w") as f:
            f.write("history = 7\nreuseport = on\n")
        rc, out, err = run(srv.path, "-c", conf, "--check-config")
        t.assert_eq((rc, err), (2, "chatd: %s:2: reuseport: 'on' is not one of yes|no (see "
                                   "chatd --help)\n" % conf), "a bad value in the file")
    for args in (["--reuseport=maybe"], ["--reuseport", "yes"]):
        rc, out, err = run(srv.path, "-c", os.devnull, *args)
        t.assert_eq(rc, 2, "exit code for %s" % args)
        t.assert_eq(len(err.splitlines()), 1, "stderr lines for %s: %r" % (args, err))
    rc, out, err = run(srv.path, "--help")
    if not re.search(r"^ {6}--reuseport\[=yes\|no\] +set SO_REUSEPORT", out, re.M):
        raise AssertionError("--help does not list --reuseport:\n%s" % out)


if __name__ == "__main__":
    sys.exit(t.main(globals()))
