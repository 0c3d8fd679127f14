#!/usr/bin/env python3
"""chatd-swarm --report: a short run against a real chatd must write one
self-contained, well-formed HTML page (it parses as XML; inline CSS and
SVG; no script, no link out) whose charts have one point per second of
the measured window and whose totals and checks are those of the --json
report of the same run.

    python3 swarm_report.py --chatd build/chatd --swarm build/chatd-swarm
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import chatdtest as t

SWARM = None  # set from --swarm in __main__
SERVER_ARGS = ("--flood-rate", "0")
DURATION = 4


def local(tag):
    """An element's name without any namespace."""
    return tag.rsplit("}", 1)[-1]


def find_all(root, name):
    return [e for e in root.iter() if local(e.tag) == name]


def json_value(r, key):
    """The JSON figure a table row's data-key names ("latency_ms.p50")."""
    for part in key.split("."):
        r = r[part]
    return r


def run(srv, tmp):
    jpath = os.path.join(tmp, "swarm.json")
    hpath = os.path.join(tmp, "swarm.html")
    cmd = [SWARM, "--server", "127.0.0.1:%d" % srv.port, "--bots", "40", "--rooms", "2",
           "--rate", "20", "--warmup", "0.3", "--duration", str(DURATION),
           "--json", jpath, "--report", hpath, "--quiet"]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=60)
    print(p.stdout, end="")
    for mark in t.SANITIZER_MARKS:
        if mark in p.stderr:
            raise AssertionError("sanitizer report from chatd-swarm: %s" % mark)
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr)
        raise AssertionError("chatd-swarm exited %d" % p.returncode)
    with open(jpath) as f:
        r = json.load(f)
    with open(hpath, encoding="utf-8") as f:
        html = f.read()
    return r, html


def test_report_page_is_self_contained_with_a_point_per_second(srv):
    with tempfile.TemporaryDirectory() as tmp:
        r, html = run(srv, tmp)
    t.assert_eq(r["result"], "ok", "JSON result")

    # Self-contained: nothing to run, nothing to fetch.
    low = html.lower()
    for bad in ("<script", "http:", "https:", "src=", "href=", "@import", "url("):
        if bad in low:
            raise AssertionError("the page holds %r" % bad)
    if not low.startswith("<!doctype html>"):
        raise AssertionError("no HTML5 doctype")

    # Well-formed: the whole page parses as XML.
    try:
        root = ET.fromstring(html)
    except ET.ParseError as e:
        raise AssertionError("the page is not well-formed: %s" % e) from None
    t.assert_eq(local(root.tag), "html", "root element")
    if not find_all(root, "style") or not (find_all(root, "style")[0].text or "").strip():
        raise AssertionError("no inline stylesheet")

    # Two charts, each line one point per second of the measured window.
    svgs = find_all(root, "svg")
    t.assert_eq(len(svgs), 2, "SVG charts")
    seconds = r["duration_s"]
    series = {}
    for svg in svgs:
        for pl in find_all(svg, "polyline"):
            pts = [tuple(map(float, xy.split(","))) for xy in pl.get("points").split()]
            series[pl.get("data-series")] = pts
    t.assert_eq(sorted(series), ["deliveries", "p50", "p99", "publishes"], "chart lines")
    for name, pts in series.items():
        if abs(len(pts) - seconds) > 1:
            raise AssertionError("%s: %d points for a %.3f s window" % (name, len(pts), seconds))
        xs = [x for x, _ in pts]
        if xs != sorted(xs):
            raise AssertionError("%s: points not in time order: %r" % (name, xs))
    # The per-second table has the same seconds as the charts.
    table = [e for e in find_all(root, "table") if e.get("id") == "seconds"][0]
    rows = [tr for tr in find_all(table, "tr") if find_all(tr, "td")]
    t.assert_eq(len(rows), len(series["deliveries"]), "per-second rows")
    rates = [float(find_all(tr, "td")[1].text) for tr in rows]
    if min(rates) <= 0:
        raise AssertionError("a second without deliveries: %r" % rates)

    # Totals and checks: the figures of the JSON report.
    keyed = {}
    for tr in find_all(root, "tr"):
        key = tr.get("data-key")
        if key is not None:
            if key in keyed:
                raise AssertionError("data-key %r twice" % key)
            keyed[key] = find_all(tr, "td")[0].text
    for key in ("bots", "duration_s", "publishes_per_s", "deliveries_per_s", "sent",
                "acked", "delivered", "history", "latency_ms.p50", "latency_ms.p99",
                "latency_ms.max", "latency_ms.samples", "ready", "lost", "duplicated",
                "reordered", "misrouted", "error_frames"):
        if key not in keyed:
            raise AssertionError("the page has no %r figure" % key)
        got, want = float(keyed[key]), float(json_value(r, key))
        if abs(got - want) > 1e-9 * max(1.0, abs(want)):
            raise AssertionError("%s: page %s, JSON %s" % (key, keyed[key], want))
    res = [e for e in root.iter() if e.get("id") == "result"][0]
    if not re.search(r"\bok\b", "".join(res.itertext())):
        raise AssertionError("the page's result is not ok: %r" % "".join(res.itertext()))


if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--swarm" not in argv:
        print("usage: swarm_report.py --chatd PATH --swarm PATH", file=sys.stderr)
        sys.exit(2)
    i = argv.index("--swarm")
    SWARM = os.path.abspath(argv[i + 1])
    del argv[i:i + 2]
    sys.exit(t.main(globals(), argv))
