# Lessons for students: tools/learn/NN_name.c, each a program that shows one
# idea and checks its numbers against libxcnn. Included by the top-level
# Makefile after it has set CC, CFLAGS, LDFLAGS, LDLIBS, BUILD and LIB (the
# end of the file is a good place); it uses its rule $(BUILD)/obj/%.o: %.c.
#   make learn    build the lessons and run them in order
#   LEARN_BIN     the lesson programs ($(BUILD)/learn/NN_name), for `make test`

LEARN_SRC := $(sort $(wildcard tools/learn/[0-9][0-9]_*.c))
LEARN_BIN := $(LEARN_SRC:tools/learn/%.c=$(BUILD)/learn/%)

# Whatever its place in the Makefile, this file leaves the default goal
# as it was (an empty .DEFAULT_GOAL means "the next target defined").
learn_saved_goal := $(.DEFAULT_GOAL)

$(BUILD)/learn/%: $(BUILD)/obj/tools/learn/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# `make tests` (and so `make test`) builds the lessons too; `make test`
# runs them through tests/test_learn.sh, one of its tests/test_*.sh.
tests: $(LEARN_BIN)

learn: $(LEARN_BIN)
	@sh tools/learn/run.sh $(LEARN_BIN)

.PHONY: learn
-include $(LEARN_BIN:$(BUILD)/learn/%=$(BUILD)/obj/tools/learn/%.d)
.DEFAULT_GOAL := $(learn_saved_goal)
