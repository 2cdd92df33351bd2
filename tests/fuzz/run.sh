#!/bin/sh
# Build and run the libFuzzer harnesses: run.sh BUILD SECONDS NAME...
# BUILD/libxcnn.a must be built with -fsanitize=fuzzer-no-link,address,
# undefined (make fuzz does it). Each harness tests/fuzz/fuzz_NAME.c starts
# from a seed corpus of valid files (made below from tests/fixtures and
# tests/data) and keeps what it finds in BUILD/corpus/NAME between runs.
# A crash, leak, sanitizer report, timeout or out-of-memory leaves its
# input in BUILD/artifacts/NAME/ and makes this script exit 1.
# Prints one line per harness: executions in SECONDS (for the README).
B=$1; SECONDS_EACH=$2; shift 2
CC=${FUZZ_CC:-clang}
FLAGS="-std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
failed=""
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

seed() { # seed NAME: fill BUILD/corpus/NAME with valid inputs
    d=$B/corpus/$1
    mkdir -p "$d"
    case $1 in
    onnx) for f in tests/fixtures/*/model.onnx; do cp "$f" "$d/$(basename "$(dirname "$f")").onnx"; done
          cp tests/data/hostile/*.onnx "$d/" 2>/dev/null ;;
    npy)  for f in tests/fixtures/captum_toy/input.npy tests/fixtures/captum_toy/output.npy \
                   tests/fixtures/plaincnn/input.npy; do
              cp "$f" "$d/$(basename "$(dirname "$f")")_$(basename "$f")"
          done
          cp tests/data/hostile/*.npy "$d/" 2>/dev/null ;;
    image) for f in tests/data/png/*.png; do cp "$f" "$d/"; done
          printf 'P5\n2 2\n255\n\001\002\003\004' >"$d/g.pgm"
          printf 'P6\n# c\n1 2\n65535\n\000\001\000\002\000\003\377\377\000\000\001\001' >"$d/c.ppm"
          printf 'P2\n2 1\n15\n3 15\n' >"$d/a.pgm"
          printf 'P3\n1 1\n255\n1 2 3\n' >"$d/a.ppm" ;;
    gzip|idx)
          printf '\000\000\010\001\000\000\000\003\001\002\003' >"$d/labels.idx"
          printf '\000\000\010\003\000\000\000\002\000\000\000\002\000\000\000\002abcdefgh' >"$d/images.idx"
          gzip -9 -c "$d/labels.idx" >"$d/labels.idx.gz"
          gzip -1 -c "$d/images.idx" >"$d/images.idx.gz"
          head -c 3000 tests/fixtures/captum_toy/model.onnx | gzip -c >"$d/model.gz"
          cat "$d/labels.idx.gz" "$d/images.idx.gz" >"$d/two_members.gz" ;;
    preprocess) # 10 header bytes (fuzz_preprocess.c), then spec '\0' spec
          printf '\005\000\377\000\277\000\337\000\337\003rgb;resize=256;crop=224x224;mean=0.485,0.456,0.406;std=0.229,0.224,0.225' >"$d/torchvision"
          printf '\000\200\031\000\000\000\033\000\033\002gray;resize=384' >"$d/gray_16384x1"
          printf '\012\000\143\000\044\000\007\000\017\001bgr;size=32x48;scale=1;mean=127.5;std=127.5\000crop=16x16' >"$d/two_specs"
          printf '\060\000\000\000\000\000\000\000\000\000' >"$d/empty"
          printf '\124\000\010\000\010\000\003\000\003\002resize=0' >"$d/refused_err1"
          printf '\144\200\000\200\031\200\031\200\000\007gray;;crop=1x1;scale=-1;mean=3;std=-2' >"$d/hostile_sides"
          printf '\001\000\100\000\060\000\020\000\020\003\001\011\100\060\006\002\001\003\014\001' >"$d/structured" ;;
    xcnn_format) # the fixtures as ONNX (the harness converts them) and as .xcnn
          for f in tests/fixtures/*/model.onnx; do
              n=$(basename "$(dirname "$f")"); cp "$f" "$d/$n.onnx"
              [ -x "${XCNN_CLI:-build/xcnn}" ] && "${XCNN_CLI:-build/xcnn}" convert "$f" "$d/$n.xcnn" >/dev/null
          done ;;
    explain) # 16 header bytes (fuzz_explain.c), then the model: tiny models
          # (explain_seeds.c) and captum_toy; the other fixtures take 10-100x
          # longer a run
          $CC -std=c11 -O1 tests/fuzz/explain_seeds.c -o "$B/explain_seeds" &&
              "$B/explain_seeds" "$d" tests/fixtures/captum_toy/model.onnx ;;
    esac
}

# fuzz_one NAME: build, seed and run one harness; prints one line (more on
# failure) and exits 1 if it failed
fuzz_one() {
    name=$1
    src=tests/fuzz/fuzz_$name.c
    bin=$B/fuzz_$name
    if [ ! -f "$src" ]; then echo "FAIL fuzz_$name: no $src"; return 1; fi
    if ! $CC $FLAGS "$src" "$B/libxcnn.a" -lm -o "$bin"; then
        echo "FAIL fuzz_$name: does not build"; return 1
    fi
    seed "$name"
    mkdir -p "$B/artifacts/$name"
    log=$B/fuzz_$name.log
    dict=tests/fuzz/fuzz_$name.dict # a libFuzzer dictionary, where there is one
    [ -f "$dict" ] && dict="-dict=$dict" || dict=
    "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        $dict -artifact_prefix="$B/artifacts/$name/" "$B/corpus/$name" >"$log" 2>&1
    rc=$?
    runs=$(LC_ALL=C sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -n 1)
    if [ "$rc" -ne 0 ]; then
        echo "FAIL fuzz_$name (exit $rc) after ${runs:-?} runs; see $log and $B/artifacts/$name/"
        grep -a -m 3 -E 'ERROR|SUMMARY|runtime error' "$log"
        return 1
    fi
    echo "ok   fuzz_$name: ${runs:-?} executions in ${SECONDS_EACH} s, $cov, corpus $(ls "$B/corpus/$name" | wc -l) files"
}

# FUZZ_JOBS harnesses at a time (default: one per CPU; each is one
# process), in rounds, so the run takes SECONDS x harnesses / jobs. Each
# writes its report to a file, printed in the order given.
jobs=${FUZZ_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
case "$jobs" in '' | *[!0-9]* | 0) jobs=1 ;; esac
mkdir -p "$B/reports"
round=""
finish_round() {
    wait
    for name in $round; do
        cat "$B/reports/$name"
        grep -q '^FAIL' "$B/reports/$name" && failed="$failed $name"
    done
    round=""
}
for name in "$@"; do
    fuzz_one "$name" >"$B/reports/$name" 2>&1 &
    round="$round $name"
    [ "$(echo $round | wc -w)" -ge "$jobs" ] && finish_round
done
finish_round
[ -z "$failed" ] || { echo "fuzzers failed:$failed"; exit 1; }
