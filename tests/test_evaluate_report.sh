#!/bin/sh
# `xcnn evaluate MODEL INPUT... --methods a,b --out-dir DIR`, the report
# (METHODS.md, "Metrics"; tools/cli/evaluate_report.c, report_files.c): the
# table, metrics.csv's columns and rows, its numbers against the
# single-input modes (deletion/insertion of `xcnn explain`'s attribution,
# sanity, infidelity, sensitivity), the table's means against the CSV, the
# plots (PNG, size, decoded by the library's reader), the same bytes twice,
# input invariance where it applies (captum_toy: its first Conv does not
# pad), methods left out or n/a, and the refusals: exit 2 for usage, 1 for
# errors, one line on stderr, nothing written and nothing half-written.
B=${XCNN_BUILD:-build}
X=$B/xcnn
T=$B/test_evaluate_report.tmp
rm -rf "$T"
mkdir -p "$T"
M=data/fashion_resnet.onnx
I1=data/fashion/9_Sneaker.png
I2=data/fashion/0_Ankle_boot.png
TOY=tests/fixtures/captum_toy
passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
expect() {
    code=$1; what=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" -eq "$code" ]; then ok "$what (exit $rc)"; else fail "$what: exit $rc, wanted $code: $(head -c 300 "$T/err")"; fi
}
one_line_error() {
    n=$(wc -l <"$T/err")
    if [ "$n" -eq 1 ] && grep -q '^xcnn: ' "$T/err"; then ok "$1: one line: $(cat "$T/err")"; else fail "$1: stderr was: $(cat "$T/err")"; fi
}
says() { # WHAT TEXT: stdout or stderr has TEXT
    if grep -q -- "$2" "$T/out" "$T/err"; then ok "$1 says '$2'"; else fail "$1 does not say '$2': $(cat "$T/out" "$T/err" | head -c 300)"; fi
}
# close A B TOL WHAT: |A - B| <= TOL * max(|A|, |B|, 1e-12)
close() {
    if awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a; n = b < 0 ? -b : b; if (n > m) m = n; if (m < 1e-12) m = 1e-12; exit !(a != "" && b != "" && d <= t * m) }'; then
        ok "$4: $1 vs $2"
    else
        fail "$4: $1 vs $2 (tolerance $3)"
    fi
}
# near A B WHAT: |A - B| <= 6e-5 (--metric sanity prints 4 decimals)
near() {
    if awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= 6e-5) }'; then
        ok "$3: $1 vs $2"
    else
        fail "$3: $1 vs $2 (to 6e-5)"
    fi
}
# csv_get INPUT METHOD COLUMN: one field of metrics.csv (no quoted fields here)
csv_get() { awk -F, -v i="$1" -v m="$2" -v c="$3" '$1 == i && $2 == m { print $c }' "$D/metrics.csv"; }
# png_size FILE: "W H" from the IHDR chunk (bytes 16..23, big-endian)
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ print $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8 }'; }

# ---- the report on the shipped model, two images, two methods ----------
D=$T/report
expect 0 "report: 2 images x saliency,gradcam" \
    $X evaluate $M $I1 $I2 --methods saliency,gradcam --out-dir "$D" --threads 1
head -1 "$T/out" | grep -q "^method  *deletion  *insertion  *sanity  *invariance  *infidelity  *sensitivity$" \
    && ok "the table's header names every metric" || fail "table header: $(head -1 "$T/out")"
for m in saliency gradcam; do
    grep -Eq "^$m +[0-9.]+ +[0-9.]+ +(pass|fail [0-9]+/2) +n/a +[0-9.e+-]+ +[0-9.e+-]+$" "$T/out" \
        && ok "a table row for $m: $(grep "^$m " "$T/out" | tr -s ' ')" || fail "no row for $m: $(cat "$T/out")"
done
says "the report" "means over 2 inputs (probability scores)"
says "the n/a column" "input-invariance n/a for saliency: .*pads its input"
[ "$(grep -c "input-invariance n/a" "$T/err")" = 1 ] && ok "the same reason is said once, not per method" \
    || fail "notes: $(cat "$T/err")"
grep -q "$(printf '\r')" "$T/err" && fail "a progress line although stderr is not a terminal" \
    || ok "no progress line when stderr is not a terminal"
says "the summary" "^evaluate: 2 inputs x 2 methods in "
for f in metrics.csv deletion.png insertion.png sanity.png; do
    [ -s "$D/$f" ] && grep -q "^wrote $D/$f$" "$T/out" && ok "wrote $f" || fail "$f: not written or not said"
done
ls "$D" | grep -q tmp && fail "temporary files left: $(ls "$D")" || ok "no temporary file left in DIR"

# metrics.csv: header, 2 x 2 rows, 12 + 2 x 19 columns (19 layers: 9 Conv, 9 BN, the Gemm)
hdr=$(head -1 "$D/metrics.csv")
case "$hdr" in
"input,method,target,label,probability,deletion_auc,insertion_auc,sanity_pass,invariance_max_rel_diff,invariance_pass,infidelity,sensitivity,spearman:logits,"*",ssim:stem.conv")
    ok "metrics.csv header: every metric, then Spearman and SSIM per layer from the output down" ;;
*) fail "metrics.csv header: $hdr" ;;
esac
[ "$(wc -l <"$D/metrics.csv")" = 5 ] && ok "metrics.csv: a header and 4 rows (2 inputs x 2 methods)" \
    || fail "metrics.csv has $(wc -l <"$D/metrics.csv") lines"
cols=$(awk -F, '{ print NF }' "$D/metrics.csv" | sort -u)
[ "$cols" = 50 ] && ok "every line has 50 fields" || fail "field counts: $cols"
[ "$(csv_get $I1 saliency 3)" = 7 ] && [ "$(csv_get $I1 saliency 4)" = Sneaker ] \
    && ok "target 7, labelled Sneaker" || fail "target: $(csv_get $I1 saliency 3) $(csv_get $I1 saliency 4)"
[ "$(csv_get $I1 saliency 9)" = "" ] && [ "$(csv_get $I1 saliency 10)" = "" ] \
    && ok "input invariance empty (n/a) in the CSV" || fail "invariance fields: $(csv_get $I1 saliency 9),$(csv_get $I1 saliency 10)"

# The numbers, against the single-input modes on the same attribution
$X explain $M $I1 --method saliency --out "$T/s.npy" >/dev/null 2>&1
$X explain $M $I2 --method gradcam --out "$T/g.npy" >/dev/null 2>&1
a=$($X evaluate $M $I1 --attribution "$T/s.npy" --metric deletion | sed -n 's/^auc=//p')
close "$a" "$(csv_get $I1 saliency 6)" 1e-5 "saliency's deletion AUC = evaluate --metric deletion"
a=$($X evaluate $M $I2 --attribution "$T/g.npy" --metric insertion | sed -n 's/^auc=//p')
close "$a" "$(csv_get $I2 gradcam 7)" 1e-5 "gradcam's insertion AUC = evaluate --metric insertion"
a=$($X evaluate $M $I1 --attribution "$T/s.npy" --metric infidelity | sed -n 's/^infidelity=//p')
close "$a" "$(csv_get $I1 saliency 11)" 1e-5 "infidelity = evaluate --metric infidelity"
a=$($X evaluate $M $I2 --methods gradcam --metric sensitivity --threads 1 | sed -n 's/.*sensitivity=//p')
close "$a" "$(csv_get $I2 gradcam 12)" 1e-5 "sensitivity = evaluate --metric sensitivity"
$X evaluate $M $I1 --methods saliency --metric sanity --threads 1 >"$T/san" 2>&1
a=$(sed -n 's/.*layer=logits spearman=\([^ ]*\) .*/\1/p' "$T/san")
b=$(sed -n 's/.*layer=stem.conv spearman=[^ ]* ssim=//p' "$T/san")
near "$a" "$(csv_get $I1 saliency 13)" "Spearman after randomizing logits = --metric sanity"
near "$b" "$(csv_get $I1 saliency 50)" "SSIM after randomizing every layer = --metric sanity"
# The table's deletion column is the mean of the CSV's
mean=$(awk -F, '$2 == "gradcam" { s += $6; n++ } END { printf "%.4f", s / n }' "$D/metrics.csv")
grep -q "^gradcam  *$mean " "$T/out" && ok "the table's gradcam deletion is the CSV's mean ($mean)" \
    || fail "table vs CSV mean $mean: $(grep ^gradcam "$T/out")"

# The plots: PNGs of the stated sizes that the library decodes
[ "$(png_size "$D/deletion.png")" = "720 460" ] && ok "deletion.png is 720 x 460" || fail "deletion.png: $(png_size "$D/deletion.png")"
[ "$(png_size "$D/insertion.png")" = "720 460" ] && ok "insertion.png is 720 x 460" || fail "insertion.png: $(png_size "$D/insertion.png")"
[ "$(png_size "$D/sanity.png")" = "1120 560" ] && ok "sanity.png is 1120 x 560" || fail "sanity.png: $(png_size "$D/sanity.png")"
for f in deletion insertion sanity; do
    expect 0 "$f.png decodes (read as an input by the library's PNG reader)" $X predict $M "$D/$f.png"
done

# The same run again: the same bytes in every file
expect 0 "the report again, into another directory" \
    $X evaluate $M $I1 $I2 --methods saliency,gradcam --out-dir "$T/again" --threads 1
same=1
for f in metrics.csv deletion.png insertion.png sanity.png; do cmp -s "$D/$f" "$T/again/$f" || same=0; done
[ $same = 1 ] && ok "the same run writes the same bytes" || fail "a second run differs"

# Without --out-dir: the table only
expect 0 "two inputs, no --out-dir: the table only" $X evaluate $M $I1 $I2 --methods saliency --threads 1
grep -q "^saliency " "$T/out" && ! grep -q "^wrote" "$T/out" && ok "a table and no file" || fail "no-out-dir output: $(cat "$T/out")"

# Input invariance where it applies, and methods left out: every method on captum_toy (4x4)
expect 0 "--methods all on a 4x4 model" $X evaluate $TOY/model.onnx $TOY/input.npy $TOY/input.npy --methods all --threads 1
grep -Eq "^saliency .* n/a +pass " "$T/out" && ok "saliency passes input invariance" || fail "saliency: $(grep '^saliency ' "$T/out")"
grep -Eq "^input-x-gradient .* n/a +fail 2/2 " "$T/out" && ok "input x gradient fails it (Kindermans et al.)" \
    || fail "input-x-gradient: $(grep '^input-x-gradient ' "$T/out")"
says "all" "note: cam left out: cam needs a model"
says "all" "sanity n/a for saliency: .*11"
grep -q "^cam " "$T/out" && fail "cam is in the table" || ok "cam is not in the table"
expect 1 "--methods cam named on a model it cannot explain" $X evaluate $TOY/model.onnx $TOY/input.npy $TOY/input.npy --methods cam --threads 1
one_line_error "--methods cam"

# The shipped model's first Conv pads: --pad-with-shift pads the shifted input with the shift
expect 0 "--pad-with-shift on the shipped model" $X evaluate $M $I1 --methods saliency,input-x-gradient --pad-with-shift --threads 1
grep -Eq "^saliency .* pass +[0-9.e+-]+ +[0-9.e+-]+$" "$T/out" && ok "saliency passes with the padding shifted" \
    || fail "saliency: $(grep '^saliency ' "$T/out")"
grep -Eq "^input-x-gradient .* fail 1/1 +[0-9.e+-]+ +[0-9.e+-]+$" "$T/out" && ok "input x gradient fails" \
    || fail "input-x-gradient: $(grep '^input-x-gradient ' "$T/out")"
says "--pad-with-shift" "padded with the shift"

# ---- refusals -----------------------------------------------------------
R="$T/refused"
expect 2 "an unknown method" $X evaluate $M $I1 $I2 --methods saliency,bogus --out-dir "$R"
one_line_error "unknown method"
says "unknown method" "unknown method 'bogus'"
expect 2 "a method twice" $X evaluate $M $I1 --methods saliency,saliency --out-dir "$R"
one_line_error "method twice"
expect 2 "--metric with --out-dir" $X evaluate $M $I1 --metric deletion --out-dir "$R"
one_line_error "--metric with --out-dir"
expect 2 "--step 0" $X evaluate $M $I1 --out-dir "$R" --step 0
expect 2 "--seed -1" $X evaluate $M $I1 --out-dir "$R" --seed -1
expect 2 "--score bogus" $X evaluate $M $I1 --out-dir "$R" --score bogus
expect 2 "no INPUT" $X evaluate $M --methods saliency --out-dir "$R"
says "no INPUT" "needs MODEL and at least one INPUT"
[ -e "$R" ] && fail "a usage error created $R" || ok "no usage error created the directory"
expect 1 "a missing image" $X evaluate $M $I1 "$T/none.png" --methods saliency --out-dir "$R"
one_line_error "missing image"
[ -e "$R" ] && fail "a missing image left $R" || ok "a missing image leaves no directory"
expect 1 "a file that is not an image" $X evaluate $M $I1 README.md --methods saliency --out-dir "$R"
one_line_error "not an image"
expect 1 "--out-dir in a missing directory" $X evaluate $M $I1 --methods saliency --out-dir "$T/no/such/dir"
one_line_error "--out-dir missing parent"
says "missing parent" "cannot create it"
echo x >"$T/file"
expect 1 "--out-dir naming a file" $X evaluate $M $I1 --methods saliency --out-dir "$T/file"
says "--out-dir file" "is not a directory"
# A failed run leaves what was there: old files whole, no temporary files
mkdir -p "$T/old" && echo old >"$T/old/metrics.csv"
expect 1 "a failing run into a directory with an old report" $X evaluate $M $I1 "$T/none.png" --methods saliency --out-dir "$T/old"
[ "$(cat "$T/old/metrics.csv")" = old ] && [ "$(ls "$T/old")" = metrics.csv ] \
    && ok "the old metrics.csv is untouched and nothing was added" || fail "old dir now: $(ls "$T/old")"
mkdir -p "$T/ro" && chmod 555 "$T/ro"
if [ -w "$T/ro" ]; then
    echo "SKIP a read-only --out-dir: this user writes anyway (root)"; skipped=1
else
    expect 1 "a read-only --out-dir" $X evaluate $M $I1 --methods saliency --out-dir "$T/ro"
    one_line_error "read-only --out-dir"
fi
chmod 755 "$T/ro"

rm -rf "$T"
if [ "${skipped:-0}" = 1 ]; then
    echo "$passed passed, $failed failed, 1 skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
