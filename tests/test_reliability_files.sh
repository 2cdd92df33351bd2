#!/bin/sh
# Issue #14, items 4 and 8 (ONNX part), through the command-line tool:
#  - predict --out, explain --out/--png and train's --out/--labels on a full
#    disk (a 64 KiB tmpfs, filled; SKIP where mount is not permitted): exit
#    1, one line naming the path and "No space left on device", the old
#    file byte for byte, no temporary file left;
#  - explain --out and --png are written both or neither: when the PNG
#    cannot be written (full disk, missing directory) the old --out file is
#    untouched, and the other way round;
#  - /dev/full, a missing directory and a directory as the target give the
#    cause in the message;
#  - xcnn info prints a warning line per ignored ONNX attribute, and a
#    model with an unknown attribute is refused naming node, op and
#    attribute (tests/data/attrs/, written by
#    `test_reliability_files --write-fixtures tests/data/attrs`).
B=${XCNN_BUILD:-build}
X=$B/xcnn
F=tests/fixtures/plaincnn
A=tests/data/attrs
FM=data/fashion_resnet.onnx
IMG=data/fashion/9_Sneaker.png
T=$(mktemp -d /tmp/xcnn_files_sh.XXXXXX) || exit 1
M=$T/full
passed=0; failed=0; skipped=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1"; }
cleanup() {
    umount "$M" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
# run CMD...: sets rc; stdout and stderr in $T/out, $T/err
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# error WHAT NEEDLE CMD...: exit 1, one line "xcnn: ..." on stderr containing NEEDLE
error() {
    what=$1; needle=$2; shift 2
    run "$@"
    n=$(wc -l <"$T/err")
    if [ "$rc" -eq 1 ] && [ "$n" -eq 1 ] && grep -q '^xcnn: ' "$T/err" &&
        grep -qF -- "$needle" "$T/err"; then
        ok "$what: $(cat "$T/err")"
    else
        fail "$what: exit $rc (want 1), stderr: $(head -c 300 "$T/err") (want '$needle')"
    fi
}
# same WHAT FILE TEXT: FILE still holds exactly TEXT
same() {
    if [ "$(cat "$2" 2>/dev/null)" = "$3" ]; then ok "$1"; else fail "$1: now '$(head -c 80 "$2" 2>/dev/null)'"; fi
}
no_temps() { # no_temps WHAT DIR
    left=$(find "$2" -name '*.tmp.*' | wc -l)
    if [ "$left" -eq 0 ]; then ok "$1: no temporary file left in $2"; else fail "$1: $left temporary files left in $2"; fi
}
is_npy() { [ "$(head -c 6 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '223NUMPY' ]; }
is_png() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '211PNG' ]; }

# ---- the writes succeed, and replace what was there ----
echo old >"$T/p.npy"
run $X predict $F/model.onnx $F/input.npy --out "$T/p.npy"
if [ $rc -eq 0 ] && is_npy "$T/p.npy"; then ok "predict --out replaces an old file"; else fail "predict --out: exit $rc $(cat "$T/err")"; fi
echo old >"$T/a.npy"
run $X explain $FM $IMG --method saliency --out "$T/a.npy" --png "$T/h.png"
if [ $rc -eq 0 ] && is_npy "$T/a.npy" && is_png "$T/h.png" && grep -q "wrote $T/h.png" "$T/out"; then
    ok "explain --out --png writes both"
else fail "explain --out --png: exit $rc $(cat "$T/err")"; fi
no_temps "after successful writes" "$T"
run $X explain $FM $IMG --method saliency --out "$T/x.npy" --png "$T/x.npy"
if [ $rc -eq 2 ]; then ok "explain --out and --png naming the same file: usage error"; else fail "--out = --png: exit $rc"; fi

# ---- messages with the cause ----
error "predict --out /dev/full" "cannot write '/dev/full': No space left on device" \
    $X predict $F/model.onnx $F/input.npy --out /dev/full
error "explain --png /dev/full" "cannot write '/dev/full': No space left on device" \
    $X explain $FM $IMG --method saliency --out "$T/d.npy" --png /dev/full
error "predict --out into a missing directory" "cannot write '$T/nodir/p.npy': No such file or directory" \
    $X predict $F/model.onnx $F/input.npy --out "$T/nodir/p.npy"
mkdir -p "$T/adir"
error "predict --out onto a directory" "cannot write '$T/adir': Is a directory" \
    $X predict $F/model.onnx $F/input.npy --out "$T/adir"

# ---- both or neither ----
echo "old attribution" >"$T/keep.npy"
error "explain: --png into a missing directory" "cannot write '$T/nodir/h.png': No such file or directory" \
    $X explain $FM $IMG --method saliency --out "$T/keep.npy" --png "$T/nodir/h.png"
same "  ... and the --out file was not replaced" "$T/keep.npy" "old attribution"
echo "old heatmap" >"$T/keep.png"
error "explain: --out into a missing directory" "cannot write '$T/nodir/a.npy': No such file or directory" \
    $X explain $FM $IMG --method saliency --out "$T/nodir/a.npy" --png "$T/keep.png"
same "  ... and the --png file was not replaced" "$T/keep.png" "old heatmap"
no_temps "after failed explains" "$T"

# ---- a full disk ----
mkdir -p "$M"
if ! mount -t tmpfs -o size=64k tmpfs "$M" 2>/dev/null; then
    skip "full disk: cannot mount a tmpfs here (not root?)"
else
    for f in p.npy a.npy h.png model.onnx labels.txt; do echo "old $f" >"$M/$f"; done
    dd if=/dev/zero of="$M/filler" bs=4096 2>/dev/null
    dd if=/dev/zero of="$M/filler2" bs=1 2>/dev/null
    error "predict --out on a full disk" "cannot write '$M/p.npy': No space left on device" \
        $X predict $F/model.onnx $F/input.npy --out "$M/p.npy"
    same "  ... the old --out file is intact" "$M/p.npy" "old p.npy"
    error "explain --out --png on a full disk" "No space left on device" \
        $X explain $FM $IMG --method saliency --out "$M/a.npy" --png "$M/h.png"
    same "  ... the old --out file is intact" "$M/a.npy" "old a.npy"
    same "  ... the old --png file is intact" "$M/h.png" "old h.png"
    # --out on a disk with room, --png on the full one: neither is written.
    error "explain --png on a full disk, --out elsewhere" "cannot write '$M/h.png': No space left on device" \
        $X explain $FM $IMG --method saliency --out "$T/keep.npy" --png "$M/h.png"
    same "  ... and the --out file (with room) was not replaced" "$T/keep.npy" "old attribution"
    same "  ... the old --png file is intact" "$M/h.png" "old h.png"
    no_temps "after the full-disk failures" "$M"
    no_temps "after the full-disk failures" "$T"

    # train's outputs, on a tiny made-up Fashion-MNIST (20 blank images).
    D=$T/data
    mkdir -p "$D"
    for s in train t10k; do
        { printf '\000\000\010\003\000\000\000\024\000\000\000\034\000\000\000\034'
          head -c 15680 /dev/zero; } >"$D/$s-images-idx3-ubyte"
        { printf '\000\000\010\001\000\000\000\024'
          printf '\000\001\002\003\004\005\006\007\010\011\000\001\002\003\004\005\006\007\010\011'; } \
            >"$D/$s-labels-idx1-ubyte"
    done
    TR="$X train --data $D --epochs 1 --batch 10 --widths 4 --quiet"
    error "train --out on a full disk" "cannot write '$M/model.onnx': No space left on device" \
        $TR --out "$M/model.onnx"
    same "  ... the old model file is intact" "$M/model.onnx" "old model.onnx"
    error "train --labels on a full disk" "cannot write '$M/labels.txt': No space left on device" \
        $TR --labels "$M/labels.txt"
    same "  ... the old labels file is intact" "$M/labels.txt" "old labels.txt"
    error "train --labels /dev/full" "cannot write '/dev/full': No space left on device" \
        $TR --labels /dev/full
    no_temps "after train's failures" "$M"
fi

# ---- ONNX attributes ----
run $X info $A/ignored_attrs.onnx
if [ $rc -eq 0 ] && [ "$(grep -c '^warning: ' "$T/out")" -eq 2 ] &&
    grep -q "^warning: node 'drop' (Dropout): attribute 'ratio' ignored" "$T/out" &&
    grep -q "^warning: node 'pool' (MaxPool): attribute 'storage_order' ignored" "$T/out"; then
    ok "info prints one warning line per ignored attribute: $(grep '^warning' "$T/out" | tr '\n' ' ')"
else fail "info on ignored attributes: exit $rc, $(cat "$T/out" "$T/err" | tail -3)"; fi
run $X info $F/model.onnx
if [ $rc -eq 0 ] && ! grep -q '^warning' "$T/out"; then ok "info on plaincnn: no warning"; else fail "info plaincnn: exit $rc"; fi
error "info on a Conv with an unknown attribute" "node 'the_node' (Conv): unknown attribute 'groups'" \
    $X info $A/unknown_attr.onnx
error "predict on a Conv with an unknown attribute" "unknown attribute 'groups'" \
    $X predict $A/unknown_attr.onnx $F/input.npy

if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"
else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
