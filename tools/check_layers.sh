#!/bin/sh
# Checks that libxcnn/'s folders are layers whose arrows only point down:
# a file may include and call files of its own folder and of lower layers,
# never of a higher layer nor of another folder on its own level, and no
# two files of one folder call each other.
#
#   rank 0  base/      errors, CPU features, thread counts
#   rank 1  io/        files and formats (PNG, PNM, .npy, idx, deflate, protobuf)
#   rank 1  kernels/   GEMM, Winograd, im2col: arrays in, arrays out
#   rank 2  graph/     the network as data: tensors, nodes, ONNX in and out, folding
#   rank 3  ops/       one file per op family: shapes, forward, backward
#   rank 4  core/      the model: plan, arena, fusion, forward/backward walks
#   rank 5  explain/   the explanation methods
#   rank 5  train/     losses, optimizers, the trainer
#   rank 6  evaluate/  metrics that judge explanations, feature visualisation
#   rank 7  (top)      any file loose in libxcnn/
#
# Includes are read from the sources; calls from the objects' symbol
# tables (nm), so a call with no include (an extern declared by hand)
# is caught too.
#
# Usage: sh tools/check_layers.sh [BUILD]   (BUILD holds obj/libxcnn/...;
# without objects only the includes are checked). Prints "ok"/"FAIL"
# lines and "N passed, N failed"; exits 1 on any violation.
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-${XCNN_BUILD:-build}}

# The ranks of the table above, once, for the shell and the awk programs
# ("." is a file loose at the top; a folder not listed gets rank 9).
RANKS='base:0 io:1 kernels:1 graph:2 ops:3 core:4 explain:5 train:5 evaluate:6 .:7'

# The checks run over every include and every call, hundreds of each, so
# they are done by one awk program per step rather than by a shell loop:
# a $(...) per include or per call forks a process, and a few thousand
# forks took 25-45 s on a loaded 2-core machine. These functions are the
# rules all of them share; awk is POSIX (mawk, gawk, busybox).
LAYERS_AWK='
BEGIN {
    n = split(ranks, word, " ")
    for (i = 1; i <= n; i++) { split(word[i], kv, ":"); rk[kv[1]] = kv[2] + 0 }
}
function rank(d) { return (d in rk) ? rk[d] : 9 }
# folder of a path under libxcnn/ ("." for a file loose at the top)
function folder(p) {
    sub(/^libxcnn\//, "", p)
    return index(p, "/") ? substr(p, 1, index(p, "/") - 1) : "."
}
# may a file in folder a use one in folder b?
function allowed(a, b) { return a == b || rank(b) < rank(a) }
'

# rank of folder $1 into $r (a function that sets a variable: $(...) would fork)
rank() {
    r=9
    for p in $RANKS; do
        if [ "${p%:*}" = "$1" ]; then r=${p#*:}; fi
    done
}

passed=0
failed=0
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# print the FAIL lines an awk program wrote to $1 and count them
report() {
    cat "$1"
    failed=$((failed + $(wc -l <"$1")))
}

# 1. Every folder is a known layer.
for d in libxcnn/*/; do
    d=${d%/}
    rank "${d#libxcnn/}"
    if [ "$r" = 9 ]; then bad "unknown folder $d (give it a rank in tools/check_layers.sh)"; fi
done

# 2. Includes. An include "x" in libxcnn/a/f.c names the file libxcnn/a/x,
# with "dir/.." and "." folded away as realpath -m would: the path is made
# absolute from the repository's physical directory (pwd -P, as realpath
# sees it), folded, and named relative to the repository again, so
# "../../include/xcnn.h" from libxcnn/a/ is include/xcnn.h and anything
# that climbs out of the repository is outside. (Symbolic links are not
# followed, unlike realpath; libxcnn/ and include/ have none.)
find libxcnn -name '*.[ch]' | sort | awk -v ranks="$RANKS" -v top="$(pwd -P)" "$LAYERS_AWK"'
# absolute path p with "" and "." segments dropped and "x/.." folded
function fold(p,   n, seg, keep, k, i) {
    n = split(p, seg, "/")
    k = 0
    for (i = 1; i <= n; i++) {
        if (seg[i] == "" || seg[i] == ".") continue
        if (seg[i] == "..") { if (k > 0) k--; continue }
        keep[++k] = seg[i]
    }
    p = ""
    for (i = 1; i <= k; i++) p = p "/" keep[i]
    return p == "" ? "/" : p
}
{
    f = $0
    from = folder(f)
    dir = f
    sub(/\/[^\/]*$/, "", dir)
    while ((getline line < f) > 0) {
        if (!match(line, /^[ \t\r\f\v]*#[ \t\r\f\v]*include[ \t\r\f\v]*"[^"]*"/)) continue
        quoted = substr(line, 1, RLENGTH)
        sub(/^[^"]*"/, "", quoted)
        sub(/"$/, "", quoted)
        # split on blanks as the shell loop this replaces did
        n = split(quoted, incs)
        for (i = 1; i <= n; i++) {
            inc = incs[i]
            target = fold(top "/" dir "/" inc)
            if (index(target, top "/") == 1) target = substr(target, length(top) + 2)
            else target = "../"   # above the repository: outside
            if (target ~ /^include\//) continue   # the public headers: anyone may
            if (target !~ /^libxcnn\//) {
                print "FAIL " f " includes " inc ", outside libxcnn/ and include/"
                continue
            }
            to = folder(target)
            if (!allowed(from, to))
                print "FAIL " f " (" from ", rank " rank(from) ") includes " target " (" to ", rank " rank(to) ")"
        }
    }
    close(f)
}' >"$tmp/includes"
if [ -s "$tmp/includes" ]; then
    report "$tmp/includes"
else
    echo "ok   includes point down the layers"; passed=$((passed + 1))
fi

# 3. Calls, from the symbol tables.
OBJ=$BUILD/obj
if [ -d "$OBJ/libxcnn" ] && command -v nm >/dev/null; then
    # each object with the source it was built from, in "object source" lines
    set --
    for o in $(find "$OBJ/libxcnn" -name '*.o' | sort); do
        src=libxcnn/${o#"$OBJ"/libxcnn/}
        src=${src%.o}.c
        [ -f "$src" ] || continue   # an object left from a file since moved
        echo "$o $src"
        set -- "$@" "$o"
    done >"$tmp/objects"
    # One nm for all objects: -A starts each line with "object:", so
    #   build/obj/libxcnn/a/f.o:0000000000000000 T xcnn_f     (f.c defines)
    #   build/obj/libxcnn/a/f.o:                 U xcnn_g     (f.c uses)
    # and $2 is the type and $3 the symbol either way. A symbol defined
    # twice counts for the last object that defines it. Each use of a
    # symbol another file defines is a call "user owner symbol".
    if [ $# -gt 0 ]; then nm -A "$@"; fi | awk '
        NR == FNR { src[$1] = $2; next }
        {
            o = $1
            sub(/:[^:]*$/, "", o)
            if ($2 ~ /^[TDBR]$/) def[$3] = src[o]
            else if ($2 == "U") { n++; user[n] = src[o]; sym[n] = $3 }
        }
        END {
            for (i = 1; i <= n; i++)
                if ((sym[i] in def) && def[sym[i]] != user[i]) print user[i], def[sym[i]], sym[i]
        }' "$tmp/objects" - | sort -u >"$tmp/pairs"
    awk '{print $1, $2}' "$tmp/pairs" | sort -u >"$tmp/edges"
    awk -v ranks="$RANKS" "$LAYERS_AWK"'
        {
            from = folder($1); to = folder($2)
            if (!allowed(from, to)) print "FAIL " $1 " (" from ") calls " $3 " in " $2 " (" to ")"
        }' "$tmp/pairs" >"$tmp/calls"
    # two files that call each other (within a folder: across folders step 3 catches it)
    awk 'NF {e[$1 " " $2] = 1} END {for (k in e) {split(k, p, " "); if ((p[2] " " p[1]) in e && p[1] < p[2]) print "FAIL " p[1] " and " p[2] " call each other"}}' "$tmp/edges" >>"$tmp/calls"
    if [ -s "$tmp/calls" ]; then
        report "$tmp/calls"
    else
        echo "ok   calls point down the layers ($(grep -c . "$tmp/edges") file-to-file call edges checked)"
        passed=$((passed + 1))
    fi
else
    echo "SKIP calls: no objects in $OBJ/libxcnn (build first)"
fi

if [ -n "${XCNN_LAYERS_SKIPPED_OK:-}" ] || [ -d "$OBJ/libxcnn" ]; then
    echo "$passed passed, $failed failed"
else
    echo "$passed passed, $failed failed, 1 skipped"
fi
[ "$failed" -eq 0 ]
