#!/usr/bin/env python3
"""ctest "layers": the include rule of docs/design.md (ARCHITECTURE).

src/ is in layers, util < core < store and cluster < net < proto < main.c, with the swarm
beside them.  A file may include only its own layer and the layers below
it; within proto, a front end only its own folder (the registry names them
all); the framed wire (include/chatd/wire.h) is for the framed front end,
the swarm and the tests.  No file may reach itself through its includes.
Each #include line of src/ is read; a violation names the file, the line
and the rule.  Exits 1 on any."""

import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), ".."))
SRC = os.path.join(ROOT, "src")

RANK = {"util": 0, "core": 1, "store": 2, "cluster": 2, "net": 3, "proto": 4, "main": 5}
# What each layer may include besides its own and the ranks below it.
WIRE = "chatd/wire.h"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer(rel):
    """The layer of a path under src/ ("util/log.h" -> "util")."""
    head = rel.split("/", 1)[0]
    if head == "main.c":
        return "main"
    return head


def allowed(src_rel, inc):
    """None if src_rel may include inc, else the rule it breaks."""
    src_layer = layer(src_rel)
    if inc == WIRE:
        if src_rel.startswith("proto/framed/") or src_layer in ("swarm", "main"):
            return None
        return "only the framed front end and the swarm speak the framed wire"
    inc_layer = layer(inc)
    if src_layer == "swarm":
        if inc_layer in ("swarm", "util"):
            return None
        return "the swarm uses util and the public codec, not the daemon's %s" % inc_layer
    if inc_layer == "swarm":
        return "the daemon does not include the swarm"
    if inc_layer not in RANK:
        return "unknown layer %s" % inc_layer
    if RANK[inc_layer] > RANK[src_layer]:
        return "%s is below %s: it may not include upward" % (src_layer, inc_layer)
    if src_layer == "proto" and inc_layer == "proto":
        mine = src_rel.split("/")[1] if src_rel.count("/") > 1 else None
        theirs = inc.split("/")[1] if inc.count("/") > 1 else None
        if mine is not None and theirs is not None and mine != theirs:
            return "a front end does not include another (%s -> %s)" % (mine, theirs)
    if src_layer == "proto" and inc in ("net/server.h", "net/listener.h", "net/sysd.h",
                                        "net/ipcount.h"):
        return "a front end sees its connection (net/conn.h), never the server"
    return None


def main():
    files = {}
    for dirpath, _, names in os.walk(SRC):
        for n in names:
            if n.endswith((".c", ".h")):
                p = os.path.join(dirpath, n)
                files[os.path.relpath(p, SRC)] = p
    bad = 0
    graph = {}
    for rel, path in sorted(files.items()):
        text = open(path, encoding="utf-8").read()
        graph[rel] = []
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            why = allowed(rel, inc)
            if why:
                print("src/%s:%d: #include \"%s\": %s" % (rel, line, inc, why))
                bad += 1
            if inc in files:
                graph[rel].append(inc)
            elif inc != WIRE:
                print("src/%s:%d: #include \"%s\": no such file under src/" % (rel, line, inc))
                bad += 1
    # No file reaches itself (a cycle of headers, or a .c's header and back).
    state = {}

    def visit(n, path):
        nonlocal bad
        state[n] = 1
        for m in graph.get(n, ()):
            if state.get(m) == 1:
                cycle = path[path.index(m):] + [m]
                print("include cycle: %s" % " -> ".join("src/" + x for x in cycle))
                bad += 1
            elif state.get(m) is None:
                visit(m, path + [m])
        state[n] = 2

    for n in sorted(graph):
        if state.get(n) is None:
            visit(n, [n])
    print("layers: %d files, %d includes, %d violation(s)"
          % (len(graph), sum(len(v) for v in graph.values()), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
