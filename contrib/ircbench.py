#!/usr/bin/env python3
"""chatd's IRC front end against InspIRCd and ngIRCd (issue 15), with
chatd's framed protocol beside them, all loaded by ../shared/fanbench.

    contrib/ircbench.py s1 rooms latency --reps 3     # the three load cases
    contrib/ircbench.py idle --conns 5000 10000 --reps 2
    contrib/ircbench.py s1 --servers chatd-irc inspircd --reps 5

Servers (--servers, default all): chatd-irc (chatd --listen .../irc),
chatd (framed), inspircd, inspircd-qa (the same with fanbench --quickack:
InspIRCd 3 never sets TCP_NODELAY, see fanbench's RESULTS.md), ngircd.

fanbench's IRC adapter lets the publishers stay outside the channels and
opens each channel with `MODE #rN -n` from its creator.  chatd has no
channel operators and `+n` is fixed (docs/irc.md), so against chatd that
setup never completes.  This script therefore builds a copy of fanbench
(in a temporary directory; ../shared/fanbench is not touched) with one
more adapter, `irc-member`: the IRC adapter with the publishers joining
every room, as fanbench's chatd adapter does (deliveries to the other
publishers are counted apart, as pub_rx).  Every IRC server here is loaded
with `irc-member`, so all of them do the same work.  InspIRCd gets
fanbench's inspircd.conf with maxchans and <channels users> raised from
20 to 200 (publishers join 100 rooms); ngIRCd gets fanbench's ngircd.conf
unchanged.

Each run: a fresh server pinned to CPU 0, fanbench pinned to CPU 1, the
server stopped by its pid afterwards; the servers alternate within each
repetition.  Before each run the driver waits (up to 20 s) for the box to
be at most --quiet-limit % busy and logs what it saw; --nice -10 (root)
runs servers and fanbench ahead of other work on a shared machine.  Idle
runs (case 4) open at most 19,000 connections (20,000 open files).  Loopback only; fanbench bounds every run (alarm), and this
script's subprocess calls have time limits.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from bench import free_port, wait_port  # contrib/bench.py, beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("CHATD_BUILD", os.path.join(ROOT, "build"))
CHATD = os.path.join(BUILD, "chatd")
FANBENCH_DIR = os.environ.get("FANBENCH_DIR", os.path.join(ROOT, "..", "shared", "fanbench"))
INSPIRCD = "/usr/sbin/inspircd"
NGIRCD = "/usr/sbin/ngircd"
# flood control off, no per-address cap (every client is 127.0.0.1),
# publishers may join every room, memory only (IRC servers keep no history
# store; the 50-message room ring stays at its default)
CHATD_FLAGS = ["--store", "none", "--flood-rate", "0", "--max-conns-per-ip", "0",
               "--max-rooms", "0", "--log-level", "warning"]

CASES = {
    "s1": ["--rooms", "1", "--subs", "50", "--pubs", "1", "--window", "128"],
    "rooms": ["--rooms", "100", "--subs", "1000", "--pubs", "10", "--window", "128"],
    "latency": ["--rooms", "10", "--subs", "1000", "--pubs", "10", "--total-rate", "500"],
}
SERVERS = ["chatd-irc", "chatd", "inspircd", "inspircd-qa", "ngircd"]

PATCH_OLD = "static const proto_t *protos[] = { &proto_redis, &proto_irc, &proto_chatd, NULL };"
PATCH_NEW = """/* ircbench.py: publishers join every room (no MODE -n, no operator needed) */
static const proto_t proto_irc_member = {
	.name = "irc-member", .default_port = 6667, .needs_register_ack = 1, .pubs_join_rooms = 1,
	.encode_register = irc_register, .encode_join = irc_join,
	.encode_publish = irc_publish, .encode_pong = irc_pong,
	.encode_room_open = NULL, .parse = irc_parse, .room_id = irc_room_id,
};
static const proto_t *protos[] = { &proto_redis, &proto_irc, &proto_chatd, &proto_irc_member, NULL };"""


def build_fanbench(work):
    src = open(os.path.join(FANBENCH_DIR, "fanbench.c")).read()
    if PATCH_OLD not in src:
        sys.exit("fanbench.c changed: the irc-member patch does not apply")
    src = src.replace(PATCH_OLD, PATCH_NEW)
    path = os.path.join(work, "fanbench.c")
    open(path, "w").write(src)
    exe = os.path.join(work, "fanbench")
    subprocess.run(["cc", "-O2", "-g", "-Wall", "-std=gnu11", "-o", exe, path, "-lev"],
                   check=True, timeout=120)
    return exe


def configs(work):
    insp = open(os.path.join(FANBENCH_DIR, "inspircd.conf")).read()
    insp = insp.replace('maxchans="20"', 'maxchans="200"')
    insp = insp.replace('<channels users="20"', '<channels users="200"')
    insp = insp.replace("/tmp/fb/", work + "/")
    open(os.path.join(work, "inspircd.conf"), "w").write(insp)
    shutil.copy(os.path.join(FANBENCH_DIR, "ngircd.conf"), os.path.join(work, "ngircd.conf"))
    open(os.path.join(work, "motd.txt"), "w").write("fanbench\n")


NICE = 0


def raise_nofile():
    import resource
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    if NICE:
        os.nice(NICE)


def start(server, work):
    """-> (Popen, port, fanbench proto arguments)"""
    if server in ("chatd-irc", "chatd"):
        port = free_port()
        listen = "127.0.0.1:%d%s" % (port, "/irc" if server == "chatd-irc" else "")
        argv = [CHATD, "--listen", listen] + CHATD_FLAGS
        fb = ["--proto", "irc-member" if server == "chatd-irc" else "chatd", "--burst", "512"]
    elif server.startswith("inspircd"):
        port = 6668
        argv = [INSPIRCD, "--nofork", "--runasroot", "--config=" + os.path.join(work, "inspircd.conf")]
        fb = ["--proto", "irc-member", "--burst", "512"] + (["--quickack"] if server == "inspircd-qa" else [])
    elif server == "ngircd":
        port = 6667
        argv = [NGIRCD, "-n", "-f", os.path.join(work, "ngircd.conf")]
        fb = ["--proto", "irc-member", "--burst", "10"]   # ngIRCd: listen(fd, 10)
    else:
        raise ValueError(server)
    log = open(os.path.join(work, server + ".out"), "ab")
    p = subprocess.Popen(["taskset", "-c", "0"] + argv, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=log, preexec_fn=raise_nofile)
    try:
        wait_port(port)
    except RuntimeError:
        stop(p)
        raise
    time.sleep(0.3)
    return p, port, fb


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def result(text):
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    return None


def busy():
    """% of the machine busy over 1 s (the box is shared)"""
    def snap():
        v = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
        return sum(v), v[3] + v[4]
    t0, i0 = snap()
    time.sleep(1)
    t1, i1 = snap()
    return 100 - 100 * (i1 - i0) // max(1, t1 - t0)


def quiet(log, limit=10, wait=20):
    """wait (at most `wait` s, one per second) until the machine is at most `limit` % busy"""
    for _ in range(wait):
        b = busy()
        if b <= limit:
            break
    log.write("quiet-check: machine %d%% busy before the run\n" % b)
    return b


QUIET_LIMIT = 10


def run(fanbench, server, work, args, label, log):
    q = quiet(log, QUIET_LIMIT) if QUIET_LIMIT < 100 else -1
    p, port, fb = start(server, work)
    try:
        cmd = ["taskset", "-c", "1", fanbench, "--port", str(port)] + fb + args + \
              ["--pid", str(p.pid), "--label", label]
        print("### %s %s" % (time.strftime("%T"), " ".join(cmd[3:])), flush=True)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                             preexec_fn=raise_nofile)
        log.write("### %s %s\n%s%s" % (time.strftime("%T"), " ".join(cmd), out.stdout, out.stderr))
        log.flush()
        r = result(out.stdout) or {}
        r["exit"] = out.returncode
        r["busy_before"] = q
        return r
    finally:
        stop(p)


def fnum(r, k):
    try:
        return float(r.get(k, "nan"))
    except ValueError:
        return float("nan")


def summary(rows, idle):
    if idle:
        print("\n| run | n | conns | ready s | RSS before KiB | RSS after KiB | bytes/conn (range) |")
        print("|---|---|---|---|---|---|---|")
    else:
        print("\n| run | n | deliveries/s median (range) | to publishers/s | p50 / p99 / p99.9 ms"
              " | server CPU % | harness CPU % | server ns/delivery | lost/dup/reord/errors |")
        print("|---|---|---|---|---|---|---|---|---|")
    for label, rs in rows.items():
        ok = [r for r in rs if r.get("aborted") == "0"]
        if not ok:
            print("| %s | 0/%d | aborted |" % (label, len(rs)))
            continue
        m = lambda k: statistics.median(fnum(r, k) for r in ok)
        if idle:
            b = [fnum(r, "bytes_per_conn") for r in ok]
            print("| %s | %d/%d | %s | %.2f | %.0f | %.0f | **%.0f** (%.0f-%.0f) |" % (
                label, len(ok), len(rs), ok[0].get("conns"), m("ready_s"), m("rss_before_kb"),
                m("rss_after_kb"), statistics.median(b), min(b), max(b)))
            continue
        d = [fnum(r, "deliv_per_s") for r in ok]
        # server CPU per delivery counts the deliveries to publishers too
        ns = statistics.median(fnum(r, "cpu_server") / 100 * 1e9 /
                               (fnum(r, "deliv_per_s") + fnum(r, "pub_rx_per_s")) for r in ok)
        bad = sum(int(float(r.get(k, 0))) for r in ok for k in ("lost", "dup", "reordered", "errors"))
        print("| %s | %d/%d | **%s** (%s-%s) | %s | %.2f / %.2f / %.2f | %.0f | %.0f | %.0f | %d |" % (
            label, len(ok), len(rs), format(round(statistics.median(d)), ","),
            format(round(min(d)), ","), format(round(max(d)), ","),
            format(round(m("pub_rx_per_s")), ","), m("p50_us") / 1e3, m("p99_us") / 1e3,
            m("p999_us") / 1e3, m("cpu_server"), m("cpu_harness"), ns, bad))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="+", help="s1, rooms, latency, idle")
    ap.add_argument("--servers", nargs="*", default=SERVERS)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--conns", type=int, nargs="*", default=[5000, 10000])
    ap.add_argument("--log", default="ircbench.log")
    ap.add_argument("--quiet-limit", type=int, default=10,
                    help="before each run wait (up to 20 s) until the machine is at most this %% busy;"
                         " 100: do not wait")
    ap.add_argument("--nice", type=int, default=0,
                    help="run the servers and fanbench at this nice value (e.g. -10 as root:"
                         " other work on a shared box then takes less of their CPUs)")
    args = ap.parse_args()
    # SIGTERM: unwind, so that the running server and fanbench are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if any(n < 1 or n > 19000 for n in args.conns):
        ap.error("--conns: 1..19000 (the open-files limit is 20,000)")
    global QUIET_LIMIT, NICE
    QUIET_LIMIT = args.quiet_limit
    NICE = args.nice
    work = tempfile.mkdtemp(prefix="ircbench.")
    fanbench = build_fanbench(work)
    configs(work)
    rows, idle_rows = {}, {}
    with open(args.log, "a") as log:
        log.write("# %s %s\n" % (time.strftime("%F %T"), " ".join(sys.argv)))
        for rep in range(args.reps):
            for case in args.cases:
                for srv in args.servers:
                    if case == "idle":
                        if srv == "inspircd-qa":
                            continue
                        for n in args.conns:
                            label = "%s-idle%d" % (srv, n)
                            r = run(fanbench, srv, work, ["--idle", str(n), "--rooms", str(n // 10),
                                                          "--settle", "3"], label, log)
                            idle_rows.setdefault(label, []).append(r)
                            print("   %s: %s bytes/conn, ready %s s" % (
                                label, r.get("bytes_per_conn"), r.get("ready_s")), flush=True)
                        continue
                    if case == "latency" and srv == "inspircd-qa":
                        continue
                    label = "%s-%s" % (srv, case)
                    r = run(fanbench, srv, work, CASES[case] + [
                        "--warmup", str(args.warmup), "--duration", str(args.duration)], label, log)
                    rows.setdefault(label, []).append(r)
                    print("   %s: %s deliv/s, p50/p99/p99.9 %s/%s/%s us, cpu srv %s harness %s, "
                          "lost %s errors %s aborted %s, box %s%% busy before" % (
                              label, r.get("deliv_per_s"), r.get("p50_us"), r.get("p99_us"),
                              r.get("p999_us"), r.get("cpu_server"), r.get("cpu_harness"),
                              r.get("lost"), r.get("errors"), r.get("aborted"),
                              r.get("busy_before")), flush=True)
    if rows:
        summary(dict(sorted(rows.items(), key=lambda kv: kv[0].split("-")[-1])), False)
    if idle_rows:
        summary(idle_rows, True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
