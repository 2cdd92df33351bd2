#!/bin/sh
# Merge the manifests of a sharded run (xcnn predict/explain --shard i/n
# writes DIR/manifest.shard-i-of-n.csv) into one, the bytes a single
# unsharded run writes: the header once, then every row sorted by input
# position (column 1) and method name (column 2), as xcnn sorts its own
# manifest at the end of a run. POSIX sh, awk and sort; no Python.
#
#   sh tools/merge_manifests.sh [-o OUT.csv] SHARD.csv...
#
# Without -o the result goes to stdout; with -o it is written beside OUT
# and renamed into place when complete. Refused (exit 1, nothing written):
# a file that is not an xcnn manifest, a row with a torn last line, and
# two rows for one input and method (shards of different lists, or one
# shard given twice).
set -u
out=
if [ "${1:-}" = -o ]; then
    [ $# -ge 2 ] || { echo "merge_manifests: -o needs a file name" >&2; exit 2; }
    out=$2
    shift 2
fi
[ $# -ge 1 ] || { echo "usage: sh tools/merge_manifests.sh [-o OUT.csv] SHARD.csv..." >&2; exit 2; }
header='index,method,input,target,target_name,score,delta,output,status,error'
for f in "$@"; do
    [ -r "$f" ] || { echo "merge_manifests: cannot read '$f'" >&2; exit 1; }
    if [ "$(head -n 1 "$f")" != "$header" ]; then
        echo "merge_manifests: '$f' is not an xcnn manifest (its first line is not the header)" >&2
        exit 1
    fi
    # every line ends in a newline: a torn row would be glued to the next file's
    if [ -s "$f" ] && [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" != '\n' ]; then
        echo "merge_manifests: '$f' ends in a partial line (rerun that shard to finish it)" >&2
        exit 1
    fi
done
dups=$(awk 'FNR > 1 { split($0, f, ","); k = f[1] "," f[2]; if (k in seen) print k; seen[k] = 1 }' "$@" | head -n 3)
if [ -n "$dups" ]; then
    echo "merge_manifests: more than one row for input,method: $(echo $dups)" >&2
    exit 1
fi
tmp=${out:+$out.tmp.$$}
{
    printf '%s\n' "$header"
    # the index and method are never quoted (a number and a method name),
    # so splitting at the first two commas is exact whatever the paths hold
    awk 'FNR > 1' "$@" | LC_ALL=C sort -t, -k1,1n -k2,2
} >"${tmp:-/dev/stdout}" || { [ -n "$tmp" ] && rm -f "$tmp"; exit 1; }
if [ -n "$tmp" ]; then
    mv -f "$tmp" "$out" || { rm -f "$tmp"; exit 1; }
fi
exit 0
