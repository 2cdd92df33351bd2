#!/bin/sh
# Many inputs in one run (README: Many images): xcnn predict/explain with
# several INPUTS, --list, --out-dir, --shard, --force, --png. Checks that
# the batched outputs are the bytes of one-input runs; that a bad input
# is a manifest row and the run goes on (exit 10 + failures); that a run
# killed after k rows (XCNN_MANY_STOP_AFTER, as kill -9) or interrupted
# by SIGINT and then rerun leaves exactly the files of an uninterrupted
# one; that two shards, merged by tools/merge_manifests.sh, equal the
# whole run byte for byte; and the usage errors. The shipped
# Fashion-MNIST model and images: a few seconds.
B=${XCNN_BUILD:-build}
X=$B/xcnn
T=$B/test_many_images.tmp
rm -rf "$T"
mkdir -p "$T"
M=data/fashion_resnet.onnx
passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
check() { # WHAT CONDITION...
    what=$1; shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
expect() { # CODE WHAT CMD...: the exit status
    code=$1; what=$2; shift 2
    run "$@"
    if [ "$rc" -eq "$code" ]; then ok "$what (exit $rc)"; else fail "$what: exit $rc, wanted $code: $(head -c 300 "$T/err")"; fi
}
rows() { echo $(($(wc -l <"$1") - 1)); }
# same_dirs A B: the same file names with the same bytes
same_dirs() {
    [ "$(cd "$1" && ls | sort)" = "$(cd "$2" && ls | sort)" ] || return 1
    for f in $(cd "$1" && ls); do cmp -s "$1/$f" "$2/$f" || return 1; done
}

IMGS=$(ls data/fashion/*.png)
N=$(echo $IMGS | wc -w)
# two bad inputs among the good: not an image, and a .npy of the wrong size
printf 'not an image\n' >"$T/bad.png"
cp tests/fixtures/resnet_narrow/input.npy "$T/wrong_size.npy"
ALL="$IMGS $T/bad.png $T/wrong_size.npy"
METH=saliency,gradcam,integrated-gradients
OPTS="--method $METH --steps 4 --threads 1"

# --- predict ---
expect 0 "predict of $N images, one model load" $X predict $M $IMGS --top 1
check "predict prints one line per image" [ "$(wc -l <"$T/out")" -eq "$N" ]
first=$(echo $IMGS | cut -d' ' -f1)
$X predict $M "$first" --top 1 >"$T/one.txt" 2>/dev/null
check "its first line is the one-input prediction, path first" \
    [ "$(head -n 1 "$T/out")" = "$first	$(cat "$T/one.txt")" ]
expect 0 "predict --threads 1 of one image (single mode as before)" $X predict $M "$first" --threads 1
expect 12 "predict --out-dir with 2 bad inputs: exit 10 + 2" $X predict $M $ALL --out-dir "$T/p" --batch 4
check "predict wrote $N .npy and a manifest of $((N + 2)) rows" \
    [ "$(ls "$T/p"/*.predict.npy | wc -l)" -eq "$N" -a "$(rows "$T/p/manifest.csv")" -eq $((N + 2)) ]
check "the bad image's row says error, with its message" grep -q "bad.png,,,,,,error,.*not a PNG" "$T/p/manifest.csv"
check "the wrong-size .npy's row names the shapes" grep -q "wrong_size.npy,,,,,,error,.*has shape" "$T/p/manifest.csv"
expect 12 "predict rerun" $X predict $M $ALL --out-dir "$T/p"
check "the rerun skipped the $N done" grep -q "($N already done before)" "$T/err"
expect 2 "predict --shard 2/2" $X predict $M $IMGS --out-dir "$T/p" --shard 2/2
expect 2 "predict several inputs with --out FILE" $X predict $M $IMGS --out "$T/x.npy"
expect 2 "predict --force without --out-dir" $X predict $M $IMGS --force

# --- explain: batched = one at a time, to the byte ---
expect 12 "explain $METH of $((N + 2)) inputs, 2 bad" $X explain $M $ALL $OPTS --out-dir "$T/whole"
check "3 outputs per good image and $(( 3 * (N + 2) )) rows" \
    [ "$(ls "$T/whole"/*.npy | wc -l)" -eq $((3 * N)) -a "$(rows "$T/whole/manifest.csv")" -eq $((3 * (N + 2))) ]
check "integrated gradients' rows carry the delta" \
    awk -F, '$2 == "integrated-gradients" && $9 == "ok" && $7 == "" {bad = 1} END {exit bad}' "$T/whole/manifest.csv"
same=1
FOUR=$(echo $IMGS | cut -d' ' -f1-4) # each a process of its own: four are enough here
for f in $FOUR; do
    st=$(basename "$f" .png)
    for m in saliency gradcam integrated-gradients; do
        $X explain $M "$f" --method $m --steps 4 --threads 1 --out "$T/one.npy" >/dev/null 2>&1
        cmp -s "$T/one.npy" "$T/whole/$st.$m.npy" || { same=0; echo "  differs: $st $m"; }
    done
done
check "every batched output is the bytes of its one-input run (12 files)" [ $same = 1 ]

# --- interrupted runs finish exactly ---
XCNN_MANY_STOP_AFTER=7 $X explain $M $ALL $OPTS --out-dir "$T/killed" >/dev/null 2>&1
check "a run killed after 7 rows (as kill -9) exits 3" [ $? -eq 3 ]
check "it left 7 whole rows and no temporary files" \
    [ "$(rows "$T/killed/manifest.csv")" -eq 7 -a -z "$(ls "$T/killed" | grep tmp)" ]
expect 12 "its rerun" $X explain $M $ALL $OPTS --out-dir "$T/killed"
check "killed + rerun = uninterrupted, every file byte for byte" same_dirs "$T/killed" "$T/whole"
printf '3,saliency,data/fash' >>"$T/killed/manifest.csv" # a torn last line (a power cut)
rm "$T/killed/$(basename "$first" .png).gradcam.npy"         # and an output lost
expect 12 "a rerun over a torn row and a lost output" $X explain $M $ALL $OPTS --out-dir "$T/killed"
check "  makes the lost output again and drops the torn row: = uninterrupted" same_dirs "$T/killed" "$T/whole"
# SIGINT at some point of the run (wherever it lands, the rerun finishes)
$X explain $M $ALL $OPTS --threads 1 --out-dir "$T/int" >/dev/null 2>"$T/int.err" &
pid=$!
sleep 0.3
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
check "SIGINT: exit 130 (stopped) or 12 (it had finished), got $rc" [ $rc -eq 130 -o $rc -eq 12 ]
expect 12 "the SIGINT'd run's rerun" $X explain $M $ALL $OPTS --out-dir "$T/int"
check "interrupted + rerun = uninterrupted, byte for byte" same_dirs "$T/int" "$T/whole"

# --- shards ---
for s in 0 1; do
    $X explain $M $ALL $OPTS --out-dir "$T/shard$s" --shard $s/2 >/dev/null 2>&1
done
check "shard 0/2 took inputs 0, 2, 4, ..." \
    [ -z "$(awk -F, 'NR > 1 && $1 % 2 != 0' "$T/shard0/manifest.shard-0-of-2.csv")" ]
sh tools/merge_manifests.sh -o "$T/merged.csv" "$T/shard0/manifest.shard-0-of-2.csv" \
    "$T/shard1/manifest.shard-1-of-2.csv"
check "merged shard manifests = the whole run's, byte for byte" cmp -s "$T/merged.csv" "$T/whole/manifest.csv"
mkdir -p "$T/union"
cp "$T/shard0"/*.npy "$T/shard1"/*.npy "$T/union/"
cp "$T/merged.csv" "$T/union/manifest.csv"
check "the two shards' outputs = the whole run's files" same_dirs "$T/union" "$T/whole"
run sh tools/merge_manifests.sh "$T/shard0/manifest.shard-0-of-2.csv" "$T/shard0/manifest.shard-0-of-2.csv"
check "merge refuses a shard given twice (exit $rc)" [ $rc -eq 1 ]
run sh tools/merge_manifests.sh "$T/bad.png"
check "merge refuses a file that is not a manifest (exit $rc)" [ $rc -eq 1 ]

# --- --list, stdin, --png, --force, names ---
printf '%s\n' $IMGS >"$T/list.txt"
expect 0 "explain --list FILE --png" $X explain $M --list "$T/list.txt" --method gradcam --out-dir "$T/l" --png
check "--png: a heatmap beside every .npy" [ "$(ls "$T/l"/*.gradcam.png | wc -l)" -eq "$N" ]
printf '%s\n' $IMGS | $X explain $M --list - --method gradcam --out-dir "$T/l2" >/dev/null 2>&1
check "--list - reads stdin: the same manifest" cmp -s "$T/l/manifest.csv" "$T/l2/manifest.csv"
expect 0 "--force redoes it" $X explain $M --list "$T/list.txt" --method gradcam --out-dir "$T/l" --png --force
check "--force: nothing skipped" grep -q "(0 already done before)" "$T/err"
mkdir -p "$T/other"
cp "$first" "$T/other/"
expect 11 "two inputs with one stem" $X predict $M "$first" "$T/other/$(basename "$first")" --out-dir "$T/dup"
check "the second is refused: its output would overwrite the first's" grep -q "is input 0's" "$T/dup/manifest.csv"
printf 'not,a manifest\n' >"$T/l/manifest.csv"
expect 1 "a foreign manifest.csv is not overwritten" $X explain $M $IMGS --method gradcam --out-dir "$T/l"
check "  and it is left as it was" [ "$(cat "$T/l/manifest.csv")" = "not,a manifest" ]

# --- usage ---
expect 2 "explain several inputs without --out-dir" $X explain $M $IMGS --method saliency --out "$T/a.npy"
expect 2 "explain two methods with --out" $X explain $M "$first" --method saliency,gradcam --out "$T/a.npy"
expect 2 "explain --method saliency,saliency" $X explain $M $IMGS --method saliency,saliency --out-dir "$T/u"
expect 2 "explain --shard 1" $X explain $M $IMGS --method saliency --out-dir "$T/u" --shard 1
expect 2 "explain --list without a value" $X explain $M --method saliency --out-dir "$T/u" --list
expect 2 "explain --list with no inputs in it" $X explain $M --list /dev/null --method saliency --out-dir "$T/u"
expect 1 "explain --list of a missing file" $X explain $M --list "$T/none.txt" --method saliency --out-dir "$T/u"

rm -rf "$T"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
