#!/usr/bin/env python3
"""No cycle between the files of agent/: a file never calls, directly or
through others, into a file that calls it.  Reads the symbols of the
built objects with nm (defined T/D/B/R, undefined U) and looks for
strongly connected components of more than one file.

    agent-layers.py OBJECT_DIR
"""
import collections
import glob
import os
import subprocess
import sys


def graph(objdir):
    defined, wanted = {}, collections.defaultdict(set)
    objs = glob.glob(os.path.join(objdir, "*.o"))
    if not objs:
        sys.exit(f"not ok - no object files in {objdir}")
    for o in objs:
        f = os.path.basename(o)[: -len(".c.o")]
        out = subprocess.run(["nm", o], capture_output=True, text=True,
                             check=True).stdout
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "TDBR":
                defined[p[2]] = f
            elif len(p) == 2 and p[0] == "U":
                wanted[f].add(p[1])
    g, why = collections.defaultdict(set), collections.defaultdict(set)
    for f, syms in wanted.items():
        for s in syms:
            d = defined.get(s)
            if d is not None and d != f:
                g[f].add(d)
                why[(f, d)].add(s)
    return g, why, len(objs)


def cycles(g):
    index, low, stack, on, found, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(g):
        if v not in index:
            visit(v)
    return found


def main():
    g, why, nobj = graph(sys.argv[1])
    found = cycles(g)
    if not found:
        print(f"ok - no cycle between the {nobj} files of agent/")
        print("1 passed, 0 failed")
        return 0
    for comp in found:
        print("not ok - a cycle: " + " <-> ".join(comp))
        for a in comp:
            for b in comp:
                if (a, b) in why:
                    print(f"#   {a} -> {b}: {', '.join(sorted(why[(a, b)]))}")
    print(f"0 passed, {len(found)} failed")
    return 1


if __name__ == "__main__":
    sys.exit(main())
