#!/usr/bin/env python3
"""Stack use of a build, from gcc's -fstack-usage (.su) and
-fcallgraph-info=su (.ci) files next to its objects (make stack-usage).

Prints the largest frames, then the deepest call chains: a function's
worst case is its own frame plus the worst case of the callees gcc saw it
call directly. Not seen, so counted as 0: calls through function pointers
(an op's forward/backward from the executor), OpenMP's outlined regions
(run by libgomp's threads, on their own stacks), and libc/libm. A frame
marked "dynamic" (alloca, variable-length arrays) is its static part only.

usage: stack_usage.py NAME OBJ_DIR [TOP]
"""
import os
import re
import sys


def read(obj_dir):
    frames = {}  # node title -> (bytes, qualifier, label)
    edges = {}   # node title -> set of callee titles
    for root, _, files in os.walk(obj_dir):
        for f in files:
            path = os.path.join(root, f)
            if f.endswith(".su"):
                for line in open(path, errors="replace"):
                    parts = line.rstrip("\n").split("\t")
                    if len(parts) != 3:
                        continue
                    where, size, qual = parts
                    name = where.rsplit(":", 1)[-1]
                    src = where.rsplit(":", 3)[0]
                    frames.setdefault(("su", src, name), (int(size), qual))
            elif f.endswith(".ci"):
                text = open(path, errors="replace").read()
                for m in re.finditer(r'node: \{ title: "([^"]+)" label: "([^"]*)"', text):
                    title, label = m.group(1), m.group(2)
                    b = re.search(r"\\n(\d+) bytes \(([^)]*)\)", label)
                    if b:
                        edges.setdefault(title, set())
                        frames[title] = (int(b.group(1)), b.group(2))
                for m in re.finditer(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"',
                                     text):
                    edges.setdefault(m.group(1), set()).add(m.group(2))
    return frames, edges


def short(title):
    return title.rsplit(":", 1)[-1] if ":" in title else title


def main():
    name, obj_dir = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    frames, edges = read(obj_dir)
    own = {t: v for t, v in frames.items() if not isinstance(t, tuple)}
    if not own:  # no .ci files (gcc < 12): frames only
        own = {"%s:%s" % (t[1], t[2]): v for t, v in frames.items()}
    # External names resolve to the defined (non-static) node of that name.
    by_name = {t: t for t in own if ":" not in t}
    worst, via, busy = {}, {}, set()

    def chain(t):
        if t in worst:
            return worst[t]
        if t in busy:  # recursion: counted once
            return 0
        busy.add(t)
        best, nxt = 0, None
        for c in edges.get(t, ()):
            c = c if c in own else by_name.get(c)
            if c is None:
                continue
            v = chain(c)
            if v > best:
                best, nxt = v, c
        busy.discard(t)
        worst[t] = own[t][0] + best
        via[t] = nxt
        return worst[t]

    for t in own:
        chain(t)
    print("== %s: %d functions, largest frames" % (name, len(own)))
    for t, (b, q) in sorted(own.items(), key=lambda kv: -kv[1][0])[:top]:
        print("  %8d  %-40s %s" % (b, short(t), q))
    if edges:
        print("== %s: deepest call chains (direct calls)" % name)
        shown = 0
        for t in sorted(worst, key=lambda k: -worst[k]):
            path, k = [], t
            while k:
                path.append("%s %d" % (short(k), own[k][0]))
                k = via.get(k)
            print("  %8d  %s" % (worst[t], " > ".join(path)))
            shown += 1
            if shown >= top // 2:
                break
        print("  worst case (deepest chain): %d bytes" % max(worst.values()))
    print("  largest frame: %d bytes; frames over 2048 bytes: %d" %
          (max(v[0] for v in own.values()), sum(1 for v in own.values() if v[0] > 2048)))


if __name__ == "__main__":
    main()
