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

rank() {
    case "$1" in
    base) echo 0 ;; io | kernels) echo 1 ;; graph) echo 2 ;; ops) echo 3 ;;
    core) echo 4 ;; explain | train) echo 5 ;; evaluate) echo 6 ;; .) echo 7 ;; *) echo 9 ;;
    esac
}
# folder of a path under libxcnn/ ("." for a file loose at the top)
folder() {
    f=${1#libxcnn/}
    case "$f" in */*) echo "${f%%/*}" ;; *) echo . ;; esac
}
# may a file in folder $1 use one in folder $2?
allowed() {
    [ "$1" = "$2" ] && return 0
    [ "$(rank "$2")" -lt "$(rank "$1")" ]
}

passed=0
failed=0
bad() { echo "FAIL $*"; failed=$((failed + 1)); }

# 1. Every folder is a known layer.
for d in libxcnn/*/; do
    d=${d%/}
    if [ "$(rank "${d#libxcnn/}")" = 9 ]; then bad "unknown folder $d (give it a rank in tools/check_layers.sh)"; fi
done

# 2. Includes.
inc_bad=0
for f in $(find libxcnn -name '*.[ch]' | sort); do
    from=$(folder "$f")
    dir=$(dirname "$f")
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        target=$(realpath -m --relative-to=. "$dir/$inc")
        case "$target" in
        include/*) continue ;;  # the public headers: anyone may
        libxcnn/*) ;;
        *) bad "$f includes $inc, outside libxcnn/ and include/"; inc_bad=1; continue ;;
        esac
        to=$(folder "$target")
        if ! allowed "$from" "$to"; then
            bad "$f ($from, rank $(rank "$from")) includes $target ($to, rank $(rank "$to"))"
            inc_bad=1
        fi
    done
done
if [ $inc_bad = 0 ]; then echo "ok   includes point down the layers"; passed=$((passed + 1)); fi

# 3. Calls, from the symbol tables.
OBJ=$BUILD/obj
if [ -d "$OBJ/libxcnn" ] && command -v nm >/dev/null; then
    defs=$(mktemp) uses=$(mktemp)
    trap 'rm -f "$defs" "$uses"' EXIT
    for o in $(find "$OBJ/libxcnn" -name '*.o' | sort); do
        src=libxcnn/${o#"$OBJ"/libxcnn/}
        src=${src%.o}.c
        [ -f "$src" ] || continue   # an object left from a file since moved
        nm "$o" | awk -v s="$src" '$2 ~ /^[TDBR]$/ {print $3, s}' >>"$defs"
        nm "$o" | awk -v s="$src" '$1 == "U" {print $2, s}' >>"$uses"
    done
    pairs=$(awk 'NR == FNR {def[$1] = $2; next} ($1 in def) && def[$1] != $2 {print $2, def[$1], $1}' \
        "$defs" "$uses" | sort -u)
    call_bad=0
    edges=$(printf '%s\n' "$pairs" | awk 'NF {print $1, $2}' | sort -u)
    printf '%s\n' "$pairs" | while read -r user owner sym; do
        [ -n "$user" ] || continue
        from=$(folder "$user") to=$(folder "$owner")
        if ! allowed "$from" "$to"; then
            echo "FAIL $user ($from) calls $sym in $owner ($to)"
        fi
    done >"$uses.viol"
    # two files that call each other (within a folder: across folders step 3 catches it)
    printf '%s\n' "$edges" | awk 'NF {e[$1 " " $2] = 1} END {for (k in e) {split(k, p, " "); if ((p[2] " " p[1]) in e && p[1] < p[2]) print "FAIL " p[1] " and " p[2] " call each other"}}' >>"$uses.viol"
    if [ -s "$uses.viol" ]; then
        cat "$uses.viol"
        failed=$((failed + $(wc -l <"$uses.viol")))
        call_bad=1
    fi
    rm -f "$uses.viol"
    if [ $call_bad = 0 ]; then
        echo "ok   calls point down the layers ($(printf '%s\n' "$edges" | grep -c .) file-to-file call edges checked)"
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
