#!/usr/bin/env python3
"""The command line: --help lists every option with its default,
--version answers, a bad option or value is one clear line and exit 2,
and --listen is repeatable, IPv6 included."""

import os
import re
import socket
import subprocess
import sys
import tempfile

import chatdtest as t
from chatdtest import WELCOME


def run(srv, *args):
    p = subprocess.run([srv.path, *args], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=10, text=True)
    return p.returncode, p.stdout, p.stderr


def test_help_lists_every_option_with_its_default(srv):
    rc, out, err = run(srv, "--help")
    t.assert_eq((rc, err), (0, ""), "--help exit code and stderr")
    options = re.findall(r"--([a-z-]+)( [A-Z]+)?", out)
    names = {name for name, _ in options}
    for must in ("listen", "history", "room-linger", "ping-interval", "ping-timeout",
                 "max-queue", "max-frame", "max-text", "max-rooms", "flood-rate",
                 "flood-burst", "shutdown-timeout", "log-level", "help", "version",
                 "config", "check-config", "print-config", "detect-window", "server-name"):
        if must not in names:
            raise AssertionError("--help does not list --%s:\n%s" % (must, out))
    # Every option that takes a value shows its default in its entry (the
    # option line and its indented continuation lines).
    lines = out.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\s+(-\w, )?--([a-z-]+) [A-Z]+", line)
        if not m:
            continue
        entry = [line]
        for more in lines[i + 1:]:
            if not more.startswith(" " * 20):
                break
            entry.append(more)
        if "default" not in " ".join(entry):
            raise AssertionError("--%s has no default in --help: %r" % (m.group(2), entry))
    for line in lines:
        if len(line) > 79:
            raise AssertionError("--help line wider than 79 columns: %r" % line)


def test_version_prints_name_and_version(srv):
    rc, out, err = run(srv, "--version")
    t.assert_eq(rc, 0, "--version exit code")
    if not re.fullmatch(r"chatd \d+\.\d+\.\d+\n", out):
        raise AssertionError("--version printed %r" % out)


def test_unknown_option_is_one_line_and_exit_2(srv):
    for args in (["--bogus"], ["-x"], ["stray-argument"]):
        rc, out, err = run(srv, *args)
        t.assert_eq(rc, 2, "exit code for %s" % args)
        t.assert_eq(len(err.splitlines()), 1, "stderr lines for %s: %r" % (args, err))
        if args[0].lstrip("-") not in err:
            raise AssertionError("error for %s does not name it: %r" % (args, err))


def test_bad_values_are_one_line_and_exit_2(srv):
    for args in (["--history", "abc"], ["--history", "-1"], ["--listen", "nowhere:99999"],
                 ["--listen", "[::1]7000"], ["--ping-interval", "0"], ["--max-frame", "12"],
                 ["--log-level", "loud"], ["--max-queue"]):
        rc, out, err = run(srv, *args)
        t.assert_eq(rc, 2, "exit code for %s" % args)
        t.assert_eq(len(err.splitlines()), 1, "stderr lines for %s: %r" % (args, err))
        t.assert_eq(out, "", "stdout for %s" % args)


def test_config_lines_up_to_199_characters_and_print_config_reads_back(srv):
    """A value as long as a config line can hold is kept whole by
    --print-config, and that output reads back the same; a longer line is
    refused with its line number instead of being cut in two."""
    origins = ",".join("http://h%02d.example.org" % i for i in range(20))
    origins = origins[:199 - len("http-cors-origins = ")].rstrip(",")
    with tempfile.TemporaryDirectory() as d:
        conf, printed = os.path.join(d, "a.conf"), os.path.join(d, "b.conf")
        with open(conf, "w") as f:
            f.write("# %s\nhttp-cors-origins = %s\nhistory = 7\n" % ("x" * 300, origins))
        rc, out, err = run(srv, "-c", conf, "--print-config")
        t.assert_eq((rc, err), (0, ""), "--print-config of a 199-character line")
        if "http-cors-origins = %s\n" % origins not in out:
            raise AssertionError("origins not printed whole:\n%s" % out)
        with open(printed, "w") as f:
            f.write(out)
        rc, again, err = run(srv, "-c", printed, "--print-config")
        t.assert_eq((rc, err), (0, ""), "reading the printed config")
        t.assert_eq(again.split("\n", 1)[1], out.split("\n", 1)[1], "printed twice")
        with open(conf, "w") as f:
            f.write("history = 7\nhttp-cors-origins = %s,http://x.example.org\n" % origins)
        rc, out, err = run(srv, "-c", conf, "--check-config")
        t.assert_eq(rc, 2, "exit code for a 200-character line")
        if "%s:2: line longer than 199 characters" % conf not in err:
            raise AssertionError("error does not name the line: %r" % err)
        rc, out, err = run(srv, "--http-cors-origins", origins + ",http://x.example.org")
        t.assert_eq(rc, 2, "exit code for origins that no config line can hold")
        if "http-cors-origins: must be 0 to 179" not in err:
            raise AssertionError("error does not give the bound: %r" % err)


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_listen_is_repeatable_with_ipv6(srv):
    args = ["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"]
    if ipv6_loopback():
        args += ["--listen", "[::1]:0"]
    extra = t.Server(srv.path, *args)
    with extra:
        want = 1 + args.count("--listen")
        lines = t.wait_until(
            lambda: [l for l in extra.stderr_tail(20) if "listening on" in l][want - 1:] and
            [l for l in extra.stderr_tail(20) if "listening on" in l], 5,
            what="%d listening lines" % want)
        t.assert_eq(len(lines), want, "listening lines: %r" % lines)
        for line in lines:
            addr, port = re.search(r"listening on (\S+):(\d+)", line).groups()
            host = addr.strip("[]")
            c = t.Client(int(port), host=host, label=addr)
            try:
                t.assert_eq(c.hello("u" + port).type, WELCOME, "HELLO via %s" % line)
            finally:
                c.close()


if __name__ == "__main__":
    sys.exit(t.main(globals()))
