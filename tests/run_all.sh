#!/bin/sh
# Runs every test program given on the command line, prints their lines and
# one final "N passed, N failed[, N skipped]" line; exits 1 if any failed or
# crashed. Each program prints its own "N passed, N failed" last.
passed=0; failed=0; skipped=0; crashed=""
for t in "$@"; do
    echo "== $t"
    case "$t" in
    *.sh) out=$(sh "$t" 2>&1); rc=$? ;;  # scripts need no execute bit
    *) out=$("$t" 2>&1); rc=$? ;;
    esac
    printf '%s\n' "$out" | sed '$d'
    last=$(printf '%s\n' "$out" | tail -n 1)
    p=$(printf '%s' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
    f=$(printf '%s' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
    s=$(printf '%s' "$last" | sed -n 's/.* \([0-9]*\) skipped$/\1/p')
    if [ -z "$p" ] || [ -z "$f" ]; then
        echo "FAIL $t ended without a summary (exit $rc): $last"
        failed=$((failed + 1)); crashed="$crashed $t"; continue
    fi
    echo "   $last"
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $t exited $rc"; failed=$((failed + 1))
    fi
done
[ -n "$crashed" ] && echo "crashed:$crashed"
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
