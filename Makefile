# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# memtrace: BPF objects -> linked object -> skeleton; user objects -> ./memtrace.
# Every build product lives in .output/; ./memtrace is a link to it.

OUTPUT    := .output
CLANG     ?= clang
CC        ?= cc
BPFTOOL   ?= bpftool
LLVM_STRIP ?= llvm-strip
PYTHON    ?= python3
ARCH      := $(shell uname -m | sed 's/x86_64/x86/' | sed 's/aarch64/arm64/')

VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
VMLINUX_FALLBACK := vmlinux/$(ARCH)/vmlinux.h

PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
MANDIR    ?= $(PREFIX)/share/man
UNITDIR   ?= $(PREFIX)/lib/systemd/system
# the git description the binary was built from (--version); "unknown" outside git
MT_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

CFLAGS    ?= -O2 -g
WARN      := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
USER_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -MMD -MP \
	       -Iinclude -Iuser -I$(OUTPUT) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS    := -lbpf -lelf -ldw -ldebuginfod -lz -lm -lncursesw -lmicrohttpd -lcurl
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -I$(OUTPUT) -Iinclude -Ibpf -MMD -MP

# maps.bpf.c (every map and setting) links first: bpftool 7.1's linker
# leaves a map defined by a later object than its extern users at offset 0
# of .maps, and the skeleton then fails to open
BPF_SRCS  := bpf/maps.bpf.c $(filter-out bpf/maps.bpf.c,$(wildcard bpf/*.bpf.c))
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(BPF_SRCS))
USER_SRCS := $(wildcard user/*.c user/*/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
# The unit tests link everything that builds and links without the BPF
# skeleton (so without clang and bpftool): not main(), not the loader (the
# skeleton's only includer), not the session layer (it calls the loader)
# but its pure parts: the target table and the lifecycle decisions.
SESSION_PURE := $(OUTPUT)/user/session/targets.o $(OUTPUT)/user/session/lifecycle.o
SKEL_OBJS := $(OUTPUT)/user/main.o $(OUTPUT)/user/kernel/loader.o \
	     $(OUTPUT)/user/commands.o $(OUTPUT)/user/daemon/daemon.o \
	     $(filter-out $(SESSION_PURE),$(filter $(OUTPUT)/user/session/%,$(USER_OBJS)))
LIB_OBJS  := $(filter-out $(SKEL_OBJS),$(USER_OBJS))
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/unit/%.o,$(UNIT_SRCS))
TARGET_SRCS := $(wildcard tests/targets/*.c)
TARGETS   := $(patsubst tests/targets/%.c,$(OUTPUT)/targets/%,$(TARGET_SRCS))

ifeq ($(V),1)
	Q =
	msg =
else
	Q = @
	msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all clean test layers unit fuzz fuzz-corpus fuzzers e2e e2e-sanitize targets bench deps \
	demo format sanitize check-format install uninstall check-install version FORCE
all: memtrace

# a half-written file from a failed recipe must not look up to date
.DELETE_ON_ERROR:
# keep intermediate BPF objects and the skeleton for inspection
.SECONDARY:

$(OUTPUT) $(OUTPUT)/bpf $(OUTPUT)/tests/unit $(OUTPUT)/targets:
	$(Q)mkdir -p $@

# vmlinux.h: from the running kernel's BTF when possible, else the checked-in copy
$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)if [ -r $(VMLINUX_BTF) ] && $(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp 2>/dev/null; \
	then mv $@.tmp $@; else rm -f $@.tmp; cp $(VMLINUX_FALLBACK) $@; fi

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c $(OUTPUT)/vmlinux.h | $(OUTPUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(OUTPUT)/memtrace.bpf.o: $(BPF_OBJS)
	$(call msg,LINK-BPF,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(OUTPUT)/memtrace.skel.h: $(OUTPUT)/memtrace.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name memtrace_bpf > $@

# opts.o carries the version: rebuilt when the description changes, not at every make
$(OUTPUT)/version: FORCE | $(OUTPUT)
	$(Q)echo '$(MT_VERSION)' | cmp -s - $@ || echo '$(MT_VERSION)' > $@
$(OUTPUT)/user/opts.o: $(OUTPUT)/version
$(OUTPUT)/user/opts.o: USER_CFLAGS += -DMT_VERSION='"$(MT_VERSION)"'

# the flame graph's script, kept readable in its own file, embedded as bytes
$(OUTPUT)/output/flame_js.gen.h: user/output/flame.js
	$(Q)mkdir -p $(@D)
	$(call msg,GEN,$@)
	$(Q){ echo 'static const unsigned char flame_js[] = {'; xxd -i < $<; echo '};'; } > $@
$(OUTPUT)/user/output/out_html.o: $(OUTPUT)/output/flame_js.gen.h

# only the loader includes the skeleton
$(OUTPUT)/user/kernel/loader.o: $(OUTPUT)/memtrace.skel.h

$(OUTPUT)/user/%.o: user/%.c
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -c $< -o $@

$(OUTPUT)/memtrace: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(EXTRA_LDFLAGS) $^ $(LDLIBS) -o $@

memtrace: $(OUTPUT)/memtrace
	$(Q)ln -sf $< $@

# make install [PREFIX=/usr/local] [DESTDIR=staging]: the binary, its man page and the
# daemon's systemd unit (its ExecStart names SBINDIR)
install: $(OUTPUT)/memtrace
	$(call msg,INSTALL,$(DESTDIR)$(SBINDIR)/memtrace $(DESTDIR)$(MANDIR)/man8/memtrace.8 $(DESTDIR)$(UNITDIR)/memtrace.service)
	$(Q)install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	$(Q)install -m 0755 $(OUTPUT)/memtrace $(DESTDIR)$(SBINDIR)/memtrace
	$(Q)install -m 0644 user/memtrace.8 $(DESTDIR)$(MANDIR)/man8/memtrace.8
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g' user/daemon/memtrace.service > $(OUTPUT)/memtrace.service
	$(Q)install -m 0644 $(OUTPUT)/memtrace.service $(DESTDIR)$(UNITDIR)/memtrace.service

uninstall:
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/memtrace $(DESTDIR)$(MANDIR)/man8/memtrace.8 \
		$(DESTDIR)$(UNITDIR)/memtrace.service

version:
	@echo '$(MT_VERSION)'

# ---- tests ----------------------------------------------------------------
$(OUTPUT)/tests/unit/%.o: tests/unit/%.c | $(OUTPUT)/tests/unit
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -Itests/unit -c $< -o $@

$(OUTPUT)/unit-tests: $(UNIT_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(EXTRA_LDFLAGS) $^ $(LDLIBS) -o $@

# test targets: known allocations at known lines; frame pointers, no
# allocator builtins so every call really reaches libc
TARGET_CFLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer -fno-builtin -pthread -Wall -Werror
$(OUTPUT)/targets/%: tests/targets/%.c | $(OUTPUT)/targets
	$(call msg,CC,$@)
	$(Q)$(CC) $(TARGET_CFLAGS) $< -o $@ -ldl

# a static program: its allocator is in the executable
$(OUTPUT)/targets/static_leak: tests/targets/static_leak.c | $(OUTPUT)/targets
	$(call msg,CC,$@)
	$(Q)$(CC) $(TARGET_CFLAGS) -static $< -o $@

# C++ targets (-O2 -g, as a program is built) and the allocator variants:
# linked with jemalloc (tcmalloc comes by LD_PRELOAD in the tests)
CXX ?= g++
CXX_TARGET_FLAGS := -std=gnu++17 -O2 -g -fno-omit-frame-pointer -Wall -Werror
CXX_TARGETS := $(OUTPUT)/targets/leak_cxx $(OUTPUT)/targets/leak_cxx_je $(OUTPUT)/targets/leak_wrap_je \
	       $(OUTPUT)/targets/leak_wrap_jes $(OUTPUT)/targets/leak_jex
$(OUTPUT)/targets/leak_cxx: tests/targets/cxx/leak_cxx.cc | $(OUTPUT)/targets
	$(call msg,CXX,$@)
	$(Q)$(CXX) $(CXX_TARGET_FLAGS) $< -o $@
$(OUTPUT)/targets/leak_cxx_je: tests/targets/cxx/leak_cxx.cc | $(OUTPUT)/targets
	$(call msg,CXX,$@)
	$(Q)$(CXX) $(CXX_TARGET_FLAGS) $< -o $@ -ljemalloc
$(OUTPUT)/targets/leak_wrap_je: tests/targets/leak_wrap.c | $(OUTPUT)/targets
	$(call msg,CC,$@)
	$(Q)$(CC) $(TARGET_CFLAGS) $< -o $@ -ljemalloc
# jemalloc's extended API
$(OUTPUT)/targets/leak_jex: tests/targets/leak_jex.c | $(OUTPUT)/targets
	$(call msg,CC,$@)
	$(Q)$(CC) $(TARGET_CFLAGS) $< -o $@ -ljemalloc
# jemalloc linked into the executable itself (its malloc is the executable's)
$(OUTPUT)/targets/leak_wrap_jes: tests/targets/leak_wrap.c | $(OUTPUT)/targets
	$(call msg,CC,$@)
	$(Q)$(CC) $(TARGET_CFLAGS) $< -o $@ -Wl,-Bstatic -ljemalloc_pic -Wl,-Bdynamic -lstdc++ -lm -ldl


# the CFI unwinder's target: optimised, no frame pointers; and the same
# source with frame pointers, whose stacks must be the same
UNWIND_CFLAGS := -std=gnu11 -O2 -g -fno-builtin -Wall -Werror
$(OUTPUT)/targets/unwind_deep: tests/targets/unwind_deep.c | $(OUTPUT)/targets
	$(call msg,CC,$@)
	$(Q)$(CC) $(UNWIND_CFLAGS) -fomit-frame-pointer $< -o $@
$(OUTPUT)/targets/unwind_deep_fp: tests/targets/unwind_deep.c | $(OUTPUT)/targets
	$(call msg,CC,$@)
	$(Q)$(CC) $(UNWIND_CFLAGS) -fno-omit-frame-pointer $< -o $@

targets: $(TARGETS) $(CXX_TARGETS) $(OUTPUT)/targets/unwind_deep_fp

unit: $(OUTPUT)/unit-tests
	$(Q)$(OUTPUT)/unit-tests

# every end-to-end runner runs; the target fails if any failed
E2E_RUNNERS := tests/e2e/run.py tests/e2e/lifecycle.py tests/e2e/container.py tests/e2e/python.py \
	       tests/e2e/outputs_pprof.py tests/e2e/outputs_html.py tests/e2e/live.py \
	       tests/e2e/hostile.py tests/e2e/symbols.py tests/e2e/alloc.py tests/e2e/unwind.py \
	       tests/e2e/growth.py tests/e2e/daemon.py
e2e: memtrace targets $(OUTPUT)/demo/leaky
	$(Q)rc=0; for r in $(E2E_RUNNERS); do $(PYTHON) $$r || rc=1; done; exit $$rc

# make install into a scratch DESTDIR; the man page renders without a
# warning and has every option and example of --help; --version is the git
# description
check-install: memtrace
	$(Q)$(PYTHON) tests/check_install.py

# The end-to-end runners against memtrace itself built with ASan+UBSan
# (.output-asan; LeakSanitizer at every exit): a sanitizer report (each
# goes to a file in .output-asan/logs) fails it, as a failed case does.
SAN_FLAGS := EXTRA_CFLAGS='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
	     EXTRA_LDFLAGS='-fsanitize=address,undefined'
E2E_SAN_RUNNERS ?= tests/e2e/hostile.py tests/e2e/lifecycle.py tests/e2e/run.py
e2e-sanitize: targets $(OUTPUT)/demo/leaky
	$(Q)$(MAKE) --no-print-directory OUTPUT=.output-asan $(SAN_FLAGS) .output-asan/memtrace
	$(Q)rm -rf .output-asan/logs && mkdir -p .output-asan/logs
	$(Q)rc=0; for r in $(E2E_SAN_RUNNERS); do \
		MEMTRACE=.output-asan/memtrace ASAN_OPTIONS=log_path=$(CURDIR)/.output-asan/logs/asan \
		UBSAN_OPTIONS=print_stacktrace=1:log_path=$(CURDIR)/.output-asan/logs/ubsan \
		$(PYTHON) $$r || rc=1; done; \
	if [ -n "$$(ls .output-asan/logs)" ]; then head -n 40 .output-asan/logs/*; \
		echo "e2e-sanitize: sanitizer reports above"; rc=1; fi; exit $$rc

# headers point one way (the README's layout section)
layers:
	$(Q)$(PYTHON) tests/check_layers.py

# The whole suite: the include rule, unit tests (no root), again under
# ASan+UBSan, the fuzzers over their corpus, the installation, then
# end-to-end tests (root, real BPF).
test: layers unit sanitize fuzz-corpus check-install e2e

# Unit tests under ASan + UBSan (separate build directory).
sanitize:
	$(Q)LSAN_OPTIONS=suppressions=$(CURDIR)/tests/unit/lsan.supp \
		$(MAKE) --no-print-directory OUTPUT=.output-san \
		EXTRA_CFLAGS='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
		EXTRA_LDFLAGS='-fsanitize=address,undefined' unit

# ---- fuzzing -------------------------------------------------------------
# libFuzzer targets for the parsers fed by what a target controls (its maps
# lines, its ELF files, its code bytes, its Python line tables) and for the
# command line's numbers. Built with clang in their own tree (.output-fuzz),
# the code under test instrumented too.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS   := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(FUZZ_SRCS))
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 60
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_ENV  := LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp

$(OUTPUT)/fuzz/%: tests/fuzz/%.c $(LIB_OBJS)
	$(Q)mkdir -p $(@D)
	$(call msg,FUZZER,$@)
	$(Q)$(CC) $(USER_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) $(filter %.c %.o,$^) $(LDLIBS) -o $@

fuzzers: $(FUZZERS)

FUZZ_MAKE = $(MAKE) --no-print-directory OUTPUT=.output-fuzz CC=$(CLANG) \
	EXTRA_CFLAGS='-fsanitize=fuzzer-no-link $(FUZZ_SAN) -Wno-unused-command-line-argument' fuzzers

# Each fuzzer over its checked-in corpus, then a few seconds of new inputs
# (make test).
fuzz-corpus:
	$(Q)$(FUZZ_MAKE)
	$(Q)for n in $(FUZZ_NAMES); do f=.output-fuzz/fuzz/fuzz_$$n; \
		$(FUZZ_ENV) $$f -runs=0 tests/fuzz/corpus/$$n >/dev/null 2>&1 || { echo "fuzz $$n: corpus FAILED"; $(FUZZ_ENV) $$f -runs=0 tests/fuzz/corpus/$$n 2>&1 | tail -20; exit 1; }; \
		d=$$(mktemp -d); cp tests/fuzz/corpus/$$n/* $$d/; \
		$(FUZZ_ENV) $$f -max_total_time=3 -timeout=10 $$d >/dev/null 2>&1 || { echo "fuzz $$n: FAILED (crash input in ./crash-*)"; rm -rf $$d; exit 1; }; \
		rm -rf $$d; echo "ok   fuzz_$$n"; done

# FUZZ_SECONDS of fuzzing per target; new inputs go to .output-fuzz/corpus
fuzz:
	$(Q)$(FUZZ_MAKE)
	$(Q)for n in $(FUZZ_NAMES); do f=.output-fuzz/fuzz/fuzz_$$n; d=.output-fuzz/corpus/$$n; \
		mkdir -p $$d; $(FUZZ_ENV) $$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 $$d tests/fuzz/corpus/$$n || exit 1; done

# benchmark workloads: allocator calls must reach libc
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUTPUT)/bench/%,$(BENCH_SRCS))
$(OUTPUT)/bench/%: tests/bench/%.c
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) -std=gnu11 -O2 -g -fno-omit-frame-pointer -fno-builtin-malloc -fno-builtin-free \
		-pthread -Wall -Werror $< -o $@

# the same workload without frame pointers: the CFI unwinder's bench rows
$(OUTPUT)/bench/churn-nofp: tests/bench/churn.c
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) -std=gnu11 -O2 -g -fomit-frame-pointer -fno-builtin-malloc -fno-builtin-free \
		-pthread -Wall -Werror $< -o $@

bench: memtrace $(BENCH_BINS) $(OUTPUT)/bench/churn-nofp $(OUTPUT)/unit-tests \
       $(OUTPUT)/targets/daemon_leak
	$(Q)$(PYTHON) tests/bench/run.py

deps:
	$(Q)./tests/install-deps.sh

$(OUTPUT)/demo/leaky: tests/demo/leaky.c
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(TARGET_CFLAGS) $< -o $@

# the bundled demo: a leaky service traced from its first instruction
demo: memtrace $(OUTPUT)/demo/leaky
	$(Q)./memtrace --interval 1 --top 5 -- $(OUTPUT)/demo/leaky 4

format:
	$(Q)clang-format -i bpf/*.c bpf/*.h $(USER_SRCS) $(wildcard user/*.h user/*/*.h) include/*.h tests/unit/*.c tests/unit/*.h

check-format:
	$(Q)clang-format --dry-run --Werror bpf/*.c bpf/*.h $(USER_SRCS) $(wildcard user/*.h user/*/*.h) include/*.h

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) .output-san .output-fuzz .output-asan memtrace

-include $(wildcard $(OUTPUT)/fuzz/*.d $(OUTPUT)/user/*.d $(OUTPUT)/user/*/*.d $(OUTPUT)/bpf/*.d $(OUTPUT)/tests/unit/*.d)
