# libxcnn build. `make` builds build/libxcnn.a, the CLI build/xcnn and the
# API example build/example. `make test` builds and runs every test.
#   make OMP=0     build without OpenMP
#   make CC=clang  build with clang (OpenMP needs libomp-dev; else OMP=0)

CC      ?= gcc
OMP     ?= 1
BUILD   ?= build
CFLAGS  ?= -O2
CFLAGS  += -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -MMD -MP
LDLIBS  += -lm -pthread
ifeq ($(OMP),1)
  CFLAGS  += -fopenmp
  LDFLAGS += -fopenmp
else
  CFLAGS  += -Wno-unknown-pragmas
endif

LIB_SRC  := $(wildcard libxcnn/*.c libxcnn/ops/*.c libxcnn/explain/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
LIB      := $(BUILD)/libxcnn.a

all: $(LIB) $(BUILD)/xcnn $(BUILD)/example

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

CLI_SRC  := $(wildcard tools/cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)

$(BUILD)/xcnn: $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/example: $(BUILD)/obj/tools/example.o $(LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

tests: $(TEST_BIN)

# Reference fixtures too big to commit (torchvision ResNet-18) are made in
# build/fixtures when /usr/bin/python3 has torch; tests report them as
# skipped if not (XCNN_BIG_FIXTURES=DIR looks elsewhere).
fixtures-big:
	@if /usr/bin/python3 -c "import torch, torchvision, onnx" 2>/dev/null; then \
	  /usr/bin/python3 tools/make_fixtures.py --big --out build/fixtures; \
	else echo "python3-torch not installed: large fixtures not made (their tests will be skipped)"; fi

test: all tests
	@XCNN_BUILD=$(BUILD) sh tests/run_all.sh $(TEST_BIN) tests/test_cli.sh

demo: all
	@XCNN_BUILD=$(BUILD) sh tools/demo.sh

clean:
	rm -rf $(BUILD)

.PHONY: all tests test clean fixtures-big demo
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:$(BUILD)/tests/%=$(BUILD)/obj/tests/%.d)
