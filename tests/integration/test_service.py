#!/usr/bin/env python3
"""chatd as a service (issue 5), against the real binary:

- configuration: -c FILE is read and options override it; --check-config
  exits 0 on a good file and 2 with FILE:LINE: and the problem on a bad
  one; --print-config prints the effective values;
- SIGHUP reload: changes are applied and logged one by one, a new history
  length reaches every room at once, a listen change is logged as
  needing a restart, a bad file keeps the running configuration;
- sd_notify, through a notify socket of the test's own: READY=1 only once
  every listener accepts, STATUS= with counts, WATCHDOG=1 from the loop,
  RELOADING=1 then READY=1 around a reload, STOPPING=1 at shutdown;
- socket activation with systemd-socket-activate, protocol pinning by
  descriptor name included;
- the open-files soft limit raised to the hard limit (under prlimit);
- logs: journal priority prefixes when JOURNAL_STREAM names stderr, a
  level word otherwise, connection events only at debug, and never a
  message's text at the default level.

Most tests start chatd themselves (their own arguments, environment,
stderr pipe) and ignore the chatd the harness starts for them; each such
chatd is stopped with SIGTERM and must exit 0 with no sanitizer report."""

import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import chatdtest as t
from chatdtest import ERROR, WELCOME
from textclient import TextClient

# Inherited from a service manager running the tests, these would reach
# chatd; each test sets what it wants instead.
SYSTEMD_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
               "LISTEN_FDNAMES", "JOURNAL_STREAM")
LISTENING = r"listening on (\S+):(\d+)"


class Daemon(t.Server):
    """chatd started by the test: like the harness's Server (stderr lines
    in .lines, clients via .client(), stopped and checked on leaving the
    context), plus its own environment, a command prefix (prlimit,
    systemd-socket-activate), no --listen of its own when default_listen
    is false, and stderr on a pipe whose device and inode the test knows,
    for JOURNAL_STREAM.  ready is the stderr line start() waits for (None:
    do not wait)."""

    def __init__(self, chatd, *args, env=None, prefix=(), journal=False, default_listen=True,
                 ready=LISTENING, start_timeout=15.0):
        super().__init__(chatd, *args, start_timeout=start_timeout)
        if not default_listen:
            self.args = [chatd, *map(str, args)]
        self.args = [*map(str, prefix), *self.args]
        self.env = dict(env or {})
        self.journal = journal
        self.ready = ready

    def start(self):
        env = {k: v for k, v in os.environ.items() if k not in SYSTEMD_ENV}
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        env.update(self.env)
        r, w = os.pipe()
        try:
            if self.journal:
                st = os.fstat(w)
                env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=w,
                                         stderr=w, env=env)
        except BaseException:
            os.close(r)
            raise
        finally:
            os.close(w)
        self.proc.stdout = os.fdopen(r, "rb")
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if self.ready is None:
            return self
        try:
            m = self.wait_for_line(self.ready, self.start_timeout)
        except BaseException:
            self.stop(signal.SIGKILL, 5)
            raise
        if self.ready == LISTENING:
            self.port = int(m.group(2))
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            return super().__exit__(exc_type, exc, tb)
        finally:
            if exc_type is not None and self.lines:
                # The harness shows its own chatd's output; show this one's.
                print("    --- %s (last 40 lines) ---" % " ".join(self.args[:3]))
                for line in self.stderr_tail(40):
                    print("    ! " + line)

    def mark(self):
        """Index of the next stderr line, for wait_for_line(start=...)."""
        with self._cond:
            return len(self.lines)


class Notify:
    """An AF_UNIX datagram socket standing in for systemd's notify socket.
    Every datagram is kept in .messages as (monotonic time, text)."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="chatd-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []
        self._seen = 0
        return self

    def __exit__(self, *exc):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def _recv(self, timeout):
        self.sock.settimeout(max(0.0, timeout))
        try:
            data = self.sock.recv(4096)
        except (socket.timeout, BlockingIOError):
            return False
        self.messages.append((time.monotonic(), data.decode("utf-8", "replace")))
        return True

    def listen(self, duration):
        """Receive for duration seconds, timing each datagram as it comes."""
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            self._recv(deadline - time.monotonic())

    def drain(self):
        """Take whatever is waiting, without blocking."""
        while self._recv(0):
            pass

    def expect(self, pattern, timeout=10.0, what=None):
        """The first datagram not yet claimed by expect() that matches
        pattern (re.search); earlier unmatched ones stay in .messages.
        Returns (index, text)."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            while self._seen < len(self.messages):
                i = self._seen
                self._seen += 1
                if rx.search(self.messages[i][1]):
                    return i, self.messages[i][1]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise t.Timeout("no notification matching /%s/ (%s) within %.1fs; got %r"
                                % (pattern, what or "", timeout,
                                   [m for _, m in self.messages[-10:]]))
            self._recv(remaining)

    def texts(self):
        return [m for _, m in self.messages]


_with_libsystemd = None


def require_libsystemd(srv):
    """Skip the test when chatd was built without libsystemd: it then sends
    no notifications and takes no sockets from a service manager, by
    design, so there is nothing to check (reported as skipped, not passed;
    CI builds with libsystemd, which CMake requires unless told
    -DCHATD_SYSTEMD=OFF)."""
    global _with_libsystemd
    if _with_libsystemd is None:
        out = subprocess.run(["ldd", srv.path], capture_output=True, text=True,
                             timeout=30).stdout
        _with_libsystemd = "libsystemd.so" in out
    if not _with_libsystemd:
        raise t.Skip("chatd is built without libsystemd (-DCHATD_SYSTEMD=OFF)")


def free_ports(n):
    """n distinct ports of 127.0.0.1 that were free a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def refused(port):
    """Nothing listens on 127.0.0.1:port."""
    with socket.socket() as s:
        s.settimeout(3)
        try:
            s.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
        return False


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="chatd-service-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
        return False


def run(chatd, *args, timeout=20):
    env = {k: v for k, v in os.environ.items() if k not in SYSTEMD_ENV}
    p = subprocess.run([chatd, *map(str, args)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def config_lines(out):
    return re.findall(r"^([a-z][a-z-]*) = (.*)$", out, re.M)


# ---------------------------------------------------------------------------
# Configuration file, --check-config, --print-config


def test_config_file_is_read_and_options_override_it(srv):
    with TempDir() as tmp:
        conf = os.path.join(tmp, "chatd.conf")
        write(conf, "# a comment\n; another\n[chatd]\nserver-name = fromfile\n"
                    "history = 20   ; an inline comment\nmax-text = 1000\nflood-rate = 7\n")
        with Daemon(srv.path, "-c", conf, "--server-name", "fromflag", "--flood-rate", "9") as d:
            w = d.client("alice").welcome
            t.assert_eq((w.server, w.history_len, w.max_text, w.flood_rate),
                        ("fromflag", 20, 1000, 9),
                        "WELCOME (server from the option, history and max-text from the "
                        "file, flood-rate from the option)")
            # A reload reads the file again but the options still win.
            write(conf, "server-name = changed\nhistory = 10\nmax-text = 1000\nflood-rate = 1\n")
            mark = d.mark()
            d.send_signal(signal.SIGHUP)
            d.wait_for_line(r"reloaded %s: 1 change\b" % re.escape(conf), 10, mark)
            d.wait_for_line(r"reload: history 20 -> 10", 1, mark)
            w = d.client("bob").welcome
            t.assert_eq((w.server, w.history_len, w.flood_rate), ("fromflag", 10, 9),
                        "WELCOME after the reload (options still override the file)")


def test_check_config_accepts_a_good_file(srv):
    with TempDir() as tmp:
        conf = os.path.join(tmp, "good.conf")
        write(conf, "[chatd]\nlisten = 127.0.0.1:7000/framed\nlisten = [::1]:7001/text\n"
                    "history = 20\nlog-level = warning\nping-interval = 0.5\n")
        rc, out, err = run(srv.path, "--check-config", "-c", conf)
        t.assert_eq((rc, err), (0, ""), "--check-config on a good file: exit code, stderr")
        t.assert_eq(out, "chatd: configuration ok (%s)\n" % conf,
                    "--check-config on a good file: stdout (one line)")
        # Nothing was started: the listen addresses are not even bound.
        rc, out, err = run(srv.path, "--check-config", "-c", os.devnull)
        t.assert_eq(rc, 0, "--check-config on an empty file")


BAD_FILES = [
    # (file text, line, what the message must say)
    ("history = 20\nbogus = 1\n", 2, r"unknown key 'bogus'"),
    ("[chatd]\nhistory = lots\n", 2, r"history: 'lots' is not a number from 0 to 10000"),
    # libinih reports a section at its first key: the line of that key.
    ("history = 20\n\n[other]\nhistory = 1\n", 4, r"unknown section \[other\]"),
    ("log-level = loud\n", 1, r"log-level: 'loud' is not debug, info"),
    ("# fine\nlisten = nowhere\n", 2, r"listen: 'nowhere' is not ADDR:PORT"),
    ("ping-interval = -1\n", 1, r"ping-interval: '-1' is not a number"),
    ("history\n", 1, r"not a key = value line"),
]


def test_check_config_rejects_a_bad_file_with_file_line_and_problem(srv):
    with TempDir() as tmp:
        for i, (text, line, problem) in enumerate(BAD_FILES):
            conf = os.path.join(tmp, "bad%d.conf" % i)
            write(conf, text)
            for args in (["--check-config", "-c", conf], ["-c", conf, "--listen", "127.0.0.1:0"]):
                rc, out, err = run(srv.path, *args)
                what = "%s with %r" % (" ".join(args[:1]), text)
                t.assert_eq((rc, out), (2, ""), "%s: exit code and stdout" % what)
                t.assert_eq(len(err.splitlines()), 1, "%s: stderr lines (%r)" % (what, err))
                if "%s:%d: " % (conf, line) not in err or not re.search(problem, err):
                    raise AssertionError("%s: expected '%s:%d: ' and /%s/ in %r"
                                         % (what, conf, line, problem, err))
        # Keys that do not fit together, and a file that is not there.
        conf = os.path.join(tmp, "frame.conf")
        write(conf, "max-frame = 300\n")
        rc, out, err = run(srv.path, "--check-config", "-c", conf)
        t.assert_eq(rc, 2, "--check-config with max-frame below max-text")
        if "max-frame 300" not in err:
            raise AssertionError("max-frame too small: %r" % err)
        missing = os.path.join(tmp, "missing.conf")
        rc, out, err = run(srv.path, "--check-config", "-c", missing)
        t.assert_eq(rc, 2, "--check-config with a missing file")
        if missing not in err or "No such file" not in err:
            raise AssertionError("missing file: %r" % err)


def test_print_config_prints_the_file_with_options_applied(srv):
    with TempDir() as tmp:
        conf = os.path.join(tmp, "chatd.conf")
        write(conf, "listen = 127.0.0.1:7101\nlisten = [::1]:7102/text\nhistory = 20\n"
                    "log-level = debug\nflood-rate = 7\nroom-linger = 2.5\n")
        rc, defaults, err = run(srv.path, "--print-config", "-c", os.devnull)
        t.assert_eq((rc, err), (0, ""), "--print-config of the defaults")
        defaults = config_lines(defaults)
        rc, out, err = run(srv.path, "-c", conf, "--history", "30", "--print-config")
        t.assert_eq((rc, err), (0, ""), "--print-config exit code and stderr")
        if not re.match(r"# chatd \S+ effective configuration from %s\n" % re.escape(conf), out):
            raise AssertionError("--print-config does not name the file first: %r" % out[:200])
        got = config_lines(out)
        want = {"history": "30", "log-level": "debug", "flood-rate": "7", "room-linger": "2.5"}
        expected = []
        for key, value in defaults:
            if key == "listen":
                if ("listen", "127.0.0.1:7101") not in expected:
                    expected += [("listen", "127.0.0.1:7101"), ("listen", "[::1]:7102/text")]
                continue
            expected.append((key, want.get(key, value)))
        t.assert_eq(got, expected, "--print-config (file, then --history 30)")
        # The first --listen option replaces the file's listeners.
        rc, out, err = run(srv.path, "-c", conf, "-l", "127.0.0.1:7200", "--print-config")
        t.assert_eq([v for k, v in config_lines(out) if k == "listen"], ["127.0.0.1:7200"],
                    "listen after -l")
        # What it prints is a configuration file that gives the same.
        printed = os.path.join(tmp, "printed.conf")
        rc, out, err = run(srv.path, "-c", conf, "--history", "30", "--print-config")
        write(printed, out)
        rc, again, err = run(srv.path, "-c", printed, "--print-config")
        t.assert_eq((rc, config_lines(again)), (0, expected), "--print-config round trip")


# ---------------------------------------------------------------------------
# SIGHUP


def test_sighup_applies_and_logs_changes(srv):
    with TempDir() as tmp:
        conf = os.path.join(tmp, "chatd.conf")
        write(conf, "history = 50\nlog-level = info\nflood-rate = 50\n")
        with Daemon(srv.path, "-c", conf) as d:
            a = d.client("alice")
            a.join("old")
            for i in range(30):
                t.assert_ack(a.say("old", "before %d" % i), "SAY in old")

            write(conf, "history = 20\nlog-level = debug\nflood-rate = 0\n")
            mark = d.mark()
            d.send_signal(signal.SIGHUP)
            d.wait_for_line(r"^notice: reloaded %s: 3 changes$" % re.escape(conf), 10, mark)
            for change in ("history 50 -> 20", "log-level info -> debug", "flood-rate 50 -> 0"):
                d.wait_for_line(r"^notice: reload: %s$" % re.escape(change), 1, mark)

            # A room created from now on keeps 20 messages...
            a.join("new")
            for i in range(30):
                t.assert_ack(a.say("new", "after %d" % i), "SAY in new")
            b = d.client("bob")
            t.assert_eq((b.welcome.history_len, b.welcome.flood_rate), (20, 0),
                        "WELCOME history_len and flood_rate after the reload")
            r = b.join("new")
            t.assert_eq(r.seqs, list(range(11, 31)), "history of a room created after the reload")
            # ...and so does one created before: what WELCOME announces
            # holds for every room (its 10 oldest are forgotten).
            r = b.join("old")
            t.assert_eq(r.seqs, list(range(11, 31)), "history of a room created before the reload")
            t.assert_eq([m.text for m in r.history], ["before %d" % i for i in range(10, 30)],
                        "the newest 20 of the old room's messages")
            # A longer ring keeps them and fills up again.
            write(conf, "history = 25\nlog-level = debug\nflood-rate = 0\n")
            mark = d.mark()
            d.send_signal(signal.SIGHUP)
            d.wait_for_line(r"^notice: reloaded %s: 1 change$" % re.escape(conf), 10, mark)
            for i in range(3):
                t.assert_ack(a.say("old", "later %d" % i), "SAY in old after the second reload")
            c = d.client("carol")
            t.assert_eq(c.welcome.history_len, 25, "WELCOME history_len after the second reload")
            t.assert_eq(c.join("old").seqs, list(range(11, 34)),
                        "history of the old room after growing the ring")
            # debug is on: bob's connection was logged.
            d.wait_for_line(r"^debug: conn 127\.0\.0\.1:\d+: accepted", 5, mark)

            # Nothing changed: a reload says so.
            mark = d.mark()
            d.send_signal(signal.SIGHUP)
            d.wait_for_line(r"^notice: reloaded %s: 0 changes$" % re.escape(conf), 10, mark)


def test_sighup_listen_change_needs_a_restart(srv):
    p1, p2 = free_ports(2)
    with TempDir() as tmp:
        conf = os.path.join(tmp, "chatd.conf")
        write(conf, "listen = 127.0.0.1:%d\n" % p1)
        with Daemon(srv.path, "-c", conf, default_listen=False) as d:
            t.assert_eq(d.port, p1, "port from the file")
            write(conf, "listen = 127.0.0.1:%d\nhistory = 5\n" % p2)
            mark = d.mark()
            d.send_signal(signal.SIGHUP)
            d.wait_for_line(r"^warning: reload: listen changed \(127\.0\.0\.1:%d -> "
                            r"127\.0\.0\.1:%d\); it takes effect at the next restart$"
                            % (p1, p2), 10, mark)
            d.wait_for_line(r"^notice: reloaded %s: 2 changes$" % re.escape(conf), 5, mark)
            # Still on the old port, not on the new one; the rest applied.
            c = d.client("alice")
            t.assert_eq(c.welcome.history_len, 5, "history after the reload")
            if not refused(p2):
                raise AssertionError("something listens on the new port %d before a restart"
                                     % p2)


def test_sighup_added_listener_is_named_in_the_warning(srv):
    p1, p2 = free_ports(2)
    with TempDir() as tmp:
        conf = os.path.join(tmp, "chatd.conf")
        write(conf, "listen = 127.0.0.1:%d\n" % p1)
        with Daemon(srv.path, "-c", conf, default_listen=False) as d:
            write(conf, "listen = 127.0.0.1:%d\nlisten = 127.0.0.1:%d/text\n" % (p1, p2))
            mark = d.mark()
            d.send_signal(signal.SIGHUP)
            m = d.wait_for_line(r"^warning: reload: listen changed", 10, mark)
            if "127.0.0.1:%d/text" % p2 not in m.string:
                raise AssertionError("the warning does not say what changed (the listener "
                                     "127.0.0.1:%d/text was added): %r" % (p2, m.string))
            if not refused(p2):
                raise AssertionError("the added listener is open before a restart")


def test_sighup_with_a_bad_file_keeps_the_running_config(srv):
    with TempDir() as tmp:
        conf = os.path.join(tmp, "chatd.conf")
        write(conf, "history = 40\nmax-text = 500\n")
        with Daemon(srv.path, "-c", conf) as d:
            a = d.client("alice")
            a.join("r")
            for bad, why in (("history = lots\nmax-text = 100\n",
                              r"%s:1: history: 'lots' is not a number" % re.escape(conf)),
                             ("max-text = 100\n[elsewhere]\nhistory = 1\n",
                              r"%s:3: unknown section \[elsewhere\]" % re.escape(conf)),
                             (None, r"%s: No such file" % re.escape(conf))):
                if bad is None:
                    os.unlink(conf)
                else:
                    write(conf, bad)
                mark = d.mark()
                d.send_signal(signal.SIGHUP)
                d.wait_for_line(r"^error: reload failed, keeping the running configuration: "
                                + why, 10, mark)
                # The old configuration is in force and everything works.
                b = d.client()
                t.assert_eq(b.hello("bob%d" % d.mark()).type, WELCOME,
                            "HELLO after a failed reload")
                t.assert_eq((b.welcome.history_len, b.welcome.max_text), (40, 500),
                            "WELCOME after a failed reload")
                b.join("r")
                t.assert_room_works(a, b, "r")
                b.close()
                if any(re.search(r"reload: |reloaded ", line) for line in d.lines[mark:]):
                    raise AssertionError("a failed reload logged changes: %r" % d.lines[mark:])
            # Fixed, the next reload works.
            write(conf, "history = 10\nmax-text = 500\n")
            mark = d.mark()
            d.send_signal(signal.SIGHUP)
            d.wait_for_line(r"^notice: reload: history 40 -> 10$", 10, mark)


# ---------------------------------------------------------------------------
# Open files


def test_open_files_soft_limit_is_raised_to_the_hard_limit(srv):
    if shutil.which("prlimit") is None:
        raise AssertionError("prlimit is not installed (Debian: util-linux)")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = 4096 if hard == resource.RLIM_INFINITY or hard >= 4096 else hard
    soft = min(1024, want // 2)
    with Daemon(srv.path, prefix=["prlimit", "--nofile=%d:%d" % (soft, want)]) as d:
        d.wait_for_line(r"^notice: open files limit %d: room for \d+ connections" % want, 5)
        with open("/proc/%d/limits" % d.pid) as f:
            limits = f.read()
        m = re.search(r"^Max open files\s+(\d+)\s+(\d+)", limits, re.M)
        t.assert_eq((int(m.group(1)), int(m.group(2))), (want, want),
                    "chatd's open-files limit (soft, hard)")


# ---------------------------------------------------------------------------
# Logs

LEVEL_WORD = re.compile(r"^(debug|info|notice|warning|error): \S")
PRIORITY = re.compile(r"^<[3-7]>\S")


def log_lines(d):
    """chatd's own lines (sanitizer reports are checked separately)."""
    return [line for line in d.lines if line and not line.startswith(("==", "    #"))]


def test_journal_priority_prefixes_when_stderr_is_the_journal(srv):
    with TempDir() as tmp:
        conf = os.path.join(tmp, "chatd.conf")
        write(conf, "history = 10\n")
        with Daemon(srv.path, "-c", conf, journal=True) as d:
            d.wait_for_line(r"^<5>listening on 127\.0\.0\.1:\d+", 5)
            d.wait_for_line(r"^<5>open files limit \d+", 5)
            write(conf, "history = many\n")
            mark = d.mark()
            d.send_signal(signal.SIGHUP)
            d.wait_for_line(r"^<3>reload failed", 10, mark)
            d.client("alice")
            d.stop()
            d.wait_for_line(r"^<5>shut down$", 5)
            for line in log_lines(d):
                if not PRIORITY.match(line):
                    raise AssertionError("not a journal line: %r" % line)


def test_level_words_when_journal_stream_is_another_stream(srv):
    # JOURNAL_STREAM names some other file: stderr is not the journal.
    st = os.stat(__file__)
    with Daemon(srv.path, env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)}) as d:
        d.wait_for_line(r"^notice: listening on", 5)
        d.client("alice")
        d.stop()
        for line in log_lines(d):
            if not LEVEL_WORD.match(line):
                raise AssertionError("not a 'level: text' line: %r" % line)


def test_no_message_text_in_the_log_at_the_default_level(srv):
    marker = "zqx%dmarker" % os.getpid()
    with Daemon(srv.path) as d:
        a, b = d.client("alice"), d.client("bob")
        a.join("room1")
        b.join("room1")
        t.assert_room_works(a, b, "room1", text="room " + marker)
        t.assert_ack(a.msg("bob", "direct " + marker), "MSG to bob")
        b.expect(t.MESSAGE, text="direct " + marker)
        p = TextClient(d.port, "person", timeout=10)
        try:
            p.login("person")
            p.join("room1")
            p.send_line("text room " + marker)
            b.expect(t.MESSAGE, text="text room " + marker)
            p.send_line("/msg bob text direct " + marker)
            b.expect(t.MESSAGE, text="text direct " + marker)
            p.sync()
        finally:
            p.close()
        # A protocol error is logged, at notice.
        with t.Client(d.port, preface=False, label="bad") as c:
            c.send_raw(b"\x89CHATD\x00\x09")
            c.expect_closed(5)
        d.wait_for_line(r"^notice: conn 127\.0\.0\.1:\d+: ", 5)
        a.quit()
        d.stop()
        lines = log_lines(d)
        leaked = [line for line in lines if marker in line]
        if leaked:
            raise AssertionError("message text in the log at info: %r" % leaked)
        for line in lines:
            if not LEVEL_WORD.match(line):
                raise AssertionError("not a 'level: text' line: %r" % line)
            if line.startswith("debug:") or re.search(r": accepted|: closed", line):
                raise AssertionError("a debug event at the default level: %r" % line)
        if not any(re.match(r"info: conn \S+: alice", line) for line in lines):
            raise AssertionError("alice's arrival or departure is not logged at info: %r"
                                 % lines)


def test_connection_events_are_logged_at_debug(srv):
    with Daemon(srv.path, "--log-level", "debug") as d:
        with t.Client(d.port, "alice"):
            d.wait_for_line(r"^debug: conn 127\.0\.0\.1:\d+: accepted", 5)
        d.wait_for_line(r"^debug: conn 127\.0\.0\.1:\d+: closed", 5)


if __name__ == "__main__":
    sys.exit(t.main(globals()))
