#!/bin/sh
# The Cortex-M4 firmware (tools/mcu/, make mcu / mcu-run) under QEMU's
# mps2-an386 board, against the host CLI on the same images: the class,
# every logit and the Grad-CAM map, and the RAM the firmware measured.
# Skipped, with the reason, without arm-none-eabi-gcc or qemu-system-arm.
#
# Tolerance: max |mcu - host| / max |host| <= 1e-5 over each vector. Both
# sides compute the same maths in float32 but not in the same order: the
# M4 build (XCNN_SMALL, XCNN_FLOAT_ACCUM) runs every conv as im2col + GEMM
# in k-blocks of 16 and sums in Kahan-compensated float, the host runs
# Winograd and GEMM in k-blocks of 256 and sums in double. Each rounding
# is 6e-8 relative; through this network the two differ by at most 4e-7
# of the largest value on these images (the test prints the worst error),
# so 1e-5 leaves a 25-fold margin, while a real fault (another layer,
# class, ReLU rule, preprocessing or weight) moves values by percents.
B=${XCNN_BUILD:-build}
X=$B/xcnn
T=$B/test_mcu.tmp
TOL=1e-5
RAM_MAX=262144
passed=0; failed=0; skipped=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1"; }
summary() {
    echo "$passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
    exit $?
}
for tool in arm-none-eabi-gcc qemu-system-arm; do
    if ! command -v $tool >/dev/null 2>&1; then
        skip "Cortex-M4 firmware: $tool is not installed (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"
        summary
    fi
done
[ -x "$X" ] || { fail "$X is missing (make first)"; summary; }
mkdir -p "$T"
MODEL=data/fashion_resnet.onnx
PREP=build/mcu/host/mcu_prep
# make from the test, not under the caller's make (its jobserver is not ours)
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s "$@"; }

# worst NAME A B: max |a - b| / max |b| of two comma-separated lists of
# the same length; prints it, exits 1 on a length mismatch or an all-zero b.
worst() {
    awk -v a="$2" -v b="$3" 'BEGIN {
        n = split(a, x, ","); m = split(b, y, ",");
        if (n != m || n == 0) { print "lengths " n " and " m; exit 1 }
        big = 0; err = 0;
        for (i = 1; i <= n; i++) {
            v = y[i] < 0 ? -y[i] : y[i]; if (v > big) big = v;
            d = x[i] - y[i]; if (d < 0) d = -d; if (d > err) err = d;
        }
        if (big == 0) { print "the host values are all zero"; exit 1 }
        printf "%.3g", err / big }'
}

# value KEY FILE: what follows "KEY=" on the firmware's output line.
value() { sed -n "s/^$1=//p" "$2"; }

check() { # check FLAVOUR-NAME MCU_EXPLAIN IMAGE
    name=$1; explain=$2; img=$3
    tag="$name, $(basename "$img")"
    if ! mk mcu-run MCU_EXPLAIN="$explain" IMAGE="$img" >"$T/out" 2>"$T/err"; then
        fail "$tag: make mcu-run failed: $(tail -n 3 "$T/err" "$T/out" | head -c 600)"
        return
    fi
    # exactly the lines the firmware promises, in order
    want="class logits"
    [ "$explain" = 1 ] && want="$want cam"
    want="$want ram_bytes"
    got=$(sed 's/=.*//' "$T/out" | tr '\n' ' ' | sed 's/ $//')
    [ "$got" = "$want" ] && ok "$tag: prints $want" || fail "$tag: printed lines '$got', wanted '$want'"

    $X predict $MODEL "$img" --top 1 --out "$T/logits.npy" >"$T/pred" 2>&1 ||
        { fail "$tag: xcnn predict: $(cat "$T/pred")"; return; }
    host_class=$(cut -f1 "$T/pred")
    mcu_class=$(value class "$T/out")
    [ -n "$mcu_class" ] && [ "$mcu_class" = "$host_class" ] &&
        ok "$tag: class $mcu_class, as the host's" ||
        fail "$tag: class '$mcu_class', the host says '$host_class'"

    e=$(worst logits "$(value logits "$T/out")" "$($PREP --print "$T/logits.npy")") &&
        awk -v e="$e" -v t=$TOL 'BEGIN { exit !(e <= t) }' &&
        ok "$tag: logits within $TOL of the host's (worst $e of the largest)" ||
        fail "$tag: logits: worst relative error $e (tolerance $TOL)"

    if [ "$explain" = 1 ]; then
        $X explain $MODEL "$img" --method gradcam --out "$T/cam.npy" >"$T/expl" 2>&1 ||
            { fail "$tag: xcnn explain: $(cat "$T/expl")"; return; }
        e=$(worst cam "$(value cam "$T/out")" "$($PREP --print "$T/cam.npy")") &&
            awk -v e="$e" -v t=$TOL 'BEGIN { exit !(e <= t) }' &&
            ok "$tag: Grad-CAM ($(value cam "$T/out" | tr ',' '\n' | wc -l) values) within $TOL of the host's (worst $e of the largest)" ||
            fail "$tag: Grad-CAM: worst relative error $e (tolerance $TOL)"
    fi

    ram=$(value ram_bytes "$T/out")
    [ -n "$ram" ] && [ "$ram" -gt 0 ] && [ "$ram" -le $RAM_MAX ] &&
        ok "$tag: ram_bytes $ram <= $RAM_MAX (static buffer + .data + .bss + peak stack)" ||
        fail "$tag: ram_bytes '$ram', over $RAM_MAX or missing"
}

check "M4 inference + Grad-CAM" 1 data/fashion/0_Ankle_boot.png
check "M4 inference + Grad-CAM" 1 data/fashion/18_Bag.png
check "M4 inference only" 0 data/fashion/0_Ankle_boot.png
summary
