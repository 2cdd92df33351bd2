#!/bin/sh
# valgrind.sh BUILD: the CLI and the test programs under valgrind memcheck
# (make valgrind builds BUILD with OMP=0, so libgomp's thread pool does not
# show up as leaks). Zero errors and zero leaks of any kind are required:
# memcheck exits 99 on any (so that it is not confused with a command's own
# exit 1) and with -q its log is empty only when all is clean.
#
# Every build/tests program runs except the two slowest under memcheck:
# test_explain (2 s natively, ~8 min under memcheck) and test_models (it
# runs the torchvision ResNet-18 when build/fixtures has it: > 20 min). The
# CLI runs below cover forward/backward/every explainer on a real model.
# Slowest of the rest: test_threads ~2.5 min, test_gemm ~2 min.
# VALGRIND_SKIP="a b" changes the skip list; VALGRIND_TESTS="a b" runs just
# those; VALGRIND_TESTS=all runs everything.
ONE=
[ "$1" = --one ] && { ONE=$3; shift; }
B=${1:-build-vg}
X=$B/xcnn
F=tests/fixtures/plaincnn
T=$B/valgrind.tmp
SKIP=${VALGRIND_SKIP-test_explain test_models}
if [ -z "$VALGRIND_TESTS" ] || [ "$VALGRIND_TESTS" = all ]; then
    TESTS=""
    for t in $(cd "$B/tests" && ls test_*); do
        case " $SKIP " in *" $t "*) [ "$VALGRIND_TESTS" = all ] || continue ;; esac
        TESTS="$TESTS $t"
    done
else
    TESTS=$VALGRIND_TESTS
fi
VG="valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=99"
passed=0; failed=0
# vg WHAT CODE CMD...: run CMD under memcheck; it must exit CODE, log clean.
vg() {
    what=$1; want=$2; shift 2
    log=$T/$(echo "$what" | tr -c 'a-zA-Z0-9_\n' '_').log
    start=$(date +%s)
    $VG --log-file="$log" "$@" >"$T/out" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    if [ "$rc" -eq "$want" ] && [ ! -s "$log" ]; then
        passed=$((passed + 1)); echo "ok   valgrind: $what (${secs} s)"
    else
        failed=$((failed + 1)); echo "FAIL valgrind: $what (exit $rc, ${secs} s)"
        head -n 30 "$log"; tail -n 5 "$T/out"
    fi
}

if [ "$ONE" ]; then # valgrind.sh --one BUILD NAME: one test program
    T=$T/$ONE.d
    mkdir -p "$T"
    report=$(vg "$ONE" 0 "$B/tests/$ONE")
    printf '%s\n' "$report" # one write: reports do not interleave
    exit 0
fi
rm -rf "$T"
mkdir -p "$T"
vg "xcnn info" 0 $X info $F/model.onnx
vg "xcnn predict" 0 $X predict $F/model.onnx $F/input.npy --top 3 --out "$T/y.npy"
for m in saliency guided-backprop integrated-gradients smoothgrad gradcam guided-gradcam; do
    vg "xcnn explain $m" 0 $X explain $F/model.onnx $F/input.npy --method $m --steps 4 --samples 2 \
        --batch 2 --out "$T/a.npy" --png "$T/a.png"
done
vg "xcnn explain, bad target" 1 $X explain $F/model.onnx $F/input.npy --method saliency --target 99 --out "$T/a.npy"
vg "xcnn predict, NaN input" 1 $X predict $F/model.onnx tests/data/hostile/nan_input.npy
vg "xcnn info, truncated model" 1 $X info tests/data/hostile/truncated_model.onnx
# The test programs, VALGRIND_JOBS at a time (default: one per CPU; memcheck
# runs each on one core): xargs runs this script again as
# `valgrind.sh --one BUILD NAME` per program, each with its own directory
# under $T, and each report is printed whole when its program ends.
jobs=${VALGRIND_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
case "$jobs" in '' | *[!0-9]* | 0) jobs=1 ;; esac
for t in $TESTS; do
    [ -x "$B/tests/$t" ] && echo "$t" || echo "skip $t (not built)" >&2
done | xargs -P "$jobs" -n 1 sh "$0" --one "$B" >"$T/reports" 2>&1
cat "$T/reports"
passed=$((passed + $(grep -c '^ok ' "$T/reports")))
failed=$((failed + $(grep -c '^FAIL ' "$T/reports")))
rm -rf "$T"
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
