#!/bin/sh
# xcnn info --trace: one line per node going forward and one per node going
# back, each with its statistics, FLOPs and time; the totals; the arena's
# layout; bad arguments refused (exit 2 usage, 1 error, one line). And the
# figure `make demo` writes for the lessons (OUTDIR/layers.png).
B=${XCNN_BUILD:-build}
X=$B/xcnn
T=$B/test_trace.tmp
mkdir -p "$T"
passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
# expect CODE DESCRIPTION CMD...: exit code must be CODE
expect() {
    code=$1; what=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" -eq "$code" ]; then ok "$what (exit $rc)"; else fail "$what: exit $rc, wanted $code: $(head -c 300 "$T/err")"; fi
}
one_line_error() {
    n=$(wc -l <"$T/err")
    if [ "$n" -eq 1 ] && grep -q '^xcnn: ' "$T/err"; then ok "$1: one line: $(cat "$T/err")"; else fail "$1: stderr was: $(cat "$T/err")"; fi
}

# The lines of one section of the trace: from the line starting with $1 to
# the next "total:" line, the node rows only (they start with a number).
section() {
    awk -v start="$1" '
        index($0, start) == 1 { on = 1; next }
        on && /^total:/ { exit }
        on && /^ *[0-9]+ / { print }' "$T/trace"
}

# trace_checks NAME MODEL INPUT: the structure of a trace.
trace_checks() {
    name=$1; model=$2; input=$3
    expect 0 "$name: xcnn info --trace" $X info --trace "$model" "$input"
    cp "$T/out" "$T/trace"
    nodes=$($X info "$model" | sed -n 's/^total: \([0-9]*\) nodes.*/\1/p')
    section forward: >"$T/fwd"
    section backward: >"$T/bwd"
    nf=$(wc -l <"$T/fwd"); nb=$(wc -l <"$T/bwd")
    [ -n "$nodes" ] && [ "$nf" -eq "$nodes" ] && ok "$name: $nf forward lines, as xcnn info's $nodes nodes" \
        || fail "$name: $nf forward lines, xcnn info says ${nodes:-?} nodes"
    [ -n "$nodes" ] && [ "$nb" -eq "$nodes" ] && ok "$name: $nb backward lines" \
        || fail "$name: $nb backward lines, xcnn info says ${nodes:-?} nodes"
    # forward: # op name shape min mean max zeros FLOPs ms
    awk '$2 == "Relu" { n++; z = $8; sub(/%/, "", z); if (z + 0 <= 0) bad++ }
         END { exit !(n > 0 && bad == 0) }' "$T/fwd" \
        && ok "$name: every Relu line shows a zero fraction > 0 ($(awk '$2 == "Relu" { printf "%s ", $8 }' "$T/fwd"))" \
        || fail "$name: Relu zero fractions: $(awk '$2 == "Relu"' "$T/fwd")"
    awk '$8 !~ /^[0-9.]+%$/ { bad++ } END { exit bad > 0 }' "$T/fwd" \
        && ok "$name: a zero fraction on every forward line" || fail "$name: zero fractions missing"
    awk '$9 !~ /^[0-9.]+[KMG]?$/ || $10 !~ /^[0-9]+\.[0-9]+$/ { bad++ } { t += $10 }
         END { exit !(bad == 0 && t > 0) }' "$T/fwd" \
        && ok "$name: FLOPs and a time in ms on every forward line" \
        || fail "$name: FLOPs/ms columns: $(head -n 3 "$T/fwd")"
    # backward: # op name min mean max norm zeros ms
    awk '$9 !~ /^[0-9]+\.[0-9]+$/ { bad++ } { t += $9 } END { exit !(bad == 0 && t > 0) }' "$T/bwd" \
        && ok "$name: a time in ms on every backward line" || fail "$name: backward ms: $(head -n 3 "$T/bwd")"
    first=$(head -n 1 "$T/bwd" | awk '{ print $1 }')
    [ "$first" = "$((nodes - 1))" ] && ok "$name: the backward starts at the last node ($first)" \
        || fail "$name: the backward starts at node $first"
    grep -q '^ *in ' "$T/trace" && ok "$name: the input's gradient is listed" || fail "$name: no input gradient line"
    grep -Eq "^total: $nodes nodes, [0-9.]+[KMG]? FLOPs; forward [0-9.]+ ms" "$T/trace" \
        && ok "$name: forward totals line" || fail "$name: no forward totals line"
    grep -Eq '^total: backward [0-9.]+ ms' "$T/trace" && ok "$name: backward totals line" \
        || fail "$name: no backward totals line"
    grep -q 'overlapping slices: 0$' "$T/trace" \
        && ok "$name: layout: no slices overlap in the explain load" || fail "$name: layout for explanations"
    pairs=$(sed -n 's/^inference-only: \([0-9]*\) pairs of tensors share memory$/\1/p' "$T/trace")
    [ -n "$pairs" ] && [ "$pairs" -gt 0 ] && ok "$name: layout: $pairs pairs share memory inference-only" \
        || fail "$name: no inference-only sharing reported"
    wide=$(awk 'length($0) > 100' "$T/trace" | wc -l)
    [ "$wide" -eq 0 ] && ok "$name: no line over 100 columns" || fail "$name: $wide lines over 100 columns"
}

M=data/fashion_resnet.onnx
IMG=data/fashion/0_Ankle_boot.png
trace_checks "fashion model, PNG" $M $IMG
grep -q '^target class 9 (Ankle boot)' "$T/trace" && ok "the target defaults to the arg-max (9, Ankle boot)" \
    || fail "default target: $(grep '^target' "$T/trace")"
trace_checks "rescnn_bn fixture, .npy" tests/fixtures/rescnn_bn/model.onnx tests/fixtures/rescnn_bn/input.npy

expect 0 "--target by index" $X info --trace $M $IMG --target 3
grep -q '^target class 3 (Dress)' "$T/out" && ok "--target 3 is class 3 (Dress)" || fail "--target 3: $(grep '^target' "$T/out")"
expect 0 "--target by class name" $X info --trace $M $IMG --target Sneaker
grep -q '^target class 7 (Sneaker)' "$T/out" && ok "--target Sneaker is class 7" || fail "--target Sneaker: $(grep '^target' "$T/out")"
expect 0 "--trace after the arguments, --threads 1" $X info $M $IMG --threads 1 --trace

# Refused: usage mistakes exit 2, bad inputs 1, each with one line.
expect 2 "--trace without INPUT" $X info --trace $M
expect 2 "--trace with an unknown option" $X info --trace $M $IMG --frob; one_line_error "unknown option"
expect 2 "--trace with an extra argument" $X info --trace $M $IMG $IMG; one_line_error "extra argument"
expect 2 "--target without a value" $X info --trace $M $IMG --target; one_line_error "--target without a value"
expect 2 "--threads 0" $X info --trace $M $IMG --threads 0; one_line_error "--threads 0"
expect 2 "--target without --trace" $X info $M --target 3; one_line_error "--target without --trace"
expect 1 "--target out of range" $X info --trace $M $IMG --target 10; one_line_error "--target out of range"
expect 1 "--target not a class name" $X info --trace $M $IMG --target cat; one_line_error "--target cat"
expect 1 "missing input" $X info --trace $M "$T/none.png"; one_line_error "missing input"
expect 1 "input of the wrong shape" $X info --trace $M tests/fixtures/rescnn_bn/input.npy; one_line_error "wrong shape"
expect 1 "missing model" $X info --trace "$T/none.onnx" $IMG; one_line_error "missing model"

# The figure the lessons refer to: make demo writes it for the first image
# (xcnn_demo on one image takes well under a second on this model; its
# feature visualisations, seconds, are test_demo_features.sh's).
if [ -x "$B/xcnn_demo" ]; then
    expect 0 "xcnn_demo writes the grids and the layers figure" $B/xcnn_demo --only explain $M "$T" $IMG
    [ ! -e "$T/features.png" ] && ok "--only explain draws no features.png" || fail "--only explain drew features.png"
    grep -q "layers.png" "$T/out" && ok "xcnn_demo reports layers.png" || fail "xcnn_demo output: $(cat "$T/out")"
    if [ -s "$T/layers.png" ] && head -c 8 "$T/layers.png" | od -An -c | grep -q 'P   N   G'; then
        size=$(od -An -tu1 -j16 -N8 "$T/layers.png" | awk '{ printf "%dx%d", $3 * 256 + $4, $7 * 256 + $8 }')
        ok "layers.png is a PNG ($size)"
    else
        fail "layers.png missing or not a PNG"
    fi
else
    fail "$B/xcnn_demo not built"
fi

rm -rf "$T"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
