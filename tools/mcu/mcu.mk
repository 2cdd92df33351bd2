# libxcnn on a Cortex-M4 (QEMU's mps2-an386 board): a firmware that
# classifies one image and explains it with Grad-CAM (tools/mcu/main.c).
#   make mcu                     build/mcu/xcnn_mcu.elf (inference + Grad-CAM)
#   make mcu MCU_EXPLAIN=0       build/mcu/xcnn_mcu_infer.elf (inference only)
#   make mcu-run [IMAGE=path]    run it under qemu-system-arm: prints class=,
#                                logits=, cam= and ram_bytes= lines (IMAGE:
#                                PNG/PPM/PGM, preprocessed as the model's
#                                metadata says, or a float32 .npy)
#   MCU_DEFS=-DMCU_VERBOSE       also prints the parts of ram_bytes
# The model's static buffer, .data, .bss and the stack's reserve must fit
# the 256 KiB RAM region of link.ld, or the link fails.
#   make mcu MCU_STATIC=0        the model as ONNX bytes, loaded with malloc
#                                (a 4 MiB RAM region; for comparison)
# Needs gcc-arm-none-eabi and libnewlib-arm-none-eabi (and qemu-system-arm
# to run). The library is compiled here for the M4 with the firmware's
# flags (XCNN_SMALL, XCNN_FLOAT_ACCUM: libxcnn/base/config.h) into
# build/mcu/obj; a host build of it with the same settings in
# build/mcu/host converts the model to .xcnn (xcnn convert), turns the
# image into the model's input and plans the model's static buffer
# (tools/mcu/prep.c), all at build time.

MCU_CC      ?= arm-none-eabi-gcc
MCU_SIZE    ?= arm-none-eabi-size
MCU_QEMU    ?= qemu-system-arm
MCU_DIR     ?= build/mcu
MCU_EXPLAIN ?= 1
MCU_MODEL   ?= data/fashion_resnet.onnx
IMAGE       ?= data/fashion/0_Ankle_boot.png
MCU_STATIC  ?= 1
MCU_TIMEOUT ?= 600
# RAM the linker may place .data, .bss (the model's buffer), the heap and
# the stack in: past it the link fails. The stack's reserve is checked at
# run time too (its last word must keep the boot's paint).
ifeq ($(MCU_STATIC),0)
  MCU_RAM_SIZE  ?= 4096K
  MCU_HEAP_SIZE ?= 3584K
else
  MCU_RAM_SIZE  ?= 256K
  MCU_HEAP_SIZE ?= 0
endif
MCU_STACK_SIZE ?= 16K

MCU_ARCH   := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
MCU_FW_CFLAGS ?= -O2
MCU_FW_CFLAGS += $(MCU_ARCH) -ffp-contract=off -std=c11 -Wall -Wextra -Werror -Wno-unknown-pragmas \
              -DXCNN_SMALL -DXCNN_FLOAT_ACCUM -DXCNN_OWN_FORMAT -DXCNN_EXPLAIN_CORE \
              -D_POSIX_C_SOURCE=200809L -ffunction-sections \
              -fdata-sections -MMD -MP $(MCU_DEFS)
MCU_LDFLAGS := $(MCU_ARCH) --specs=nano.specs -nostartfiles -Wl,--gc-sections \
               -Wl,--defsym=MCU_RAM_SIZE=$(MCU_RAM_SIZE) -Wl,--defsym=MCU_HEAP_SIZE=$(MCU_HEAP_SIZE) \
               -Wl,--defsym=MCU_STACK_SIZE=$(MCU_STACK_SIZE)

# Everything but what needs an operating system (files written whole by
# rename). From an archive only the objects the firmware calls into are
# linked, and --gc-sections drops their unused functions.
MCU_LIB_SRC := $(filter-out libxcnn/io/atomic_file.c,$(wildcard libxcnn/*/*.c libxcnn/*/*/*.c))
MCU_LIB_OBJ := $(MCU_LIB_SRC:%.c=$(MCU_DIR)/obj/%.o)
MCU_LIB     := $(MCU_DIR)/libxcnn_m4.a

ifeq ($(MCU_EXPLAIN),0)
  MCU_NAME := xcnn_mcu_infer
  MCU_CONVERT := --fold-bn
else
  MCU_NAME := xcnn_mcu
  MCU_CONVERT :=
endif
ifeq ($(MCU_STATIC),0)
  MCU_NAME := $(MCU_NAME)_heap
endif
MCU_ELF  := $(MCU_DIR)/$(MCU_NAME).elf
MCU_FLV  := $(MCU_DIR)/$(MCU_NAME)
MCU_FW_OBJ := $(MCU_FLV)/main.o $(MCU_FLV)/startup.o $(MCU_FLV)/semihost.o $(MCU_FLV)/fmt.o \
              $(MCU_FLV)/blobs.o

# The host side: the library, the CLI (xcnn convert) and tools/mcu/prep.c,
# plain gcc, no OpenMP, the firmware's library settings and portable
# kernels (so xcnn_model_plan plans what the M4 will run).
MCU_HOST_CC     ?= $(CC)
MCU_HOST_CFLAGS := -O2 -std=c11 -Wall -Wextra -Werror -Wno-unknown-pragmas \
                   -DXCNN_SMALL -DXCNN_FLOAT_ACCUM -DXCNN_NO_SIMD \
                   -D_POSIX_C_SOURCE=200809L -MMD -MP
MCU_HOST_OBJ    := $(LIB_SRC:%.c=$(MCU_DIR)/host/obj/%.o)
MCU_HOST_CLI    := $(CLI_SRC:%.c=$(MCU_DIR)/host/obj/%.o)
MCU_PREP        := $(MCU_DIR)/host/mcu_prep
MCU_XCNN        := $(MCU_DIR)/host/xcnn

# The library's M4 objects are rebuilt when their flags change too (an
# object built with other settings would plan another buffer size).
$(MCU_DIR)/lib_flags.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo "$(MCU_FW_CFLAGS)" | cmp -s - $@ || echo "$(MCU_FW_CFLAGS)" >$@

$(MCU_DIR)/obj/%.o: %.c $(MCU_DIR)/lib_flags.stamp
	@mkdir -p $(dir $@)
	$(MCU_CC) $(MCU_FW_CFLAGS) -c $< -o $@

$(MCU_LIB): $(MCU_LIB_OBJ)
	rm -f $@
	arm-none-eabi-ar rcs $@ $^

$(MCU_DIR)/host/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(MCU_HOST_CC) $(MCU_HOST_CFLAGS) -c $< -o $@

$(MCU_PREP): $(MCU_DIR)/host/obj/tools/mcu/prep.o $(MCU_HOST_OBJ)
	$(MCU_HOST_CC) $^ -o $@ -lm -pthread

$(MCU_XCNN): $(MCU_HOST_CLI) $(MCU_HOST_OBJ)
	$(MCU_HOST_CC) $^ -o $@ -lm -pthread

# What the firmware links: the .xcnn image (used in place from flash), or
# the ONNX bytes themselves for MCU_STATIC=0.
ifeq ($(MCU_STATIC),0)
  MCU_BLOB := $(MCU_MODEL)
  MCU_PLAN :=
else
  MCU_BLOB := $(MCU_FLV)/model.xcnn
  MCU_PLAN := $(MCU_BLOB) $(MCU_EXPLAIN)
endif
$(MCU_FLV)/model.xcnn: $(MCU_MODEL) $(MCU_XCNN)
	@mkdir -p $(dir $@)
	$(MCU_XCNN) convert $(MCU_MODEL) $@ $(MCU_CONVERT) >/dev/null

# The input, preprocessed by the host. Remade whenever IMAGE or the model
# changes (the stamp records which image it was made from).
MCU_IN := $(MCU_FLV)/input
$(MCU_IN).stamp: FORCE
	@mkdir -p $(dir $@)
	@echo "$(abspath $(IMAGE)) $(abspath $(MCU_MODEL))" | cmp -s - $@ || \
	  echo "$(abspath $(IMAGE)) $(abspath $(MCU_MODEL))" >$@
$(MCU_IN).raw $(MCU_IN).npy $(MCU_FLV)/mcu_input.h: $(MCU_IN).stamp $(MCU_PREP) $(MCU_MODEL) \
    $(IMAGE) $(filter %.xcnn,$(MCU_BLOB))
	$(MCU_PREP) $(MCU_MODEL) $(IMAGE) $(MCU_IN) $(MCU_PLAN)
	cp $(MCU_IN).h $(MCU_FLV)/mcu_input.h

# The firmware's own objects are rebuilt when their flags change
# (MCU_DEFS=-DMCU_VERBOSE also prints the parts of ram_bytes).
$(MCU_FLV)/flags.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo "$(MCU_FW_CFLAGS) $(MCU_STATIC)" | cmp -s - $@ || echo "$(MCU_FW_CFLAGS) $(MCU_STATIC)" >$@

$(MCU_FLV)/%.o: tools/mcu/%.c $(MCU_FLV)/mcu_input.h $(MCU_FLV)/flags.stamp
	$(MCU_CC) $(MCU_FW_CFLAGS) -DMCU_EXPLAIN=$(MCU_EXPLAIN) -DMCU_STATIC=$(MCU_STATIC) \
	  -I$(MCU_FLV) -c $< -o $@

$(MCU_FLV)/blobs.o: tools/mcu/blobs.S $(MCU_IN).raw $(MCU_BLOB)
	$(MCU_CC) $(MCU_ARCH) -DMCU_MODEL_PATH='"$(abspath $(MCU_BLOB))"' \
	  -DMCU_IMAGE_PATH='"$(abspath $(MCU_IN).raw)"' -c $< -o $@

$(MCU_ELF): $(MCU_FW_OBJ) $(MCU_LIB) tools/mcu/link.ld
	$(MCU_CC) $(MCU_LDFLAGS) -T tools/mcu/link.ld -Wl,-Map=$(MCU_FLV).map \
	  $(MCU_FW_OBJ) $(MCU_LIB) -lm -o $@

# flash = text + data (.blobs, the model and the image, are in text);
# static RAM = data + bss (the model's buffer is in bss)
mcu: $(MCU_ELF)
	$(MCU_SIZE) $(MCU_ELF)

mcu-run: $(MCU_ELF)
	@timeout $(MCU_TIMEOUT) $(MCU_QEMU) -M mps2-an386 -nographic -monitor none -serial none \
	  -chardev stdio,id=mcu_out -semihosting-config enable=on,target=native,chardev=mcu_out \
	  -kernel $(MCU_ELF)

FORCE:
.PHONY: mcu mcu-run FORCE
-include $(MCU_LIB_OBJ:.o=.d) $(MCU_HOST_OBJ:.o=.d) $(MCU_HOST_CLI:.o=.d) $(MCU_FW_OBJ:.o=.d)
