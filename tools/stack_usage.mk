# make stack-usage: the stack every library function needs, from gcc's
# -fstack-usage (frames) and -fcallgraph-info=su (gcc >= 12: who calls
# whom), for two builds:
#   host  the default build (-O3, OpenMP) in build-su/
#   mcu   the Cortex-M4 small build (XCNN_SMALL, XCNN_FLOAT_ACCUM, newlib-
#         nano) in build-mcu-su/, when arm-none-eabi-gcc is installed
# tools/stack_usage.py prints the largest frames and the deepest chains
# of direct calls (calls through function pointers, OpenMP regions and
# libc are not followed: see there).
SU_BUILD     ?= build-su
SU_MCU_BUILD ?= build-mcu-su
SU_TOP       ?= 12
MCU_CC       ?= arm-none-eabi-gcc
MCU_CFLAGS   := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 \
                -ffunction-sections -fdata-sections -DXCNN_SMALL -DXCNN_FLOAT_ACCUM -DXCNN_OWN_FORMAT \
                -D_POSIX_C_SOURCE=200809L -std=c11 -ffp-contract=off --specs=nano.specs \
                -Wall -Wextra -Werror -Wno-unknown-pragmas -fstack-usage -fcallgraph-info=su
# Files that need an operating system (files renamed into place, fsync,
# lstat, clock_gettime): not part of a device build. (model.c's file
# loader calls fileno: it compiles, and links only where the C library
# has it.)
MCU_SKIP     := libxcnn/io/atomic_file.c
MCU_SRC      := $(filter-out $(MCU_SKIP),$(LIB_SRC))
MCU_OBJ      := $(MCU_SRC:%.c=$(SU_MCU_BUILD)/obj/%.o)

$(SU_MCU_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(MCU_CC) $(MCU_CFLAGS) -c $< -o $@

$(SU_MCU_BUILD)/libxcnn.a: $(MCU_OBJ)
	rm -f $@
	arm-none-eabi-ar rcs $@ $^

stack-usage:
	env CFLAGS="-O3 -fstack-usage -fcallgraph-info=su" $(MAKE) --no-print-directory \
	  BUILD=$(SU_BUILD) $(SU_BUILD)/libxcnn.a >/dev/null
	python3 tools/stack_usage.py "host (-O3, OpenMP)" $(SU_BUILD)/obj $(SU_TOP)
	@if command -v $(MCU_CC) >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(SU_MCU_BUILD)/libxcnn.a >/dev/null && \
	  python3 tools/stack_usage.py "cortex-m4 (XCNN_SMALL, XCNN_FLOAT_ACCUM)" \
	    $(SU_MCU_BUILD)/obj $(SU_TOP); \
	else echo "$(MCU_CC) not found: no Cortex-M4 figures"; fi

.PHONY: stack-usage
