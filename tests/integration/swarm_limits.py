#!/usr/bin/env python3
"""chatd-swarm against a real chatd whose limits it meets: the run must
fail (exit 1) soon after setup settles, print each distinct ERROR with its
code, name, text and count, and a hint naming the server option and the
swarm option that avoids it; the JSON report must list the same errors.
And against a server with default limits, the README's own example (300
bots, more than chatd's 128 per address) must pass, the swarm spreading
its bots over loopback source addresses by itself.

    python3 swarm_limits.py --chatd build/chatd --swarm build/chatd-swarm
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import chatdtest as t

SWARM = None  # set from --swarm in __main__

# Setup used to wait 30 s for bots that would never come; it must now end
# as soon as every bot is ready or refused.  Generous for sanitizer builds.
SETTLED_WITHIN = 20.0


def run_swarm(server, *args, report=False):
    """Run chatd-swarm against server (HOST:PORT) with a short window;
    returns (completed process, JSON report, HTML path or None, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        jpath = os.path.join(tmp, "swarm.json")
        hpath = os.path.join(tmp, "swarm.html")
        cmd = [SWARM, "--server", server, "--warmup", "0.2", "--duration", "1",
               "--grace", "1", "--json", jpath, "--quiet", *map(str, args)]
        if report:
            cmd += ["--report", hpath]
        t0 = time.monotonic()
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=90)
        dt = time.monotonic() - t0
        print(p.stdout, end="")
        if p.stderr:
            print(p.stderr, end="", file=sys.stderr)
        check_sanitizers(p.stderr)
        with open(jpath) as f:
            r = json.load(f)
        html = None
        if report:
            with open(hpath) as f:
                html = f.read()
        return p, r, html, dt


def check_sanitizers(err):
    """A sanitizer report would also make the exit status non-zero."""
    for mark in t.SANITIZER_MARKS:
        if mark in err:
            raise AssertionError("sanitizer report from chatd-swarm: %s" % mark)


def hint_lines(out):
    return [line for line in out.splitlines() if line.strip().startswith("hint")]


@t.server_args("--max-conns-per-ip", "5")
def test_refused_bots_fail_the_run_with_the_error_and_a_hint(srv):
    p, r, html, dt = run_swarm("127.0.0.1:%d" % srv.port, "--bots", "8", "--rooms", "1",
                               "--sources", "127.0.0.1", report=True)
    if p.returncode == 0:
        raise AssertionError("the swarm exited 0 with 3 of 8 bots refused")
    t.assert_eq(p.returncode, 1, "exit status")
    if "FAILED: only 5 of 8 bots became ready" not in p.stdout:
        raise AssertionError("no 'only 5 of 8 bots became ready' line")
    m = re.search(r"^\s+(\d+) x 105 SERVER_FULL \"(.*)\"$", p.stdout, re.M)
    if m is None:
        raise AssertionError("no line for the ERROR 105 SERVER_FULL frames")
    t.assert_eq(int(m.group(1)), 3, "count of ERROR 105")
    if "(max-conns-per-ip)" not in m.group(2):
        raise AssertionError("the ERROR text is not shown as sent: %r" % m.group(2))
    hints = hint_lines(p.stdout)
    if len(hints) != 1 or "--max-conns-per-ip" not in hints[0] or "--sources" not in hints[0]:
        raise AssertionError("expected one hint naming --max-conns-per-ip and --sources: %r"
                             % hints)
    if dt > SETTLED_WITHIN:
        raise AssertionError("the run took %.1f s: setup waited for refused bots" % dt)
    # The JSON report lists the same error.
    t.assert_eq(r["result"], "fail", "JSON result")
    t.assert_eq(r["ready"], 5, "JSON ready")
    errs = [e for e in r["errors"] if e["code"] == 105]
    t.assert_eq(len(errs), 1, "distinct 105 errors in JSON")
    t.assert_eq(errs[0]["count"], 3, "JSON count of 105")
    t.assert_eq(errs[0]["text"], m.group(2), "JSON text of 105")
    if "--max-conns-per-ip" not in errs[0].get("hint", ""):
        raise AssertionError("JSON error without the hint: %r" % errs[0])
    if not any("only 5 of 8" in f for f in r["failures"]):
        raise AssertionError("JSON failures lack the ready check: %r" % r["failures"])
    # And so does the HTML page.
    if 'data-code="105"' not in html or "max-conns-per-ip" not in html:
        raise AssertionError("the HTML report does not show the 105 errors")


@t.server_args("--max-rooms", "1")
def test_a_refused_join_names_max_rooms_and_rooms_per_bot(srv):
    p, r, _, dt = run_swarm("127.0.0.1:%d" % srv.port, "--bots", "4", "--rooms", "4",
                            "--rooms-per-bot", "2")
    t.assert_eq(p.returncode, 1, "exit status")
    if not re.search(r"^\s+4 x 212 TOO_MANY_ROOMS \".*\(max-rooms\)\"$", p.stdout, re.M):
        raise AssertionError("no line for the 4 ERROR 212 TOO_MANY_ROOMS frames")
    hints = hint_lines(p.stdout)
    if len(hints) != 1 or "--max-rooms" not in hints[0] or "--rooms-per-bot" not in hints[0]:
        raise AssertionError("expected one hint naming --max-rooms and --rooms-per-bot: %r"
                             % hints)
    if dt > SETTLED_WITHIN:
        raise AssertionError("the run took %.1f s: setup waited for refused joins" % dt)
    t.assert_eq(r["ready"], 0, "JSON ready")
    t.assert_eq([(e["code"], e["count"]) for e in r["errors"]], [(212, 4)], "JSON errors")


def test_readme_example_passes_against_default_limits(srv):
    # chatd's defaults allow 128 connections per address: 300 bots need
    # the swarm's own spread over 127.0.0.1-127.0.0.3.
    p, r, _, _ = run_swarm("127.0.0.1:%d" % srv.port, "--bots", "300", "--rooms", "10")
    t.assert_eq(p.returncode, 0, "exit status")
    t.assert_eq(r["ready"], 300, "bots ready")
    t.assert_eq(r["sources"], 3, "loopback source addresses")
    t.assert_eq(r["errors"], [], "ERROR frames")


@t.server_args("--max-conns-per-ip", "5", "--listen", "[::1]:0")
def test_on_ipv6_loopback_the_hint_says_there_is_one_address(srv):
    m = srv.wait_for_line(r"listening on \[::1\]:(\d+)")
    p, r, _, _ = run_swarm("[::1]:%s" % m.group(1), "--bots", "8", "--rooms", "1")
    t.assert_eq(p.returncode, 1, "exit status")
    t.assert_eq(r["ready"], 5, "JSON ready")
    hints = hint_lines(p.stdout)
    if len(hints) != 1 or "::1" not in hints[0] or "127.0.0.1" not in hints[0]:
        raise AssertionError("expected a hint about ::1 having one address: %r" % hints)


@t.server_args("--flood-rate", "2", "--flood-burst", "2")
def test_a_run_short_of_its_rate_fails(srv):
    p, r, _, _ = run_swarm("127.0.0.1:%d" % srv.port, "--bots", "2", "--rooms", "1",
                           "--rate", "20")
    t.assert_eq(p.returncode, 1, "exit status")
    if "below 90% of the target rate" not in p.stdout:
        raise AssertionError("no FAILED line for the rate")
    t.assert_eq(r["result"], "fail", "JSON result")


def test_an_unwritable_report_fails_before_the_run(srv):
    p = subprocess.run([SWARM, "--server", "127.0.0.1:%d" % srv.port, "--bots", "1",
                        "--json", "/nonexistent-dir/swarm.json"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    check_sanitizers(p.stderr)
    t.assert_eq(p.returncode, 2, "exit status")
    if "/nonexistent-dir/swarm.json" not in p.stderr:
        raise AssertionError("the error does not name the file: %r" % p.stderr)


def _have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--swarm" not in argv:
        print("usage: swarm_limits.py --chatd PATH --swarm PATH", file=sys.stderr)
        sys.exit(2)
    i = argv.index("--swarm")
    SWARM = os.path.abspath(argv[i + 1])
    del argv[i:i + 2]
    if not _have_ipv6_loopback():
        print("SKIP test_on_ipv6_loopback_the_hint_says_there_is_one_address: no ::1")
        del test_on_ipv6_loopback_the_hint_says_there_is_one_address
    sys.exit(t.main(globals(), argv))
