#!/usr/bin/env python3
"""chatd and systemd, through libsystemd: sd_notify to a notify socket of
the test's own (READY=1 only once every listener accepts, STATUS= with
counts, WATCHDOG=1 from the loop, RELOADING=1 then READY=1 around a
reload, STOPPING=1 at the end) and socket activation with
systemd-socket-activate, protocol pinning by descriptor name included.

A chatd built without libsystemd (-DCHATD_SYSTEMD=OFF) does none of this
by design: every test here is then skipped, and ctest says so."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import chatdtest as t
from chatdtest import ERROR, WELCOME
from test_service import (LISTENING, SYSTEMD_ENV, Daemon, Notify, TempDir, free_ports, refused,
                          require_libsystemd, write)
from textclient import TextClient

# ---------------------------------------------------------------------------
# sd_notify


def test_ready_only_once_every_listener_accepts(srv):
    require_libsystemd(srv)
    ports = free_ports(3)
    with Notify() as n:
        args = ["--listen", "127.0.0.1:%d" % ports[0], "--listen", "127.0.0.1:%d/framed" % ports[1],
                "--listen", "127.0.0.1:%d/text" % ports[2]]
        with Daemon(srv.path, *args, default_listen=False, ready=None,
                    env={"NOTIFY_SOCKET": n.path}) as d:
            i, text = n.expect(r"^READY=1$", 15, "start")
            # Right now, before anything else: every port accepts.
            for port in ports:
                with socket.create_connection(("127.0.0.1", port), timeout=3):
                    pass
            t.assert_eq(i, 0, "READY=1 is the first notification (got %r)" % n.texts())
            n.expect(r"^STATUS=0 connections, 0 users, 0 rooms?$", 5, "first status")
            d.wait_for_line(LISTENING, 5)
            n.drain()
            if any("WATCHDOG=1" in m for m in n.texts()):
                raise AssertionError("WATCHDOG=1 without WATCHDOG_USEC: %r" % n.texts())
            t.assert_eq(sum(m == "READY=1" for m in n.texts()), 1, "READY=1 count")


def test_no_ready_when_a_listener_fails(srv):
    require_libsystemd(srv)
    good, = free_ports(1)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        with Notify() as n:
            env = {k: v for k, v in os.environ.items() if k not in SYSTEMD_ENV}
            env["NOTIFY_SOCKET"] = n.path
            p = subprocess.run([srv.path, "--listen", "127.0.0.1:%d" % good, "--listen",
                                "127.0.0.1:%d" % busy.getsockname()[1]],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=20, env=env)
            n.drain()
            t.assert_eq(p.returncode, 1, "exit code when a listener cannot be opened "
                        "(stderr %r)" % p.stderr)
            if any("READY=1" in m for m in n.texts()):
                raise AssertionError("READY=1 sent although a listener failed: %r" % n.texts())
    finally:
        busy.close()


def test_status_reports_connections_users_and_rooms(srv):
    require_libsystemd(srv)
    with Notify() as n:
        with Daemon(srv.path, env={"NOTIFY_SOCKET": n.path}) as d:
            n.expect(r"^READY=1$", 10)
            a, b = d.client("alice"), d.client("bob")
            d.client()  # connected, not registered
            a.join("lobby")
            b.join("lobby")
            a.join("side")
            # STATUS comes every 5 seconds.
            n.expect(r"^STATUS=3 connections, 2 users, 2 rooms?$", 15, "status with clients")


def test_watchdog_keepalive_from_the_loop(srv):
    require_libsystemd(srv)
    with Notify() as n:
        env = {"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "200000"}
        with Daemon(srv.path, env=env) as d:
            n.expect(r"^READY=1$", 10)
            d.wait_for_line(r"^info: watchdog: keep-alive every 0\.1 s$", 5)
            first, _ = n.expect(r"^WATCHDOG=1$", 5)
            n.listen(1.0)
            beats = [at for at, m in n.messages[first:] if m == "WATCHDOG=1"]
            if len(beats) < 5:
                raise AssertionError("only %d WATCHDOG=1 in about a second (every 0.1 s "
                                     "expected)" % len(beats))
            # Every 0.1 s; systemd would give up after 0.2 s.  A loaded test
            # machine may delay one beat, not stop them.
            gaps = [b - a for a, b in zip(beats, beats[1:])]
            if max(gaps) > 0.4:
                raise AssertionError("a watchdog gap of %.3f s (keep-alive every 0.1 s)"
                                     % max(gaps))


def test_reloading_then_ready_around_sighup_and_stopping_at_the_end(srv):
    require_libsystemd(srv)
    with TempDir() as tmp, Notify() as n:
        conf = os.path.join(tmp, "chatd.conf")
        write(conf, "history = 50\n")
        with Daemon(srv.path, "-c", conf, env={"NOTIFY_SOCKET": n.path}) as d:
            n.expect(r"^READY=1$", 10)
            for text in ("history = 20\n", "history = bad\n"):
                write(conf, text)
                mark = d.mark()
                d.send_signal(signal.SIGHUP)
                i, msg = n.expect(r"^RELOADING=1$", 10, "reload of %r" % text)
                if not re.search(r"^MONOTONIC_USEC=\d+$", msg, re.M):
                    raise AssertionError("RELOADING=1 without MONOTONIC_USEC: %r" % msg)
                j, _ = n.expect(r"^READY=1$", 10, "end of the reload of %r" % text)
                d.wait_for_line(r"reloaded|reload failed", 5, mark)
            t.assert_eq(d.stop(signal.SIGTERM), 0, "exit code after SIGTERM")
            n.expect(r"^STOPPING=1$", 5, "shutdown")


# ---------------------------------------------------------------------------
# Socket activation


def activated(chatd, *chatd_args, names="text:framed", nsockets=2, env=None):
    """chatd under systemd-socket-activate with nsockets listening sockets
    named by names; returns (daemon, ports).  Retries when a port picked as
    free was taken in between."""
    if shutil.which("systemd-socket-activate") is None:
        raise AssertionError("systemd-socket-activate is not installed (Debian: systemd)")
    last = None
    for _ in range(5):
        ports = free_ports(nsockets)
        prefix = ["systemd-socket-activate"]
        for p in ports:
            prefix += ["-l", "127.0.0.1:%d" % p]
        # It passes the child only the LISTEN_* variables and those named.
        prefix.append("--fdname=%s" % names)
        # (Daemon.start always sets the sanitizer options.)
        for var in ("NOTIFY_SOCKET", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if var != "NOTIFY_SOCKET" or "NOTIFY_SOCKET" in (env or {}):
                prefix.append("--setenv=%s" % var)
        d = Daemon(chatd, *chatd_args, prefix=prefix, default_listen=False, env=env,
                   ready=r"Listening on 127\.0\.0\.1:%d as %d" % (ports[-1], 2 + nsockets))
        try:
            d.start()
        except AssertionError as e:
            last = e
            try:
                d.stop(signal.SIGKILL, 5)
            except AssertionError:
                pass
            continue
        return d, ports
    raise AssertionError("systemd-socket-activate did not start: %s" % last)


def test_socket_activation_with_pinned_protocols(srv):
    require_libsystemd(srv)
    unused, = free_ports(1)
    with Notify() as n:
        d, (p_text, p_framed) = activated(srv.path, "--listen", "127.0.0.1:%d" % unused,
                                          "--detect-window", "5",
                                          env={"NOTIFY_SOCKET": n.path})
        with d:
            # systemd-socket-activate starts chatd on the first connection;
            # on the socket named "text" it greets at once, where an auto
            # socket would wait the 5 s detect-window.
            t0 = time.monotonic()
            tc = TextClient(p_text, "person", timeout=10)
            try:
                tc.expect_line(r"^\* welcome to chatd", 10)
                took = time.monotonic() - t0
                if took > 3:
                    raise AssertionError("the text socket greeted after %.1f s" % took)
                d.wait_for_line(r"socket activation: 2 listening sockets", 5)
                d.wait_for_line(r"listening on 127\.0\.0\.1:%d \(text\)" % p_text, 5)
                d.wait_for_line(r"listening on 127\.0\.0\.1:%d \(framed\)" % p_framed, 5)
                n.expect(r"^READY=1$", 10, "ready under socket activation")
                tc.login("person")
            finally:
                tc.close()

            # The socket named "framed" refuses a person...
            with t.Client(p_framed, preface=False, label="text-on-framed") as c:
                c.send_raw(b"hello there\r\n")
                err = c.expect(ERROR, 5)
                t.assert_eq(err.code, t.E_BAD_PREFACE, "ERROR code on the framed socket")
                c.expect_closed(5)
            # ...and serves a program.
            with t.Client(p_framed, "program") as c:
                t.assert_eq(c.welcome.type, WELCOME, "framed client on the framed socket")
            # The configured listen address is not used.
            if not refused(unused):
                raise AssertionError("chatd also listens on its configured port %d" % unused)
            t.assert_eq(d.stop(signal.SIGTERM), 0, "exit code")



if __name__ == "__main__":
    sys.exit(t.main(globals()))
