#!/bin/sh
# make install / uninstall as a packager and a user meet them: a staged
# install (DESTDIR) lays down exactly the files the README lists and
# uninstall takes them all away; a program built with pkg-config against
# the installed static and shared libraries (and, where cmake exists, a
# CMake project using find_package(PkgConfig), and a C++ one including
# every header) runs and agrees with the header's version; the shared
# library carries its soname and exports the public functions only.
#
# The install reuses the build in $XCNN_BUILD (make test passes its own
# variables on through MAKEFLAGS); the first run compiles the library once
# more as position-independent code for the shared library.
B=${XCNN_BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$B/test_install.tmp
CC=${CC:-cc}
[ "$CC" = cc ] || command -v "$CC" >/dev/null || CC=cc
passed=0; failed=0; skipped=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1"; }
summary() {
    if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"
    else echo "$passed passed, $failed failed"; fi
    [ "$failed" -eq 0 ]
    exit
}

# Programs built here must run here, uninstrumented.
if [ -n "$XCNN_RUN" ]; then
    skip "install: the build runs under '$XCNN_RUN' (another architecture), its programs cannot run here"
    summary
fi
case " $CFLAGS $LDFLAGS " in *-fsanitize*)
    skip "install: a sanitizer build (its library needs the sanitizer's runtime in every program linked to it)"
    summary ;;
esac
# CI sets XCNN_INSTALL_TEST=0 in its SIMD=0 and REFERENCE=1 runs: the
# install does not depend on the kernels, and each run would build the
# library a second time (PIC) for it; the final make test checks it.
if [ "${XCNN_INSTALL_TEST:-1}" = 0 ]; then
    skip "install: XCNN_INSTALL_TEST=0 (checked by another configuration's run)"
    summary
fi

rm -rf "$T" && mkdir -p "$T" || { fail "cannot make $T"; summary; }
T=$(cd "$T" && pwd)
B=$(cd "$B" && pwd)
part() { sed -n "s/^#define XCNN_VERSION_$1 \([0-9][0-9]*\)\$/\1/p" "$ROOT/include/xcnn.h"; }
MAJOR=$(part MAJOR); VERSION=$MAJOR.$(part MINOR).$(part PATCH)
mk() { make -s -C "$ROOT" BUILD="$B" "$@" >"$T/make.log" 2>&1; }

# 1. A staged install: exactly these files, then none.
S=$T/stage
if mk -j2 install DESTDIR="$S" PREFIX=/usr/local; then ok "make install DESTDIR=... PREFIX=/usr/local"
else fail "make install: $(tail -n 5 "$T/make.log")"; summary; fi
(cd "$S/usr/local" && find . \( -type f -o -type l \) | sort) >"$T/files"
printf '%s\n' ./bin/xcnn ./include/xcnn.h ./include/xcnn_eval.h ./include/xcnn_image.h \
    ./include/xcnn_train.h ./lib/libxcnn.a ./lib/libxcnn.so ./lib/libxcnn.so.$MAJOR \
    ./lib/libxcnn.so.$VERSION ./lib/pkgconfig/xcnn.pc | sort >"$T/want"
if cmp -s "$T/files" "$T/want"; then ok "the staged install holds exactly the 10 files and links listed"
else fail "installed files differ: $(diff "$T/want" "$T/files" | tr '\n' ' ')"; fi
[ "$(readlink "$S/usr/local/lib/libxcnn.so")" = "libxcnn.so.$MAJOR" ] &&
    [ "$(readlink "$S/usr/local/lib/libxcnn.so.$MAJOR")" = "libxcnn.so.$VERSION" ] &&
    ok "libxcnn.so -> libxcnn.so.$MAJOR -> libxcnn.so.$VERSION" ||
    fail "shared library links: $(ls -l "$S/usr/local/lib" | tr '\n' ' ')"
grep -qx 'prefix=/usr/local' "$S/usr/local/lib/pkgconfig/xcnn.pc" &&
    ! grep -q "$S" "$S/usr/local/lib/pkgconfig/xcnn.pc" &&
    ok "xcnn.pc names the PREFIX, not the staging DESTDIR" || fail "xcnn.pc: $(cat "$S/usr/local/lib/pkgconfig/xcnn.pc")"
if mk uninstall DESTDIR="$S" PREFIX=/usr/local; then
    left=$(find "$S" \( -type f -o -type l \) | head -n 3)
    [ -z "$left" ] && ok "make uninstall leaves no file behind" || fail "make uninstall left $left"
else fail "make uninstall: $(tail -n 5 "$T/make.log")"; fi

# 2. An install to a PREFIX, used as a user would.
P=$T/prefix
if ! mk install PREFIX="$P"; then fail "make install PREFIX=$P: $(tail -n 5 "$T/make.log")"; summary; fi
ok "make install PREFIX=$P"
out=$("$P/bin/xcnn" --version 2>&1)
[ "$out" = "xcnn $VERSION" ] && ok "xcnn --version prints 'xcnn $VERSION' (the header's)" || fail "xcnn --version: '$out'"
"$P/bin/xcnn" --version extra >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && ok "xcnn --version with an argument is a usage error (exit 2)" || fail "xcnn --version extra: exit $rc"

soname=$(readelf -d "$P/lib/libxcnn.so.$VERSION" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = "libxcnn.so.$MAJOR" ] && ok "readelf -d: soname $soname" || fail "soname '$soname', wanted libxcnn.so.$MAJOR"
# Every function the public headers declare is exported, nothing else is.
grep -oh 'xcnn_[a-z0-9_]*[[:space:]]*(' "$P"/include/xcnn*.h | sed 's/[[:space:]]*(//' | sort -u >"$T/api"
nm -D --defined-only "$P/lib/libxcnn.so.$VERSION" | awk '$2 ~ /^[TWDBRV]$/ {print $3}' | sort -u >"$T/exported"
for f in $(cat "$T/api"); do
    nm "$P/lib/libxcnn.a" 2>/dev/null | grep -q " T $f\$" || echo "$f" >>"$T/undefined"
done
if [ -s "$T/undefined" ]; then fail "declared in include/ but not in libxcnn.a: $(cat "$T/undefined" | tr '\n' ' ')"
else ok "each of the $(wc -l <"$T/api") functions include/xcnn*.h declares is defined in libxcnn.a"; fi
if cmp -s "$T/api" "$T/exported"; then ok "the shared library exports those $(wc -l <"$T/exported") functions and no other symbol"
else fail "exports differ from the API: $(diff "$T/api" "$T/exported" | grep '^[<>]' | head -n 5 | tr '\n' ' ')"; fi
nm "$P/lib/libxcnn.a" | grep -q ' T xcnn_fail$' && ! grep -qx xcnn_fail "$T/exported" &&
    ok "an internal function (xcnn_fail) is in libxcnn.a but hidden in the shared library" ||
    fail "xcnn_fail: not in the static library, or exported"

# Libs.private must carry -fopenmp exactly when the library calls OpenMP.
private=$(sed -n 's/^Libs.private: *//p' "$P/lib/pkgconfig/xcnn.pc")
if nm "$P/lib/libxcnn.a" 2>/dev/null | grep -q ' U GOMP_'; then want_private="-fopenmp -lm"; else want_private="-lm"; fi
[ "$private" = "$want_private" ] && ok "Libs.private: $private (the library $( [ "$want_private" = -lm ] && echo "calls no" || echo calls) OpenMP)" ||
    fail "Libs.private '$private', wanted '$want_private'"

if ! command -v pkg-config >/dev/null; then
    skip "pkg-config: not installed (Debian package pkg-config); programs against the installed library not built"
    mk uninstall PREFIX="$P"
    summary
fi
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
mv_ver=$(pkg-config --modversion xcnn 2>&1)
[ "$mv_ver" = "$VERSION" ] && ok "pkg-config --modversion xcnn: $mv_ver" || fail "pkg-config --modversion: $mv_ver"

# A user's program: every public header, the run-time version, and one
# forward pass of a committed model; and tools/example.c, the API tour.
cat >"$T/user.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xcnn.h>
#include <xcnn_eval.h>
#include <xcnn_image.h>
#include <xcnn_train.h>

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    printf("header %s library %s number %d\n", XCNN_VERSION_STRING, xcnn_version(),
           xcnn_version_number());
    if (strcmp(XCNN_VERSION_STRING, xcnn_version()) || xcnn_version_number() != XCNN_VERSION)
        return 1;
    char err[512];
    xcnn_model *m = NULL;
    if (xcnn_model_load(argv[1], NULL, &m, err, sizeof err) != XCNN_OK) {
        fprintf(stderr, "load: %s\n", err);
        return 1;
    }
    float *x = NULL;
    int ndim;
    int64_t dims[XCNN_MAX_DIMS];
    float y[16];
    xcnn_tensor_view in, out;
    xcnn_model_input(m, &in);
    xcnn_model_output(m, &out);
    err[0] = 0;
    if (out.numel > 16 || xcnn_npy_read(argv[2], &x, &ndim, dims, err, sizeof err) != XCNN_OK ||
        xcnn_forward(m, x, 1, y) != XCNN_OK) {
        fprintf(stderr, "run: %s %s\n", err, xcnn_model_error(m));
        return 1;
    }
    size_t best = 0;
    for (size_t i = 1; i < out.numel; i++)
        if (y[i] > y[best]) best = i;
    printf("argmax %zu\n", best);
    free(x);
    xcnn_model_free(m);
    return 0;
}
EOF
sed 's|#include "../include/xcnn.h"|#include <xcnn.h>|' "$ROOT/tools/example.c" >"$T/example.c"
F=$ROOT/tests/fixtures/plaincnn
argmax=$(sed -n 's/^argmax=//p' "$F/meta.txt")
"$B/example" "$F/model.onnx" "$F/input.npy" >"$T/example_ref.txt" 2>&1

# Shared: pkg-config --cflags --libs, run with LD_LIBRARY_PATH.
# Static: the archive by -Wl,-Bstatic, and what --static adds (Libs.private).
static_libs=$(pkg-config --static --libs xcnn | sed 's/-lxcnn/-Wl,-Bstatic -lxcnn -Wl,-Bdynamic/')
for kind in shared static; do
    if [ $kind = shared ]; then libs=$(pkg-config --libs xcnn); else libs=$static_libs; fi
    built=1
    for prog in user example; do
        if $CC -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags xcnn) "$T/$prog.c" $libs \
            -o "$T/${prog}_$kind" >"$T/cc.log" 2>&1; then
            ok "$kind: $prog.c builds with pkg-config's flags ($libs)"
        else
            fail "$kind: $prog.c: $(head -c 400 "$T/cc.log")"; built=0
        fi
    done
    [ $built -eq 1 ] || continue
    needed=$(readelf -d "$T/user_$kind" 2>/dev/null | grep -c 'NEEDED.*libxcnn')
    if [ $kind = shared ]; then
        [ "$needed" -eq 1 ] && readelf -d "$T/user_$kind" | grep -q "NEEDED.*\[libxcnn.so.$MAJOR\]" &&
            ok "shared: the program needs libxcnn.so.$MAJOR (the soname)" || fail "shared: NEEDED: $(readelf -d "$T/user_$kind" | grep NEEDED | tr '\n' ' ')"
        env -u LD_LIBRARY_PATH "$T/user_$kind" "$F/model.onnx" "$F/input.npy" >/dev/null 2>&1 &&
            fail "shared: ran with no LD_LIBRARY_PATH (a libxcnn found elsewhere?)" ||
            ok "shared: without LD_LIBRARY_PATH the program does not find libxcnn.so.$MAJOR"
        run="env LD_LIBRARY_PATH=$P/lib"
    else
        [ "$needed" -eq 0 ] && ok "static: the program needs no libxcnn.so" || fail "static: it needs libxcnn.so"
        run=""
    fi
    out=$($run "$T/user_$kind" "$F/model.onnx" "$F/input.npy" 2>&1)
    case "$out" in
    *"header $VERSION library $VERSION number"*"argmax $argmax") ok "$kind: xcnn_version() = XCNN_VERSION_STRING = $VERSION, forward's argmax $argmax (PyTorch's)" ;;
    *) fail "$kind: user program printed: $out" ;;
    esac
    if $run "$T/example_$kind" "$F/model.onnx" "$F/input.npy" >"$T/example_$kind.txt" 2>&1 &&
        cmp -s "$T/example_$kind.txt" "$T/example_ref.txt"; then
        ok "$kind: tools/example.c prints what $B/example prints ($(wc -l <"$T/example_ref.txt") lines)"
    else
        fail "$kind: tools/example.c: $(diff "$T/example_ref.txt" "$T/example_$kind.txt" | head -c 300)"
    fi
done

# C++: the headers are extern "C" and compile as C++11.
if command -v c++ >/dev/null; then
    cat >"$T/user.cpp" <<'EOF'
#include <xcnn.h>
#include <xcnn_eval.h>
#include <xcnn_image.h>
#include <xcnn_train.h>
#include <cstdio>
int main()
{
    std::printf("%s\n", xcnn_version());
    return xcnn_version_number() == XCNN_VERSION ? 0 : 1;
}
EOF
    if c++ -std=c++11 -Wall -Wextra -Werror $(pkg-config --cflags xcnn) "$T/user.cpp" \
        $(pkg-config --libs xcnn) -o "$T/user_cpp" >"$T/cc.log" 2>&1 &&
        [ "$(env LD_LIBRARY_PATH="$P/lib" "$T/user_cpp")" = "$VERSION" ]; then
        ok "C++: every public header compiles as C++11 (-Wall -Wextra -Werror) and links"
    else
        fail "C++: $(head -c 300 "$T/cc.log")"
    fi
else
    skip "C++: no c++ compiler"
fi

# CMake: find_package(PkgConfig) + pkg_check_modules, as the README shows.
if command -v cmake >/dev/null; then
    mkdir -p "$T/cmake"
    cp "$T/user.c" "$T/cmake/user.c"
    cat >"$T/cmake/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.10)
project(xcnn_user C)
find_package(PkgConfig REQUIRED)
pkg_check_modules(XCNN REQUIRED IMPORTED_TARGET xcnn)
add_executable(user user.c)
target_link_libraries(user PRIVATE PkgConfig::XCNN)
EOF
    if (cd "$T/cmake" && cmake -S . -B build -DCMAKE_C_COMPILER="$CC" && cmake --build build) >"$T/cmake.log" 2>&1; then
        ok "cmake: find_package(PkgConfig) + pkg_check_modules(xcnn) configures and builds"
        out=$(env LD_LIBRARY_PATH="$P/lib" "$T/cmake/build/user" "$F/model.onnx" "$F/input.npy" 2>&1)
        case "$out" in
        *"library $VERSION"*"argmax $argmax") ok "cmake: the program runs against libxcnn.so.$VERSION, argmax $argmax" ;;
        *) fail "cmake: the program printed: $out" ;;
        esac
    else
        fail "cmake: $(tail -n 8 "$T/cmake.log" | tr '\n' ' ')"
    fi
else
    skip "cmake: not installed (Debian package cmake); the CMake project not built"
fi

if mk uninstall PREFIX="$P"; then
    left=$(find "$P" \( -type f -o -type l \) | head -n 3)
    [ -z "$left" ] && ok "make uninstall PREFIX=$P leaves no file behind" || fail "uninstall left $left"
else fail "make uninstall PREFIX=$P: $(tail -n 5 "$T/make.log")"; fi
rm -rf "$T"
summary
