#!/bin/sh
# How the forward scales with threads, and where the time goes (issue #20):
# one prepared script that runs unattended on any Linux machine.
#
#   sh bench/scaling.sh [--threads "1 2 4 8 16"] [--iters N] [--no-ort] [--no-ig]
#                       [MODEL.onnx ...]
#
# Thread counts: 1, 2, 4, ... up to the machine's CPUs, and that count
# (default). Models: ResNet-18, ResNet-50 and MobileNetV2 from the zoo
# exports (build/zoo/<name>/model.onnx: make them with
# ZOO_MODELS="resnet18 resnet50 mobilenet_v2" /usr/bin/python3 tools/make_fixtures.py --zoo build/zoo).
# For each model and thread count T:
#   - our forward at batch 1 and batch 8 (`xcnn bench`, loaded inference_only
#     as deployed; median of N calls after one warm-up): ms, speed-up over
#     one thread and parallel efficiency (speed-up / T); batch 8 per input;
#   - ONNX Runtime's, the same way (bench/ort_time.js; needs node and
#     build/ort from sh tools/fetch_models.sh; --no-ort leaves it out);
#   - integrated gradients' peak memory (50 steps, the first model only;
#     --no-ig leaves it out): it should not grow with T.
# Then, for each model, where the time is lost at the largest T: every node
# timed alone at 1 and at T threads (build/bench/bench_layers --inference;
# make bench), the nodes that lose the most (lost = time at T - time at 1 / T)
# with a reason:
#   small      under 0.05 ms on one thread: a parallel region's start and
#              barrier cost about as much as the work;
#   unshared   barely faster on T threads (speed-up under 1.2): the op's
#              loop does not split its work, or splits it too coarsely;
#   memory     an elementwise or pooling op: it streams memory, and the
#              cores share the bandwidth;
#   scaling    the rest: shared, but under T times faster (load imbalance,
#              tiles per thread, the shared caches);
# and what the whole pass takes beyond its nodes timed alone (alone, a
# node's inputs are in its caches from its previous call; in a pass they
# come from the node before, often from memory; plus the executor's loop).
# Markdown on stdout, progress on stderr. Exit 0 when a model ran, 1 if none
# did, 2 on bad usage.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd) || exit 1
XCNN=${XCNN:-$ROOT/build/xcnn}
LAYERS=${LAYERS:-$ROOT/build/bench/bench_layers}
ZOO=${ZOO:-$ROOT/build/zoo}
ORT_JS=$ROOT/bench/ort_time.js
iters=10
threads=""
use_ort=1
use_ig=1
models=""

usage() {
    echo 'usage: sh bench/scaling.sh [--threads "1 2 4"] [--iters N] [--no-ort] [--no-ig] [MODEL.onnx ...]' >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    --threads) [ $# -ge 2 ] || usage; threads=$2; shift 2 ;;
    --iters) [ $# -ge 2 ] || usage; iters=$2; shift 2 ;;
    --no-ort) use_ort=0; shift ;;
    --no-ig) use_ig=0; shift ;;
    -*) usage ;;
    *) models="$models $1"; shift ;;
    esac
done
case $iters in '' | *[!0-9]* | 0) usage ;; esac
cpus=$(nproc 2>/dev/null || echo 1)
if [ -z "$threads" ]; then
    t=1
    while [ "$t" -lt "$cpus" ]; do threads="$threads $t"; t=$((t * 2)); done
    threads="$threads $cpus"
fi
for t in $threads; do case $t in *[!0-9]* | 0) usage ;; esac; done
[ -n "$models" ] || models="$ZOO/resnet18/model.onnx $ZOO/resnet50/model.onnx $ZOO/mobilenet_v2/model.onnx"
if [ ! -x "$XCNN" ]; then
    echo "SKIP all: $XCNN is missing: run make -j2 all"
    exit 1
fi
if [ "$use_ort" = 1 ] && { ! command -v node >/dev/null 2>&1 ||
    [ ! -d "$ROOT/build/ort/node_modules/onnxruntime-node" ]; }; then
    echo "(ONNX Runtime left out: node or build/ort is missing; sh tools/fetch_models.sh installs it)"
    use_ort=0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/scaling.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# KEY's value on the  median_ms=... peak_rss_mb=...  line of FILE.
field() {
    awk -v k="$2" '/^median_ms=/ { for (i = 1; i <= NF; i++) {
        n = index($i, "="); if (substr($i, 1, n - 1) == k) print substr($i, n + 1) } }' "$1"
}
ours() { # MODEL T BATCH [METHOD]: the bench's median_ms, or nothing
    "$XCNN" bench "$1" --threads "$2" --batch "$3" --iters "$iters" ${4:+--method "$4"} \
        >"$tmp/out" 2>&1 && field "$tmp/out" "${5:-median_ms}"
}
ort() { # MODEL T BATCH (a failure's last line kept for the note under the table)
    node "$ORT_JS" "$1" --threads "$2" --batch "$3" --iters "$iters" --warm 1 >"$tmp/out" 2>&1 &&
        field "$tmp/out" median_ms && return 0
    grep . "$tmp/out" | tail -n 1 >"$tmp/ort_why"
    return 1
}
# a / b, or "-" when either is missing
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

echo "# Scaling, $(date -u +%Y-%m-%d), $cpus CPUs: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)"
echo "thread counts: $threads; $iters timed calls after one warm-up each; load average at the start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
ran=0 first=1
for model in $models; do
    case $model in */model.onnx) name=$(basename "$(dirname "$model")") ;; *) name=$(basename "$model" .onnx) ;; esac
    if [ ! -s "$model" ]; then
        echo "SKIP $name: $model is missing (tools/make_fixtures.py --zoo)"
        continue
    fi
    echo
    echo "## $name"
    echo
    echo "| threads | ours b1 ms | speed-up | efficiency | ours b8 ms/input | speed-up | efficiency | ORT b1 ms | ORT speed-up | ORT b8 ms/input | ORT speed-up | IG-50 peak MB |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    b1_1="" b8_1="" o1_1="" o8_1="" last=""
    for t in $threads; do
        echo "scaling: $name, $t threads" >&2
        b1=$(ours "$model" "$t" 1)
        b8=$(ours "$model" "$t" 8)
        [ -n "$b8" ] && b8=$(awk -v v="$b8" 'BEGIN { printf "%.3f", v / 8 }')
        o1="" o8="" ig="-"
        if [ "$use_ort" = 1 ]; then
            o1=$(ort "$model" "$t" 1)
            o8=$(ort "$model" "$t" 8)
            [ -n "$o8" ] && o8=$(awk -v v="$o8" 'BEGIN { printf "%.3f", v / 8 }')
        fi
        if [ "$use_ig" = 1 ] && [ "$first" = 1 ]; then
            ig=$(ours "$model" "$t" 1 integrated-gradients peak_rss_mb)
            [ -n "$ig" ] || ig="-"
        fi
        [ -n "$b1_1" ] || b1_1=$b1
        [ -n "$b8_1" ] || b8_1=$b8
        [ -n "$o1_1" ] || o1_1=$o1
        [ -n "$o8_1" ] || o8_1=$o8
        s1=$(ratio "$b1_1" "$b1") s8=$(ratio "$b8_1" "$b8")
        e1=$(ratio "$s1" "$t") e8=$(ratio "$s8" "$t")
        echo "| $t | ${b1:--} | $s1 | $e1 | ${b8:--} | $s8 | $e8 | ${o1:--} | $(ratio "$o1_1" "$o1") | ${o8:--} | $(ratio "$o8_1" "$o8") | $ig |"
        last=$t
        [ -n "$b1" ] && ran=1
    done
    first=0
    if [ -s "$tmp/ort_why" ]; then
        echo
        echo "(ONNX Runtime's missing cells: $(cat "$tmp/ort_why"))"
        : >"$tmp/ort_why"
    fi
    # where the time goes at the largest count
    if [ -x "$LAYERS" ] && [ -n "$last" ] && [ "$last" != 1 ]; then
        echo "scaling: $name, node by node at 1 and $last threads" >&2
        "$LAYERS" "$model" --inference --threads 1 --iters "$iters" >"$tmp/l1" 2>&1 &&
            "$LAYERS" "$model" --inference --threads "$last" --iters "$iters" >"$tmp/lt" 2>&1 &&
            awk -v T="$last" '
            # node lines: name op shape fwd_ms ...; the totals end them
            FNR == 1 { file++ }
            $1 == "total" { tot[file] = $2; done[file] = 1; next }
            /whole pass \(median\)/ { whole[file] = $(NF - 1) }
            !done[file] && NF >= 4 && $4 ~ /^[0-9.]+$/ && $3 ~ /x/ {
                if (file == 1) { t1[$1] = $4; op[$1] = $2; shp[$1] = $3; order[++n] = $1 }
                else tt[$1] = $4
            }
            END {
                for (i = 1; i <= n; i++) {
                    k = order[i]; lost[k] = tt[k] - t1[k] / T; sp = tt[k] > 0 ? t1[k] / tt[k] : 0
                    cls = t1[k] < 0.05 ? "small" : sp < 1.2 ? "unshared" :
                          op[k] ~ /^(Add|Relu|Clip|Mul|BatchNormalization|MaxPool|AveragePool|GlobalAveragePool|Sigmoid|HardSigmoid|Concat)$/ ? "memory" : "scaling"
                    why[cls] += lost[k]; all += lost[k]
                    reason[k] = cls; speed[k] = sp
                }
                printf "\nWhere %d threads lose time (%d nodes timed alone; lost = time at %d - time at 1 / %d):\n\n", T, n, T, T
                printf "| node | op | output | ms at 1 | ms at %d | speed-up | lost ms | reason |\n|---|---|---|---:|---:|---:|---:|---|\n", T
                for (r = 1; r <= 10 && r <= n; r++) {
                    best = ""
                    for (i = 1; i <= n; i++) { k = order[i]; if (!(k in shown) && (best == "" || lost[k] > lost[best])) best = k }
                    shown[best] = 1
                    printf "| %s | %s | %s | %.3f | %.3f | %.2f | %.3f | %s |\n", best, op[best], shp[best], t1[best], tt[best], speed[best], lost[best], reason[best]
                }
                printf "\nLost ms by reason: small %.2f, unshared %.2f, memory %.2f, scaling %.2f (nodes %.2f of %.2f ms at %d threads)", why["small"], why["unshared"], why["memory"], why["scaling"], all, tot[2], T
                if (whole[2] != "") printf "; the whole pass takes %.2f ms more than its nodes alone (%.2f: inputs from the node before instead of warm caches, and the executor)", whole[2] - tot[2], whole[2]
                printf ".\n"
            }' "$tmp/l1" "$tmp/lt"
    fi
done
echo
echo "speed-up = the same column at 1 thread / at T; efficiency = speed-up / T. ms are medians."
[ "$ran" = 1 ] || exit 1
exit 0
