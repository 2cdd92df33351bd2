#!/bin/sh
# Options every command shares (issue #19): --threads on each command that
# runs the network (bench, evaluate, explain, info --trace, predict, train,
# visualize): 2 is taken, 0 and 1025 are usage errors (exit 2, one line
# naming --threads), and the numbers written do not depend on it (explain,
# predict: the same bytes at 1 and 2 threads). The commands that run
# nothing (info without --trace, convert) refuse it as an unknown option.
# And xcnn --version: the header's version.
B=${XCNN_BUILD:-build}
X=$B/xcnn
T=$B/test_cli_threads.tmp
F=tests/fixtures/plaincnn
M=$F/model.onnx
IN=$F/input.npy
mkdir -p "$T"
passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }

run() { "$@" >"$T/out" 2>"$T/err"; }
# refused CMD...: exit 2, one line on stderr that names --threads
refused() {
    what=$1; shift
    run "$@"; rc=$?
    if [ "$rc" -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- '--threads' "$T/err"; then
        ok "$what: refused (exit 2): $(cat "$T/err")"
    else
        fail "$what: exit $rc, stderr: $(head -c 300 "$T/err")"
    fi
}

$X explain $M $IN --method saliency --out "$T/a.npy" >/dev/null 2>&1 || fail "explain (for evaluate's attribution)"
cmds="bench|$M --iters 1
evaluate|$M $IN --attribution $T/a.npy --metric deletion --step 200
explain|$M $IN --method saliency --out $T/s.npy
info --trace|$M $IN
predict|$M $IN
visualize|$M --layer /relu2/Relu_output_0 --steps 2 --out $T/v.png"
echo "$cmds" >"$T/cmds"
while IFS='|' read -r cmd args; do
    # shellcheck disable=SC2086
    if run $X $cmd $args --threads 2; then ok "$cmd --threads 2 runs"
    else fail "$cmd --threads 2: $(head -c 300 "$T/err")"; fi
    for n in 0 1025 x; do
        # shellcheck disable=SC2086
        refused "$cmd --threads $n" $X $cmd $args --threads $n
    done
done <"$T/cmds"
# train reads Fashion-MNIST: only its parsing is checked here (the option is
# refused before any data is read).
refused "train --threads 0" $X train --threads 0 --data "$T/none"

# The numbers do not depend on the thread count.
$X explain $M $IN --method integrated-gradients --steps 16 --out "$T/ig1.npy" --threads 1 >/dev/null 2>&1 &&
    $X explain $M $IN --method integrated-gradients --steps 16 --out "$T/ig2.npy" --threads 2 >/dev/null 2>&1 &&
    cmp -s "$T/ig1.npy" "$T/ig2.npy" && ok "explain: the same attribution bytes at --threads 1 and 2" ||
    fail "explain: attributions differ between 1 and 2 threads (or a run failed)"
$X predict $M $IN --out "$T/y1.npy" --threads 1 >/dev/null 2>&1 &&
    $X predict $M $IN --out "$T/y2.npy" --threads 2 >/dev/null 2>&1 &&
    cmp -s "$T/y1.npy" "$T/y2.npy" && ok "predict: the same output bytes at --threads 1 and 2" ||
    fail "predict: outputs differ between 1 and 2 threads (or a run failed)"

# Commands that run no network take no --threads.
run $X info $M --threads 2; rc=$?
[ "$rc" -eq 2 ] && grep -q "unknown option '--threads'" "$T/err" && ok "info (no --trace) runs nothing: --threads is an unknown option" ||
    fail "info --threads: exit $rc: $(head -c 200 "$T/err")"
run $X convert $M "$T/m.xcnn" --threads 2; rc=$?
[ "$rc" -eq 2 ] && [ ! -e "$T/m.xcnn" ] && ok "convert runs nothing: --threads is an unknown option, no file written" ||
    fail "convert --threads: exit $rc: $(head -c 200 "$T/err")"

# --version
want=$(sed -n 's/^#define XCNN_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' include/xcnn.h | paste -sd.)
run $X --version
[ "$(cat "$T/out")" = "xcnn $want" ] && ok "xcnn --version: $(cat "$T/out") (include/xcnn.h: $want)" ||
    fail "xcnn --version printed '$(cat "$T/out")', include/xcnn.h says $want"
run $X version
[ "$(cat "$T/out")" = "xcnn $want" ] && ok "xcnn version: the same" || fail "xcnn version: '$(cat "$T/out")'"
run $X --version now; rc=$?
[ "$rc" -eq 2 ] && [ ! -s "$T/out" ] && ok "xcnn --version with an argument: usage error (exit 2)" || fail "xcnn --version now: exit $rc"
run $X help
grep -q -- '--version' "$T/out" && ok "xcnn help lists --version" || fail "xcnn help does not list --version"

rm -rf "$T"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
