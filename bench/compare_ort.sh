#!/bin/sh
# libxcnn against ONNX Runtime: the plain forward, batch 1, on the same CPU
# and the same input values, thread count by thread count (issue #20).
#
#   sh bench/compare_ort.sh [--rounds R] [--iters N] [--threads "1 2"] [MODEL.onnx ...]
#
# Default models: ResNet-18, ResNet-50 and MobileNetV2 at 224x224 from the
# torchvision zoo exports (build/zoo/<name>/model.onnx, random weights; made
# by tools/make_fixtures.py --zoo). ONNX Runtime is onnxruntime-node from
# build/ort (sh tools/fetch_models.sh), timed by bench/ort_time.js; ours is
# `build/xcnn bench MODEL --threads T --iters N` (loaded inference_only, as
# deployed). Both take one warm-up call, then N timed calls, and report the
# median; each side runs in a fresh process per round, so one round is two
# cold starts. Rounds alternate which side goes first (a slow spell of the
# machine then does not always land on the same side).
#
# Prints a markdown table: per model and thread count, the median over the
# R rounds of each side's median ms, the min-max of those round medians
# (the spread: how far to trust the ratio), ours/ORT (below 1: we are
# faster) and the peak RSS of each process (VmHWM, max over rounds; ORT's
# includes node itself, whose share is given under the table).
# A missing model, ORT or xcnn prints a SKIP line saying what to run. Exit
# 0 when at least one model/thread pair ran, 1 otherwise, 2 on bad usage.
# Progress goes to stderr, so `sh bench/compare_ort.sh >table.md` works.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd) || exit 1
XCNN=${XCNN:-$ROOT/build/xcnn}
ZOO=${ZOO:-$ROOT/build/zoo}
ORT_JS=$ROOT/bench/ort_time.js
ZOO_DEFAULT="resnet18 resnet50 mobilenet_v2"
rounds=3
iters=20
threads="1 2"

usage() {
    echo "compare_ort: $*" >&2
    echo 'usage: sh bench/compare_ort.sh [--rounds R] [--iters N] [--threads "1 2"] [MODEL.onnx ...]' >&2
    exit 2
}
is_count() { case $1 in '' | *[!0-9]* | 0*) return 1 ;; esac; }

models=""
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) [ $# -ge 2 ] && is_count "$2" || usage "--rounds needs a whole number >= 1"
        rounds=$2; shift 2 ;;
    --iters) [ $# -ge 2 ] && is_count "$2" || usage "--iters needs a whole number >= 1"
        iters=$2; shift 2 ;;
    --threads) [ $# -ge 2 ] || usage "--threads needs a list, e.g. \"1 2\""
        for t in $2; do is_count "$t" || usage "--threads: '$t' is not a whole number >= 1"; done
        threads=$2; shift 2 ;;
    -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) usage "unknown option '$1'" ;;
    *) models="$models
$1"; shift ;;
    esac
done
[ -n "$threads" ] || usage "--threads needs at least one thread count"
if [ -z "$models" ]; then
    for z in $ZOO_DEFAULT; do models="$models
$ZOO/$z/model.onnx"; done
fi

# ---- the two peers must be there ------------------------------------------
if [ ! -x "$XCNN" ]; then
    echo "SKIP all: $XCNN is missing: run make -j2 all"
    exit 1
fi
if ! command -v node >/dev/null 2>&1; then
    echo "SKIP all: node is not installed (apt-get install nodejs npm), so ONNX Runtime cannot run"
    exit 1
fi
if [ ! -d "$ROOT/build/ort/node_modules/onnxruntime-node" ]; then
    echo "SKIP all: ONNX Runtime is not installed in build/ort: run sh tools/fetch_models.sh"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/compare_ort.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# KEY's value on the  median_ms=... peak_rss_mb=...  line of FILE.
field() {
    awk -v k="$2" '/^median_ms=/ { for (i = 1; i <= NF; i++) {
        n = index($i, "="); if (substr($i, 1, n - 1) == k) print substr($i, n + 1) } }' "$1"
}
# "median min max" of the numbers given.
stats() {
    echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'
}
# The largest of the numbers given (RSS over rounds), or "-".
largest() { echo "$@" | tr ' ' '\n' | grep . | sort -n | tail -n 1 | grep . || echo -; }
# A name for the table: the zoo's directory name, else the file's.
name_of() {
    case $1 in */model.onnx) basename "$(dirname "$1")" ;; *) basename "$1" .onnx ;; esac
}
# A path as seen from the repository root, where the commands we suggest run.
rel() { case $1 in "$ROOT"/*) echo "${1#"$ROOT"/}" ;; *) echo "$1" ;; esac; }
# The last line a failed run wrote, for its SKIP line.
why() { grep . "$1" | tail -n 1; }

# One side, one round: run it, leave its median and RSS in $med and $rss.
run_ours() {
    "$XCNN" bench "$1" --threads "$2" --iters "$iters" >"$tmp/ours" 2>&1 || return 1
    med=$(field "$tmp/ours" median_ms) rss=$(field "$tmp/ours" peak_rss_mb)
    cpu=${cpu:-$(sed -n 's/^cpu: //p' "$tmp/ours")}
    [ -n "$med" ]
}
run_ort() {
    node "$ORT_JS" "$1" --threads "$2" --iters "$iters" --warm 1 >"$tmp/ort" 2>&1 || return 1
    med=$(field "$tmp/ort" median_ms) rss=$(field "$tmp/ort" peak_rss_mb)
    node_rss=$(field "$tmp/ort" node_rss_mb)
    [ -n "$med" ]
}

cpu="" node_rss="" pairs=0
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
: >"$tmp/rows"
echo "$models" | grep . >"$tmp/models"
while IFS= read -r model; do
    name=$(name_of "$model")
    if [ ! -s "$model" ]; then
        case $model in
        "$ZOO"/*/model.onnx) echo "SKIP $name: $(rel "$model") is missing: run (in $ROOT)" \
            "ZOO_MODELS=\"$name\" /usr/bin/python3 tools/make_fixtures.py --zoo $(rel "$ZOO")" ;;
        *) echo "SKIP $name: $model: no such file" ;;
        esac
        continue
    fi
    for t in $threads; do
        ours_meds="" ort_meds="" ours_rss="" ort_rss="" failed=""
        r=1
        while [ "$r" -le "$rounds" ]; do
            # Odd rounds: ORT first; even rounds: ours first.
            if [ $((r % 2)) -eq 1 ]; then order="ort ours"; else order="ours ort"; fi
            for side in $order; do
                if ! "run_$side" "$model" "$t"; then
                    failed="$side: $(why "$tmp/$side")"
                    break 2
                fi
                eval "${side}_meds=\"\$${side}_meds $med\" ${side}_rss=\"\$${side}_rss $rss\""
                echo "compare_ort: $name threads $t round $r/$rounds: $side median $med ms" >&2
            done
            r=$((r + 1))
        done
        if [ -n "$failed" ]; then
            echo "SKIP $name threads $t: $failed"
            continue
        fi
        set -- $(stats $ours_meds) $(stats $ort_meds)
        ratio=$(awk -v a="$1" -v b="$4" 'BEGIN { printf "%.2f", a / b }')
        echo "| $name | $t | $1 | $2-$3 | $4 | $5-$6 | $ratio | $(largest $ours_rss) |" \
            "$(largest $ort_rss) |" >>"$tmp/rows"
        pairs=$((pairs + 1))
    done
done <"$tmp/models"

[ "$pairs" -gt 0 ] || { echo "compare_ort: no model/thread pair ran"; exit 1; }
echo
echo "cpu: ${cpu:-unknown} ($(nproc 2>/dev/null || echo ?) cores); batch 1; $rounds rounds of" \
    "$iters timed calls per side after 1 warm-up; load average $load_start at the start," \
    "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) at the end"
# libgomp's wait policy moves our multi-threaded figures a lot on a busy
# machine (its threads spin at barriers), so the table says what it was.
echo "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} OMP_PROC_BIND=${OMP_PROC_BIND:-unset}" \
    "GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-unset}"
echo
echo "| model | threads | ours ms | ours spread | ORT ms | ORT spread | ours/ORT | ours RSS MB | ORT RSS MB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
cat "$tmp/rows"
echo
echo "ms: median over the rounds of each round's median; spread: min-max of the round medians;"
echo "ours/ORT below 1: libxcnn is faster. RSS: peak resident memory of the process (VmHWM);"
echo "ORT's includes node itself (${node_rss:-?} MB before ONNX Runtime is loaded)."
echo "ONNX Runtime: onnxruntime-node $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' \
    "$ROOT/build/ort/node_modules/onnxruntime-node/package.json" | head -n 1), CPU provider," \
    "intra-op threads = threads, inter-op 1, graph optimisation 'all'."
