#!/usr/bin/env python3
"""Benchmarks for docs/benchmarks.md: chatd under chatd-swarm, and Redis
pub/sub under ../shared/fanbench, side by side in one run.

Every run starts a fresh server pinned to CPU 0 and its load generator
pinned to CPU 1, measures after a warm-up, stops the server by its pid,
and alternates chatd and Redis so that both see the same machine.  The
figures are medians over the runs; every run's line is printed too.

    contrib/bench.py fanout rooms latency --reps 5
    contrib/bench.py idle --bots 5000 10000
    contrib/bench.py fanout --against OLD/chatd --reps 5   # before/after, interleaved
    contrib/bench.py poll --reps 5             # HTTP polling from 1,000 sessions (wrk)
    contrib/bench.py sse ws --reps 3           # 1,000 SSE / 50 WebSocket listeners vs framed
    contrib/bench.py store store-rows store-latency --reps 3   # --store none / normal / full
    contrib/bench.py idle-http --bots 5000     # SSE stream and long poll vs framed, per client
    contrib/bench.py idle-ws --bots 5000       # WebSocket (both subprotocols) vs framed

Loopback only; every run is bounded in time and stops by itself.
"""

import argparse
import json
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("CHATD_BUILD", os.path.join(ROOT, "build"))
CHATD = os.path.join(BUILD, "chatd")
SWARM = os.path.join(BUILD, "chatd-swarm")
FANBENCH = os.environ.get("FANBENCH", os.path.join(ROOT, "..", "shared", "fanbench",
                                                   "fanbench"))
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
CHATD_FLAGS = ["--flood-rate", "0", "--max-conns-per-ip", "0", "--log-level", "warning"]
# Stores of the runs: on the disk, not a tmpfs, or the sync costs nothing.
STORE_DIR = os.environ.get("CHATD_BENCH_STORE_DIR", "/var/tmp")

# case: (chatd-swarm arguments, fanbench arguments)
CASES = {
    "fanout": (["--bots", "51", "--rooms", "1", "--senders", "1", "--rate", "0",
                "--window", "128"],
               ["--rooms", "1", "--subs", "50", "--pubs", "1", "--window", "128"]),
    "rooms": (["--bots", "1010", "--rooms", "100", "--senders", "10", "--sender-rooms", "10",
               "--rate", "0", "--window", "128"],
              ["--rooms", "100", "--subs", "1000", "--pubs", "10", "--window", "128"]),
    "latency": (["--bots", "1010", "--rooms", "10", "--senders", "10", "--sender-rooms", "1",
                 "--total-rate", "500"],
                ["--rooms", "10", "--subs", "1000", "--pubs", "10", "--total-rate", "500"]),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nothing listens on port %d" % port)


def start(argv):
    p = subprocess.Popen(["taskset", "-c", "0"] + argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_chatd(case, warmup, duration, extra=(), chatd=None, chatd_flags=()):
    port = free_port()
    srv = start([chatd or CHATD, "--listen", "127.0.0.1:%d" % port] + CHATD_FLAGS +
                list(chatd_flags))
    try:
        wait_port(port)
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            cmd = ["taskset", "-c", "1", SWARM, "--server", "127.0.0.1:%d" % port,
                   "--warmup", str(warmup), "--duration", str(duration), "--quiet",
                   "--server-pid", str(srv.pid), "--json", out.name] + list(case) + list(extra)
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            with open(out.name) as f:
                r = json.load(f)
        r["exit"] = p.returncode
        r["cmd"] = " ".join(cmd[3:])
        r["metrics"] = scrape(port)
        return r
    finally:
        stop(srv)


def scrape(port):
    """chatd's /metrics as {name: value} (label-free lines only)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
    except OSError:
        return {}
    out = {}
    for line in data.decode("utf-8", "replace").split("\r\n\r\n", 1)[-1].splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#") and "{" not in parts[0]:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return out


def store_figures(r, path):
    """What a run's store holds and what its commits cost the loop."""
    m = r.get("metrics", {})
    size = sum(os.path.getsize(path + sfx) for sfx in ("", "-wal") if os.path.exists(path + sfx))
    rows = m.get("chatd_store_messages_total", 0)
    return {"rows": rows, "commits": m.get("chatd_store_commits_total", 0),
            "longest_ms": 1000 * m.get("chatd_store_commit_seconds_max", 0),
            "commit_s": m.get("chatd_store_commit_seconds_total", 0),
            "prune_ms": 1000 * m.get("chatd_store_prune_seconds_max", 0),
            "pruned": m.get("chatd_store_pruned_messages_total", 0),
            "bytes": size, "bytes_per_row": size / rows if rows else 0}


def run_redis(case, warmup, duration):
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="bench-redis-")
    srv = start([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", tmp, "--maxclients", "15000",
                 "--tcp-backlog", "4096", "--logfile", ""])
    try:
        wait_port(port)
        cmd = ["taskset", "-c", "1", FANBENCH, "--proto", "redis", "--port", str(port),
               "--warmup", str(warmup), "--duration", str(duration), "--pid",
               str(srv.pid)] + list(case)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        m = re.search(r"^RESULT (.*)$", p.stdout, re.M)
        if not m:
            raise RuntimeError("fanbench printed no RESULT:\n" + p.stdout + p.stderr)
        r = dict(kv.split("=", 1) for kv in m.group(1).split())
        r["exit"] = p.returncode
        r["cmd"] = " ".join(cmd[3:])
        return r
    finally:
        stop(srv)
        shutil.rmtree(tmp, ignore_errors=True)


# Front ends side by side: the same load, listeners on one front end or
# another, run after run on fresh servers.  case: (chatd flags, swarm
# arguments, {variant: extra swarm arguments}).
VERSUS = {
    "sse": (["--max-members", "0"],
            ["--bots", "1001", "--rooms", "1", "--senders", "1", "--rate", "0", "--window", "128"],
            {"framed": [],
             "sse": ["--transport", "http", "--sender-transport", "framed", "--http-mode", "sse"]}),
    # A variant's value is the swarm's extra arguments, or (swarm's, chatd's);
    # "{store}" in chatd's becomes a fresh store file for the run.
    "store": ([],
              ["--bots", "51", "--rooms", "1", "--senders", "1", "--rate", "0", "--window", "128"],
              {"none": [],
               "normal": ([], ["--store", "{store}", "--store-sync", "normal"]),
               "full": ([], ["--store", "{store}", "--store-sync", "full"])}),
    # One sender, one reader: a message is one delivery, so the rate is
    # what the store's rows cost beside the protocol's work.
    "store-rows": ([],
                   ["--bots", "2", "--rooms", "1", "--senders", "1", "--rate", "0",
                    "--window", "128"],
                   {"none": [],
                    "normal": ([], ["--store", "{store}", "--store-sync", "normal"]),
                    "full": ([], ["--store", "{store}", "--store-sync", "full"])}),
    "store-latency": ([],
                      ["--bots", "1010", "--rooms", "10", "--senders", "10", "--sender-rooms", "1",
                       "--rate", "50"],
                      {"none": [],
                       "normal": ([], ["--store", "{store}", "--store-sync", "normal"]),
                       "full": ([], ["--store", "{store}", "--store-sync", "full"])}),
    "ws": ([],
           ["--bots", "51", "--rooms", "1", "--senders", "1", "--rate", "0", "--window", "128"],
           {"framed": [],
            "ws": ["--transport", "ws", "--sender-transport", "framed"],
            "ws-json": ["--transport", "ws-json", "--sender-transport", "framed"]}),
}


def bench_versus(name, reps, warmup, duration):
    flags, case, variants = VERSUS[name]
    runs = {v: [] for v in variants}
    for i in range(reps):
        for v, extra in variants.items():
            swarm_extra, chatd_extra = extra if isinstance(extra, tuple) else (extra, [])
            with tempfile.TemporaryDirectory(dir=STORE_DIR) as d:
                store = os.path.join(d, "chatd.db")
                r = run_chatd(case + swarm_extra, warmup, duration,
                              chatd_flags=flags + [a.replace("{store}", store)
                                                   for a in chatd_extra])
                if os.path.exists(store):
                    r["store"] = store_figures(r, store)
            runs[v].append(r)
            print("  %s run %d: %.0f deliveries/s, %.1f ns/delivery, server %.0f%% of a core, "
                  "p99 %.2f ms, lost %d dup %d, exit %d%s" % (
                      v, i + 1, r["deliveries_per_s"], r["server"]["ns_per_delivery"],
                      100 * r["server"]["cpu_s"] / max(r["duration_s"], 1e-9),
                      r["latency_ms"]["p99"], r["lost"], r.get("duplicated", 0), r["exit"],
                      store_line(r.get("store"))),
                  flush=True)
    base = med([r["deliveries_per_s"] for r in runs[next(iter(variants))]])
    for v in variants:
        d = med([r["deliveries_per_s"] for r in runs[v]])
        print("%s %s: median %.0f deliveries/s (%.2fx the first), %.1f ns/delivery (%d runs)" % (
            name, v, d, d / base if base else 0,
            med([r["server"]["ns_per_delivery"] for r in runs[v]]), reps), flush=True)
    print("  command: chatd %s; chatd-swarm %s" % (" ".join(CHATD_FLAGS + flags),
                                                   runs[v][0]["cmd"]))


def store_line(st):
    if not st:
        return ""
    return ("; store: %.0f rows in %.0f commits, %.1f rows/commit, longest commit %.2f ms, "
            "commits %.2f s, %.0f bytes/row, %.0f pruned, longest prune step %.2f ms" % (
                st["rows"], st["commits"], st["rows"] / st["commits"] if st["commits"] else 0,
                st["longest_ms"], st["commit_s"], st["bytes_per_row"], st["pruned"],
                st["prune_ms"]))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def bench_case(name, reps, warmup, duration):
    swarm_args, fan_args = CASES[name]
    ours, theirs = [], []
    for i in range(reps):
        r = run_chatd(swarm_args, warmup, duration)
        ours.append(r)
        print("  chatd run %d: %.0f deliveries/s, p50 %.3f p99 %.3f p99.9 %.3f ms, "
              "server %.1f ns/delivery (%.0f%% of a core), lost %d, exit %d" % (
                  i + 1, r["deliveries_per_s"], r["latency_ms"]["p50"], r["latency_ms"]["p99"],
                  r["latency_ms"]["p999"], r["server"]["ns_per_delivery"],
                  100 * r["server"]["cpu_s"] / max(r["duration_s"], 1e-9), r["lost"], r["exit"]),
              flush=True)
        if os.path.exists(FANBENCH):
            f = run_redis(fan_args, warmup, duration)
            theirs.append(f)
            d = float(f["deliv_per_s"])
            cpu = float(f["cpu_server"]) / 100  # of a core, over the window
            print("  redis run %d: %.0f deliveries/s, p50 %.3f p99 %.3f p99.9 %.3f ms, "
                  "server %.1f ns/delivery (%s%% of a core), lost %s" % (
                      i + 1, d, float(f["p50_us"]) / 1000, float(f["p99_us"]) / 1000,
                      float(f["p999_us"]) / 1000, 1e9 * cpu / d if d else 0,
                      f["cpu_server"], f["lost"]), flush=True)
    print("%s: chatd median %.0f deliveries/s, p50 %.3f p99 %.3f p99.9 %.3f ms, "
          "%.1f ns/delivery (%d runs)" % (
              name, med([r["deliveries_per_s"] for r in ours]),
              med([r["latency_ms"]["p50"] for r in ours]),
              med([r["latency_ms"]["p99"] for r in ours]),
              med([r["latency_ms"]["p999"] for r in ours]),
              med([r["server"]["ns_per_delivery"] for r in ours]), len(ours)))
    if theirs:
        print("%s: redis median %.0f deliveries/s, p50 %.3f p99 %.3f p99.9 %.3f ms, "
              "%.1f ns/delivery (%d runs)" % (
                  name, med([float(f["deliv_per_s"]) for f in theirs]),
                  med([float(f["p50_us"]) / 1000 for f in theirs]),
                  med([float(f["p99_us"]) / 1000 for f in theirs]),
                  med([float(f["p999_us"]) / 1000 for f in theirs]),
                  med([1e9 * float(f["cpu_server"]) / 100 / float(f["deliv_per_s"])
                       for f in theirs if float(f["deliv_per_s"])]), len(theirs)))
    print("  chatd command: chatd %s; chatd-swarm %s" % (" ".join(CHATD_FLAGS), ours[0]["cmd"]))
    if theirs:
        print("  redis command: %s" % theirs[0]["cmd"])
    sys.stdout.flush()


def bench_against(name, other, reps, warmup, duration):
    """This build's chatd and another's, alternating run by run under the
    same swarm, so that both see the same machine."""
    swarm_args, _ = CASES[name]
    runs = {CHATD: [], other: []}
    for i in range(reps):
        for chatd in (other, CHATD):
            r = run_chatd(swarm_args, warmup, duration, chatd=chatd)
            runs[chatd].append(r)
            print("  %s run %d: %.0f deliveries/s, %.1f ns/delivery, p99 %.3f ms, lost %d" % (
                "this " if chatd == CHATD else "other", i + 1, r["deliveries_per_s"],
                r["server"]["ns_per_delivery"], r["latency_ms"]["p99"], r["lost"]),
                flush=True)
    for label, chatd in (("other", other), ("this", CHATD)):
        rs = runs[chatd]
        print("%s: %s (%s) median %.0f deliveries/s, %.1f ns/delivery (%d runs)" % (
            name, label, chatd, med([r["deliveries_per_s"] for r in rs]),
            med([r["server"]["ns_per_delivery"] for r in rs]), len(rs)), flush=True)


def bench_idle(counts, reps, other=None):
    """Bytes per idle connection; with OTHER, that binary's run follows each of ours."""
    binaries = [("this", CHATD)] + ([("other", other)] if other else [])
    for n in counts:
        per = {label: [] for label, _ in binaries}
        for i in range(reps):
            for label, chatd in binaries:
                rooms = max(1, n // 10)
                extra = ["--bots", str(n), "--rooms", str(rooms), "--idle", "--burst", "512"]
                if n > 9000:
                    extra += ["--sources", "127.0.0.1-127.0.0.8"]
                r = run_chatd([], 3, 1, extra, chatd)
                s = r["server"]
                b = (s["rss_setup_kb"] - s["rss_before_kb"]) * 1024 / n
                per[label].append(b)
                print("  %s idle %d run %d: rss %d KiB before, %d KiB with %d connections: "
                      "%.0f bytes per connection, ready %d, exit %d" % (
                          label, n, i + 1, s["rss_before_kb"], s["rss_setup_kb"], n, b,
                          r["ready"], r["exit"]), flush=True)
        for label, chatd in binaries:
            print("idle %d: %s (%s) median %.0f bytes per connection (%d runs)" % (
                n, label, chatd, med(per[label]), reps), flush=True)


# --- HTTP ---------------------------------------------------------------------

HTTP_FLAGS = ["--http-max-sessions-per-ip", "0", "--http-max-sessions", "0",
              "--http-max-wait", "3600", "--http-session-timeout", "600"]


class Http:
    """One keep-alive HTTP/1.1 connection, blocking, for setting up a run."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def send(self, method, path, body=None, token=None):
        head = "%s %s HTTP/1.1\r\nHost: bench\r\n" % (method, path)
        if token:
            head += "Authorization: Bearer %s\r\n" % token
        data = b"" if body is None else json.dumps(body).encode()
        if body is not None:
            head += "Content-Type: application/json\r\n"
        head += "Content-Length: %d\r\n\r\n" % len(data)
        self.s.sendall(head.encode() + data)

    def head(self):
        """Read a response's status line and headers: (status, {name: value})."""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode().split("\r\n")
        hdr = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        return int(lines[0].split()[1]), hdr

    def call(self, method, path, body=None, token=None):
        self.send(method, path, body, token)
        status, hdr = self.head()
        n = int(hdr.get("content-length", "0"))
        while len(self.buf) < n:
            self.buf += self.s.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n:]
        if status >= 300:
            raise RuntimeError("%s %s: %d %s" % (method, path, status, data[:200]))
        return json.loads(data) if data else None


def sign_in(port, n, rooms, prefix):
    """n sessions, session i in room r(i % rooms); [(Http, token, cursor)]."""
    out = []
    for i in range(n):
        h = Http(port)
        tok = h.call("POST", "/api/v1/session", {"nick": "%s%d" % (prefix, i)})["token"]
        j = h.call("POST", "/api/v1/rooms/r%d/join" % (i % rooms), token=tok)
        out.append((h, tok, j["cursor"]))
    return out


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))


WRK_SCRIPT = """
local tokens, i = {}, 0
function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
end
function request()
  i = i + 1
  return wrk.format("GET", "%s", {["Authorization"] = "Bearer " .. tokens[i %% #tokens + 1]})
end
"""


def bench_poll(reps, duration, sessions=1000):
    """GET /rooms/{room}/messages?after= from `sessions` sessions over as many
    keep-alive connections, with wrk on the other core: once with nothing new
    after the cursor (the common answer of a poll), once with the newest
    message after it."""
    for variant in ("empty", "one"):
        rates, p99s, us = [], [], []
        for i in range(reps):
            port = free_port()
            srv = start([CHATD, "--listen", "127.0.0.1:%d" % port] + CHATD_FLAGS + HTTP_FLAGS)
            try:
                wait_port(port)
                ss = sign_in(port, sessions, 1, "p")
                h, tok, cur = ss[0]
                for k in range(10):
                    r = h.call("POST", "/api/v1/rooms/r0/messages", {"text": "x" * 100}, tok)
                last = r["cursor"]
                ep, seq = last.split("-")
                after = last if variant == "empty" else "%s-%d" % (ep, int(seq) - 1)
                for h, _, _ in ss:
                    h.s.close()
                with tempfile.TemporaryDirectory() as d:
                    script = os.path.join(d, "poll.lua")
                    with open(script, "w") as f:
                        f.write(WRK_SCRIPT % ("/api/v1/rooms/r0/messages?after=" + after))
                    tokens = os.path.join(d, "tokens")
                    with open(tokens, "w") as f:
                        f.write("\n".join(t for _, t, _ in ss) + "\n")
                    cmd = ["taskset", "-c", "1", WRK, "-t1", "-c%d" % sessions,
                           "-d%ds" % duration, "--latency", "-s", script,
                           "http://127.0.0.1:%d/" % port, "--", tokens]
                    cpu0 = proc_cpu_s(srv.pid)
                    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                    cpu = proc_cpu_s(srv.pid) - cpu0
                m = re.search(r"Requests/sec:\s+([\d.]+)", p.stdout)
                non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", p.stdout)
                errs = re.search(r"Socket errors: (.*)", p.stdout)
                p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", p.stdout, re.M)
                if not m:
                    raise RuntimeError("wrk printed no rate:\n" + p.stdout + p.stderr)
                rate = float(m.group(1))
                p99ms = float(p99.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p99.group(2)]
                rates.append(rate)
                p99s.append(p99ms)
                us.append(1e6 * cpu / max(rate * duration, 1))
                print("  poll %s run %d: %.0f requests/s, p99 %.2f ms, server %.0f%% of a core "
                      "(%.1f us a request), non-2xx %s, socket errors %s" % (
                          variant, i + 1, rate, p99ms, 100 * cpu / duration, us[-1],
                          non2xx.group(1) if non2xx else 0,
                          errs.group(1) if errs else "none"), flush=True)
            finally:
                stop(srv)
        print("poll %s: median %.0f requests/s, p99 %.2f ms, %.1f us of server CPU a request "
              "(%.0f requests/s a core) (%d runs, %d sessions)" % (
                  variant, med(rates), med(p99s), med(us), 1e6 / med(us), reps, sessions),
              flush=True)
    print("  command: chatd %s; %s" % (" ".join(CHATD_FLAGS + HTTP_FLAGS), " ".join(cmd[3:])))


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_idle_http(counts, reps):
    """Bytes per idle client: a framed connection (chatd-swarm --idle), an
    HTTP session with its event stream open, and one with a long poll held,
    each in one of n/10 rooms; run after run, on fresh servers."""
    for n in counts:
        per = {"framed": [], "sse": [], "long-poll": []}
        rooms = max(1, n // 10)
        for i in range(reps):
            r = run_chatd([], 3, 1, ["--bots", str(n), "--rooms", str(rooms), "--idle",
                                     "--burst", "512"])
            s = r["server"]
            per["framed"].append((s["rss_setup_kb"] - s["rss_before_kb"]) * 1024 / n)
            for kind in ("sse", "long-poll"):
                port = free_port()
                srv = start([CHATD, "--listen", "127.0.0.1:%d" % port] + CHATD_FLAGS +
                            HTTP_FLAGS)
                try:
                    wait_port(port)
                    time.sleep(0.5)  # let the fresh process settle before the baseline
                    before = rss_kb(srv.pid)
                    ss = sign_in(port, n, rooms, "i")
                    for k, (h, tok, cur) in enumerate(ss):
                        if kind == "sse":
                            h.send("GET", "/api/v1/events", token=tok)
                        else:
                            h.send("GET", "/api/v1/rooms/r%d/messages?after=%s&wait=3600" % (
                                k % rooms, cur), token=tok)
                    if kind == "sse":
                        for h, _, _ in ss:
                            status, _ = h.head()
                            assert status == 200, status
                    time.sleep(1)  # the last requests are read and held
                    after = rss_kb(srv.pid)
                    per[kind].append((after - before) * 1024 / n)
                    for h, _, _ in ss:
                        h.s.close()
                finally:
                    stop(srv)
            print("  idle %d run %d: framed %.0f, sse %.0f, long-poll %.0f bytes per client" % (
                n, i + 1, per["framed"][-1], per["sse"][-1], per["long-poll"][-1]), flush=True)
        f = med(per["framed"])
        print("idle %d: framed %.0f, SSE %.0f (+%.0f), long poll %.0f (+%.0f) bytes per client "
              "(medians of %d runs)" % (n, f, med(per["sse"]), med(per["sse"]) - f,
                                         med(per["long-poll"]), med(per["long-poll"]) - f, reps),
              flush=True)


def ws_sign_in(port, n, rooms, protocol, prefix="w"):
    """n WebSocket users, user i in room r(i % rooms); their sockets."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    import wsclient  # the tests' RFC 6455 client
    out = []
    for i in range(n):
        s, rest = wsclient.ws_connect(port, protocol=protocol)
        if protocol == "chatd.json":
            for o in ({"type": "hello", "nick": "%s%d" % (prefix, i)},
                      {"type": "join", "room": "r%d" % (i % rooms)}):
                s.sendall(wsclient.frame(wsclient.TEXT, json.dumps(o).encode()))
            want = b'"type":"history_end"'
        else:
            import chatdtest
            s.sendall(wsclient.frame(wsclient.BINARY, chatdtest.PREFACE +
                                     chatdtest.encode(chatdtest.HELLO, nick="%s%d" % (prefix, i)) +
                                     chatdtest.encode(chatdtest.JOIN, room="r%d" % (i % rooms),
                                                      epoch=0, since=0)))
            want = bytes([chatdtest.HISTORY_END])
        buf = rest
        while want not in buf:
            buf += s.recv(65536)
        out.append(s)
    return out


def bench_idle_ws(counts, reps):
    """Bytes per idle client: framed over TCP (chatd-swarm --idle) and over
    a WebSocket, and chatd.json, each joined to one of n/10 rooms."""
    for n in counts:
        per = {"framed": [], "chatd.framed": [], "chatd.json": []}
        rooms = max(1, n // 10)
        for i in range(reps):
            r = run_chatd([], 3, 1, ["--bots", str(n), "--rooms", str(rooms), "--idle",
                                     "--burst", "512"])
            s = r["server"]
            per["framed"].append((s["rss_setup_kb"] - s["rss_before_kb"]) * 1024 / n)
            for proto in ("chatd.framed", "chatd.json"):
                port = free_port()
                srv = start([CHATD, "--listen", "127.0.0.1:%d" % port] + CHATD_FLAGS)
                try:
                    wait_port(port)
                    # One upgrade first: the first costs the wslay pool and
                    # the JSON renderer once, not per connection.
                    warm = ws_sign_in(port, 1, 1, proto, "warm")
                    time.sleep(0.5)
                    before = rss_kb(srv.pid)
                    socks = ws_sign_in(port, n, rooms, proto)
                    time.sleep(1)
                    after = rss_kb(srv.pid)
                    per[proto].append((after - before) * 1024 / n)
                    for x in socks + warm:
                        x.close()
                finally:
                    stop(srv)
            print("  idle %d run %d: framed %.0f, chatd.framed %.0f, chatd.json %.0f bytes "
                  "per client" % (n, i + 1, per["framed"][-1], per["chatd.framed"][-1],
                                  per["chatd.json"][-1]), flush=True)
        f = med(per["framed"])
        print("idle %d: framed %.0f, WebSocket chatd.framed %.0f (+%.0f), chatd.json %.0f "
              "(+%.0f) bytes per client (medians of %d runs)" % (
                  n, f, med(per["chatd.framed"]), med(per["chatd.framed"]) - f,
                  med(per["chatd.json"]), med(per["chatd.json"]) - f, reps), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="+", help="fanout, rooms, latency, idle, poll, idle-http, idle-ws, sse, ws, store, store-rows, store-latency")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--bots", type=int, nargs="*", default=[5000, 10000])
    ap.add_argument("--against", metavar="CHATD",
                    help="compare with this chatd binary, run for run (no Redis)")
    args = ap.parse_args()
    for c in args.cases:
        if args.against and c in CASES:
            bench_against(c, os.path.abspath(args.against), args.reps, args.warmup,
                          args.duration)
        elif c == "idle":
            bench_idle(args.bots, args.reps,
                       os.path.abspath(args.against) if args.against else None)
        elif c == "poll":
            bench_poll(args.reps, args.duration)
        elif c == "idle-http":
            bench_idle_http(args.bots, args.reps)
        elif c in VERSUS:
            bench_versus(c, args.reps, args.warmup, args.duration)
        elif c == "idle-ws":
            bench_idle_ws(args.bots, args.reps)
        elif c in CASES:
            bench_case(c, args.reps, args.warmup, args.duration)
        else:
            ap.error("unknown case %s" % c)
    return 0


if __name__ == "__main__":
    sys.exit(main())
