#!/usr/bin/env python3
"""chatd's start-up check of --cluster against a real redis-server
(Debian's), started here on a free loopback port with no persistence and
a directory of its own, and stopped by its pid: a Redis that refuses (no
one on the port, a wrong or missing password, something that is not
Redis) is one clear line naming the URL and the reason, and exit 2; the
right password starts chatd, which says at once what it shares, and
never prints the password; a node name Redis keys cannot hold is refused
the same way; the options are in --help and printed by --print-config
only when set.  Skipped when redis-server is not installed."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import chatdtest as t

REDIS = shutil.which("redis-server") or "/usr/sbin/redis-server"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Redis:
    """A redis-server of the test's own on 127.0.0.1."""

    def __init__(self, password=None, appendonly=False):
        if not os.access(REDIS, os.X_OK):
            raise t.Skip("no redis-server (apt-get install redis-server)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="chatd-redis-")
        self.args = [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "yes" if appendonly else "no",
                     "--appendfsync", "always", "--dir", self.dir]
        if password:
            self.args += ["--requirepass", password]
        self.start()

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def kill(self):
        """kill -9, as a crash would."""
        self.proc.kill()
        self.proc.wait()

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.close()
                    raise AssertionError("redis-server did not start on %d" % self.port)
                time.sleep(0.02)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run(srv, *args, timeout=15):
    p = subprocess.run([srv.path, "--listen", "127.0.0.1:0", "--store", "none", *args],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                       text=True)
    return p.returncode, p.stdout, p.stderr


def refused(srv, url, reason):
    """chatd --cluster url exits 2 with one line naming the URL and reason."""
    rc, out, err = run(srv, "--cluster", url)
    lines = err.strip().splitlines()
    t.assert_eq((rc, out, len(lines)), (2, "", 1), "exit code, stdout, stderr lines: %r" % err)
    if not lines[0].startswith("chatd: --cluster redis://") or reason not in lines[0]:
        raise AssertionError("expected the URL and %r in %r" % (reason, lines[0]))
    return lines[0]


def test_unreachable_redis_is_one_line_and_exit_2(srv):
    port = free_port()
    line = refused(srv, "redis://127.0.0.1:%d" % port, "refused")
    if str(port) not in line:
        raise AssertionError("the line does not name the port: %r" % line)


def test_wrong_password_is_one_line_exit_2_without_the_password(srv):
    with Redis(password="right-one") as r:
        line = refused(srv, "redis://:wrong-one@127.0.0.1:%d" % r.port, "WRONGPASS")
        if "wrong-one" in line:
            raise AssertionError("the password is in the line: %r" % line)
        refused(srv, "redis://127.0.0.1:%d" % r.port, "NOAUTH")


def test_something_not_redis_is_one_line_exit_2(srv):
    # chatd itself: its port speaks chat, not RESP.
    refused(srv, "redis://127.0.0.1:%d" % srv.port, "not a Redis")


def test_a_node_name_that_keys_cannot_hold_is_one_line_and_exit_2(srv):
    with Redis() as r:
        for name in ("a b", "a{b}"):
            rc, out, err = run(srv, "--cluster", "redis://127.0.0.1:%d" % r.port,
                               "--node-name", name)
            lines = err.strip().splitlines()
            t.assert_eq((rc, len(lines)), (2, 1), "exit code, stderr lines: %r" % err)
            if not lines[0].startswith("chatd: --node-name " + name):
                raise AssertionError("the line does not name it: %r" % lines[0])


def test_bad_url_is_refused_by_the_configuration(srv):
    rc, out, err = run(srv, "--cluster", "redis://[::1:6379")
    t.assert_eq(rc, 2, "exit code (%s)" % err)
    if "cluster:" not in err or "IPv6" not in err:
        raise AssertionError("no reason for the bad URL: %r" % err)
    rc, out, err = run(srv, "--cluster", "rediss://127.0.0.1:6379")
    t.assert_eq(rc, 2, "exit code (%s)" % err)


def test_right_password_starts_and_says_what_it_shares(srv):
    with Redis(password="pa@ss") as r:
        url = "redis://:pa%%40ss@127.0.0.1:%d/1" % r.port
        node = t.Server(srv.path, "--cluster", url, "--node-name", "n1", "--store", "none")
        with node:
            node.wait_for_line(r"cluster: node n1 shares rooms, history, nicks, presence", 5)
            node.wait_for_line(r"cluster: shard 0 .* up", 10)
            lines = "\n".join(node.stderr_tail(40))
            if "answers (Redis " not in lines:
                raise AssertionError("missing start-up lines:\n%s" % lines)
            if "pa@ss" in lines or "pa%40ss" in lines:
                raise AssertionError("the password is in the log:\n%s" % lines)
            if "not complete" in lines:
                raise AssertionError("a warning of an incomplete feature:\n%s" % lines)
            node.client("u1")  # registered: WELCOME asserted


def test_cluster_options_are_in_help_and_printed_only_when_set(srv):
    rc, out, err = run(srv, "--help")
    t.assert_eq(rc, 0, "--help exit code")
    for word in ("--cluster redis://HOST:PORT[/DB]", "--node-name NAME", "--reuseport"):
        if word not in out:
            raise AssertionError("%s is not in --help:\n%s" % (word, out))
    rc, out, err = run(srv, "--print-config")
    if "cluster =" in out or "node-name =" in out:
        raise AssertionError("--print-config shows unset cluster keys:\n%s" % out)
    rc, out, err = run(srv, "--cluster", "redis://h:1", "--cluster", "redis://[::1]:2/3",
                       "--node-name", "a", "--print-config")
    for want in ("cluster = redis://h:1", "cluster = redis://[::1]:2/3", "node-name = a"):
        if want not in out:
            raise AssertionError("--print-config lacks %r:\n%s" % (want, out))


if __name__ == "__main__":
    sys.exit(t.main(globals()))
