#!/bin/sh
# The lessons in tools/learn/ (built into $XCNN_BUILD/learn/ by `make tests`):
# each checks its own numbers against libxcnn and exits non-zero if they
# disagree. One "ok"/"FAIL" line per lesson (a failing lesson's output is
# shown), then "N passed, N failed".
B=${XCNN_BUILD:-build}
passed=0; failed=0
found=0
for lesson in "$B"/learn/[0-9][0-9]_*; do
    [ -x "$lesson" ] || continue
    found=1
    name=$(basename "$lesson")
    out=$("$lesson" 2>&1); rc=$?
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1)); echo "ok   $name: $(printf '%s\n' "$out" | tail -n 1)"
    else
        failed=$((failed + 1)); echo "FAIL $name (exit $rc):"
        printf '%s\n' "$out" | sed 's/^/     /'
    fi
done
if [ "$found" -eq 0 ]; then
    failed=$((failed + 1)); echo "FAIL no lessons in $B/learn/ (make tests builds them)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
