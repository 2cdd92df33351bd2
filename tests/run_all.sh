#!/bin/sh
# Runs every test program given on the command line, prints their lines and
# one final "N passed, N failed[, N skipped]" line; exits 1 if any failed or
# crashed. Each program prints its own "N passed, N failed" last.
#
# The programs run XCNN_TEST_JOBS at a time (default: one per CPU), since
# each is a separate process with its own temporary files; their output is
# still printed in the order given, each program's as a block, with the
# seconds it took, so the log reads the same whatever the job count.
jobs=${XCNN_TEST_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
case "$jobs" in '' | *[!0-9]* | 0) jobs=1 ;; esac
# With several tests at once, each with its OpenMP threads, there are more
# threads than CPUs: libgomp's default spin-waiting then burns the CPU a
# busy thread needs (a 2-thread forward measured 10-30x slower beside other
# work). Passive waiting costs a little per parallel region and nothing
# here is timed. A policy the caller set is kept.
if [ "$jobs" -gt 1 ] && [ -z "${OMP_WAIT_POLICY:-}" ]; then
    OMP_WAIT_POLICY=passive
    export OMP_WAIT_POLICY
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/xcnn_run_all.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# One program: its output in N.out, then its exit status and seconds in
# N.rc, written last and renamed into place, so N.rc appearing means done.
cat >"$work/one.sh" <<'EOF'
work=$1; n=$2; t=$3
start=$(date +%s)
case "$t" in
*.sh) sh "$t" >"$work/$n.out" 2>&1; rc=$? ;;  # scripts need no execute bit
*) "$t" >"$work/$n.out" 2>&1; rc=$? ;;
esac
echo "$rc $(($(date +%s) - start))" >"$work/$n.rc.tmp" && mv "$work/$n.rc.tmp" "$work/$n.rc"
EOF

n=0
for t in "$@"; do
    n=$((n + 1))
    printf '%s\n%s\n' "$n" "$t"
done >"$work/list"
# xargs starts them in the given order, at most $jobs at a time
xargs -P "$jobs" -n 2 sh "$work/one.sh" "$work" <"$work/list" &
runner=$!

passed=0; failed=0; skipped=0; crashed=""; i=0
for t in "$@"; do
    i=$((i + 1))
    echo "== $t"
    while [ ! -f "$work/$i.rc" ]; do
        if ! kill -0 "$runner" 2>/dev/null && [ ! -f "$work/$i.rc" ]; then
            echo "FAIL $t never finished (the runner stopped)"
            failed=$((failed + 1)); crashed="$crashed $t"; continue 2
        fi
        sleep 1
    done
    read -r rc secs <"$work/$i.rc"
    sed '$d' "$work/$i.out"
    last=$(tail -n 1 "$work/$i.out")
    p=$(printf '%s' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
    f=$(printf '%s' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
    s=$(printf '%s' "$last" | sed -n 's/.* \([0-9]*\) skipped$/\1/p')
    if [ -z "$p" ] || [ -z "$f" ]; then
        echo "FAIL $t ended without a summary (exit $rc): $last"
        failed=$((failed + 1)); crashed="$crashed $t"; continue
    fi
    echo "   $last   [$secs s]"
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $t exited $rc"; failed=$((failed + 1))
    fi
done
wait "$runner"
[ -n "$crashed" ] && echo "crashed:$crashed"
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
