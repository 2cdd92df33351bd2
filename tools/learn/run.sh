#!/bin/sh
# Runs the lessons given on the command line, in order: prints each one's
# output, then one final line "N passed, N failed". Exits 1 if any lesson
# failed (a lesson fails by exiting non-zero).
passed=0; failed=0
for lesson in "$@"; do
    echo "== $lesson"
    if "$lesson"; then
        passed=$((passed + 1))
    else
        echo "FAIL $lesson (exit $?)"
        failed=$((failed + 1))
    fi
    echo
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
