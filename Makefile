# SPDX-License-Identifier: BSD-2-Clause
# faultline: build by pattern rules, libbpf-tools style.
#   .bpf.c -> .bpf.o -> .skel.h -> .o -> binary, everything under build/.
# Quiet by default; `make V=1` prints full commands.

OUTPUT ?= build
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH ?= x86
VMLINUX := vmlinux/$(ARCH)/vmlinux.h

CC ?= cc
CFLAGS ?= -g -O2
CFLAGS += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter
# -Iagent is for the agent's own objects and the tests of its parsers only:
# gatectl, lib/ and the tools see include/ and lib/
INCLUDES := -Iinclude -Ilib -I$(OUTPUT)
AGENT_INCLUDES := $(INCLUDES) -Iagent
GATE_INCLUDES := $(INCLUDES) -Igate -I/usr/include/libxml2 -I/usr/include/graphviz	# gate/ files include "query/edges.h" etc.
LDLIBS_AGENT := -lbpf -lelf -lz -lsqlite3 -ljansson -lnghttp2 -lmicrohttpd -lpthread -lm
LDLIBS_GATE := -lxml2 -lsqlite3 -ljansson -lnftables -lcurl -lgvc -lcgraph -lcdt -lm

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIB_SRCS := $(wildcard lib/*.c)
# operation naming and character classes: what the parsers take from lib/
NAMING_SRCS := lib/chars.c lib/opname_http.c lib/opname_sql.c
PARSER_SRCS := $(wildcard agent/proto_*.c)
AGENT_SRCS := $(filter-out $(PARSER_SRCS),$(wildcard agent/*.c))
GATE_SRCS := $(wildcard gate/*.c gate/*/*.c)
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

LIB_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(LIB_SRCS))
PARSER_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(PARSER_SRCS))
AGENT_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(AGENT_SRCS))
GATE_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(GATE_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_AGENT_SRCS := agent/procnet.c	# agent parts unit-tested beside the parsers
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
ASAN_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/asan/%,$(UNIT_SRCS))
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all clean vmlinux deps test unit unit-asan integration demo demo-small

# helper programs of the integration suites (tests/integration/*.c)
# C peers of the integration suites (mysql.sh builds myprep itself, against libmariadb)
IT_BINS := $(patsubst tests/integration/%.c,$(OUTPUT)/tests/it/%,$(filter-out tests/integration/myprep.c,$(wildcard tests/integration/*.c)))

all: $(OUTPUT)/faultline-agent $(OUTPUT)/gatectl $(IT_BINS)

deps:
	$(Q)./tools/install-deps.sh

# BPF: CO-RE object, then a libbpf skeleton
$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX) $(wildcard include/faultline/*.h) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -Ivmlinux/$(ARCH) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# userspace objects (the agent's need the skeletons)
$(OUTPUT)/agent/%.o: agent/%.c $(BPF_SKELS) $(wildcard agent/*.h lib/*.h include/faultline/*.h)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(AGENT_INCLUDES) -c $< -o $@

$(OUTPUT)/gate/%.o: gate/%.c $(wildcard lib/*.h gate/*.h gate/*/*.h)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(GATE_INCLUDES) -c $< -o $@

$(OUTPUT)/%.o: %.c $(wildcard lib/*.h)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

# The skeletons must exist before any agent object: without this, on a
# fresh checkout make may pick the generic %.o rule, which does not make them.
$(AGENT_OBJS): $(BPF_SKELS)

$(OUTPUT)/faultline-agent: $(AGENT_OBJS) $(PARSER_OBJS) $(LIB_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS_AGENT) -o $@

# gatectl: its own objects and lib/ (operation naming included); no parser,
# no libnghttp2, no agent header
$(OUTPUT)/gatectl: $(GATE_OBJS) $(LIB_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS_GATE) -o $@

$(OUTPUT):
	$(Q)mkdir -p $@

# vmlinux.h is committed; only this target regenerates it
vmlinux:
	$(Q)mkdir -p vmlinux/$(ARCH)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX)

$(OUTPUT)/tests/it/%: tests/integration/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< -o $@

# unit tests: parsers and lib, plain and under ASan+UBSan
# a unit test of an agent module beyond the parsers names its sources here
UNIT_EXTRA_test_routes := agent/aggregate.c agent/metrics.c agent/footprint.c
UNIT_LIBS_test_routes := -lmicrohttpd -lpthread
$(OUTPUT)/tests/test_routes $(OUTPUT)/asan/test_routes: agent/aggregate.c agent/aggregate.h agent/agent.h agent/metrics.c agent/metrics.h agent/footprint.c agent/footprint.h
UNIT_EXTRA_test_footprint := agent/aggregate.c agent/metrics.c agent/footprint.c
UNIT_LIBS_test_footprint := -lmicrohttpd -lpthread
$(OUTPUT)/tests/test_footprint $(OUTPUT)/asan/test_footprint: agent/aggregate.c agent/aggregate.h agent/agent.h agent/metrics.c agent/metrics.h agent/footprint.c agent/footprint.h
UNIT_EXTRA_test_netns := agent/netns.c
UNIT_LIBS_test_netns := -lbpf
$(OUTPUT)/tests/test_netns $(OUTPUT)/asan/test_netns: agent/netns.c agent/netns.h
UNIT_EXTRA_test_control := agent/control.c agent/footprint.c
$(OUTPUT)/tests/test_control $(OUTPUT)/asan/test_control: agent/control.c agent/control.h agent/footprint.c agent/footprint.h
UNIT_EXTRA_test_metrics := agent/metrics.c agent/aggregate.c agent/footprint.c
UNIT_EXTRA_test_k8s := agent/k8s.c
$(OUTPUT)/tests/test_k8s $(OUTPUT)/asan/test_k8s: agent/k8s.c agent/k8s.h
UNIT_LIBS_test_metrics := -lmicrohttpd -lpthread
$(OUTPUT)/tests/test_metrics $(OUTPUT)/asan/test_metrics: agent/metrics.c agent/metrics.h agent/agent.h agent/aggregate.c agent/aggregate.h
# the judge's statistics are pure C beside gatectl (gate/judge/stats.c)
UNIT_EXTRA_test_judge := -Igate gate/judge/stats.c
# identity.c: names from an exec's environment
UNIT_EXTRA_test_execenv := agent/identity.c agent/k8s.c
UNIT_LIBS_test_execenv := -ljansson
$(OUTPUT)/tests/test_judge $(OUTPUT)/asan/test_judge: gate/judge/stats.c gate/judge/stats.h
UNIT_EXTRA_test_backlog := agent/aggregate.c agent/metrics.c agent/footprint.c
UNIT_LIBS_test_backlog := -lmicrohttpd -lpthread
$(OUTPUT)/tests/test_backlog $(OUTPUT)/asan/test_backlog: agent/aggregate.c agent/aggregate.h agent/agent.h agent/metrics.c agent/metrics.h

$(OUTPUT)/tests/%: tests/unit/%.c $(PARSER_SRCS) $(LIB_SRCS) $(UNIT_AGENT_SRCS) $(wildcard tests/unit/*.h) $(wildcard agent/proto*.h agent/procnet.h lib/*.h)
	$(call msg,TEST-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(AGENT_INCLUDES) -Itests/unit $< $(UNIT_EXTRA_$*) $(PARSER_SRCS) $(LIB_SRCS) $(UNIT_AGENT_SRCS) -lsqlite3 -ljansson -lnghttp2 -lm $(UNIT_LIBS_$*) -o $@

$(OUTPUT)/asan/%: tests/unit/%.c $(PARSER_SRCS) $(LIB_SRCS) $(UNIT_AGENT_SRCS) $(wildcard tests/unit/*.h) $(wildcard agent/proto*.h agent/procnet.h lib/*.h)
	$(call msg,ASAN-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -g -O1 $(SAN_FLAGS) $(filter-out -O2,$(CFLAGS)) $(AGENT_INCLUDES) -Itests/unit $< $(UNIT_EXTRA_$*) $(PARSER_SRCS) $(LIB_SRCS) $(UNIT_AGENT_SRCS) -lsqlite3 -ljansson -lnghttp2 -lm $(UNIT_LIBS_$*) -o $@

unit: $(UNIT_BINS)
	$(Q)./tests/run-unit.sh $(UNIT_BINS)

unit-asan: $(ASAN_BINS)
	$(Q)./tests/run-unit.sh $(ASAN_BINS)

integration: all
	$(Q)./tests/integration/run.sh

# libFuzzer targets (tests/fuzz/, clang only): `make fuzz` fuzzes each one
# FUZZ_SECONDS on its committed corpus, `make fuzz-smoke` only replays the
# corpus. FUZZ_STRICT=1 also fails on known, reported parser bugs.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_DIR := $(OUTPUT)/fuzz$(if $(filter 1,$(FUZZ_STRICT)),-strict)
FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	$(if $(filter 1,$(FUZZ_STRICT)),-DFZ_STRICT)

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(PARSER_SRCS) $(NAMING_SRCS) $(wildcard agent/proto*.h lib/chars.h lib/opname.h)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_FLAGS) $(filter-out -O% -g,$(CFLAGS)) $(AGENT_INCLUDES) $(FUZZ_INC_$*) -Itests/fuzz $< $(PARSER_SRCS) $(NAMING_SRCS) $(FUZZ_EXTRA_$*) -lnghttp2 $(FUZZ_LIBS_$*) -o $@

# targets beyond the parsers: their sources and libraries
FUZZ_EXTRA_services := agent/identity.c agent/procnet.c agent/k8s.c
FUZZ_LIBS_services := -ljansson
FUZZ_EXTRA_stack := lib/stack.c
FUZZ_LIBS_stack := -ljansson
FUZZ_GATE_SRCS := $(wildcard gate/*/*.c) $(filter-out $(NAMING_SRCS),$(LIB_SRCS))
FUZZ_CLANG_QUIET := -Wno-unknown-warning-option -Wno-string-concatenation
FUZZ_INC_otlp := $(filter-out -Iinclude -Ilib -I$(OUTPUT),$(GATE_INCLUDES)) $(FUZZ_CLANG_QUIET)
FUZZ_EXTRA_otlp := $(FUZZ_GATE_SRCS)
FUZZ_LIBS_otlp := $(LDLIBS_GATE)
FUZZ_INC_openapi := $(FUZZ_INC_otlp)
FUZZ_EXTRA_openapi := $(FUZZ_GATE_SRCS)
FUZZ_LIBS_openapi := $(LDLIBS_GATE)
FUZZ_EXTRA_control := agent/control.c agent/footprint.c $(filter-out $(NAMING_SRCS),$(LIB_SRCS))
FUZZ_INC_control := $(FUZZ_CLANG_QUIET)
FUZZ_LIBS_control := -lsqlite3 -ljansson -lm
$(FUZZ_DIR)/fuzz_services $(FUZZ_DIR)/fuzz_stack $(FUZZ_DIR)/fuzz_otlp $(FUZZ_DIR)/fuzz_openapi \
$(FUZZ_DIR)/fuzz_control: $(wildcard agent/*.c agent/*.h lib/*.c lib/*.h gate/*/*.c gate/*/*.h tests/fuzz/*.h)

.PHONY: fuzz fuzz-smoke
fuzz: $(FUZZ_BINS)
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/fuzz/run.sh fuzz $(FUZZ_BINS)

fuzz-smoke: $(FUZZ_BINS)
	$(Q)./tests/fuzz/run.sh smoke $(FUZZ_BINS)

# The one command that runs every test on a fresh machine.
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./tests/run-all.sh

# The demo is the estate (tools/estate/demo.sh: 16 services, production
# traffic, the agent's graph checked exactly); demo-small is the original
# four-service shop (tools/demo/run-demo.sh).
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./tools/estate/demo.sh

demo-small: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./tools/demo/run-demo.sh

# Benchmarks (bench/README.md): not tests, and never run by `make test`.
BENCH_TOOLS := $(OUTPUT)/tools/bench/connhold $(OUTPUT)/tools/bench/gengraph \
	$(OUTPUT)/tools/bench/genweek $(OUTPUT)/tools/bench/floor
.PHONY: bench bench-tools

$(OUTPUT)/tools/bench/%: tools/bench/%.c $(LIB_OBJS) $(wildcard lib/*.h)
	$(call msg,BINARY,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $< $(LIB_OBJS) -lsqlite3 -ljansson -lm -o $@

# the floor section's loader: BPF, not the store
$(OUTPUT)/tools/bench/floor: tools/bench/floor.c $(OUTPUT)/floor.skel.h
	$(call msg,BINARY,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $< -lbpf -lelf -lz -o $@

bench-tools: $(BENCH_TOOLS)

# print-VAR: a variable's value, for scripts that build with the same flags
# (tests/alloc/run.sh)
print-%:
	@echo $($*)

# The soak (bench/soak.sh): SOAK_SECONDS (default 300) of the estate's
# traffic plus redis-benchmark/pgbench bursts, sampled and plotted into
# bench/results/soak-*.{tsv,png,txt}. Holds the host lock throughout.
.PHONY: soak
soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./bench/soak.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all bench-tools
	$(Q)./bench/run.sh

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT)

# ---- install ------------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=/staging]; make uninstall with the
# same values. Configuration files under SYSCONFDIR are installed only where
# absent and removed only while unchanged. docs/deploy.md.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/faultline
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
INSTALL ?= install
MAN_PAGES := $(OUTPUT)/man/faultline-agent.8 $(OUTPUT)/man/gatectl.1
DEPLOY_DOCS := docs/metrics.md docs/agent.md docs/gatectl.md docs/store.md docs/deploy.md
K8S_FILES := $(wildcard tools/deploy/kubernetes/*)
.PHONY: install uninstall man

# man pages from the binaries' own --help (tools/mkman.py): one source
$(OUTPUT)/man/faultline-agent.8: $(OUTPUT)/faultline-agent tools/mkman.py
	$(call msg,MAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)./tools/mkman.py faultline-agent 8 $< > $@
$(OUTPUT)/man/gatectl.1: $(OUTPUT)/gatectl tools/mkman.py
	$(call msg,MAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)./tools/mkman.py gatectl 1 $< --subcommands > $@
man: $(MAN_PAGES)

$(OUTPUT)/deploy/faultline-agent.service $(OUTPUT)/deploy/faultline-agent.default: $(OUTPUT)/deploy/%: tools/deploy/systemd/faultline-agent.service.in tools/deploy/config/faultline-agent.default
	$(Q)mkdir -p $(@D)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		$(if $(filter %.service,$@),tools/deploy/systemd/faultline-agent.service.in,tools/deploy/config/faultline-agent.default) > $@
.PHONY: $(OUTPUT)/deploy/faultline-agent.service $(OUTPUT)/deploy/faultline-agent.default

install: $(OUTPUT)/faultline-agent $(OUTPUT)/gatectl $(MAN_PAGES) $(OUTPUT)/deploy/faultline-agent.service $(OUTPUT)/deploy/faultline-agent.default
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(DOCDIR)/kubernetes $(DESTDIR)$(SYSCONFDIR)/default $(DESTDIR)$(SYSCONFDIR)/faultline
	$(Q)$(INSTALL) -m 0755 $(OUTPUT)/faultline-agent $(DESTDIR)$(SBINDIR)/faultline-agent
	$(Q)$(INSTALL) -m 0755 $(OUTPUT)/gatectl $(DESTDIR)$(BINDIR)/gatectl
	$(Q)$(INSTALL) -m 0644 $(OUTPUT)/man/faultline-agent.8 $(DESTDIR)$(MANDIR)/man8/faultline-agent.8
	$(Q)$(INSTALL) -m 0644 $(OUTPUT)/man/gatectl.1 $(DESTDIR)$(MANDIR)/man1/gatectl.1
	$(Q)$(INSTALL) -m 0644 $(OUTPUT)/deploy/faultline-agent.service $(DESTDIR)$(UNITDIR)/faultline-agent.service
	$(Q)$(INSTALL) -m 0644 $(OUTPUT)/deploy/faultline-agent.default $(DESTDIR)$(DOCDIR)/examples/faultline-agent.default
	$(Q)$(INSTALL) -m 0644 tools/deploy/config/services.json $(DESTDIR)$(DOCDIR)/examples/services.json
	$(Q)$(INSTALL) -m 0644 $(DEPLOY_DOCS) $(DESTDIR)$(DOCDIR)/
	$(Q)$(INSTALL) -m 0644 $(K8S_FILES) $(DESTDIR)$(DOCDIR)/kubernetes/
	$(Q)[ -e $(DESTDIR)$(SYSCONFDIR)/default/faultline-agent ] || \
		$(INSTALL) -m 0644 $(OUTPUT)/deploy/faultline-agent.default $(DESTDIR)$(SYSCONFDIR)/default/faultline-agent
	$(Q)[ -e $(DESTDIR)$(SYSCONFDIR)/faultline/services.json ] || \
		$(INSTALL) -m 0644 tools/deploy/config/services.json $(DESTDIR)$(SYSCONFDIR)/faultline/services.json

uninstall: $(OUTPUT)/deploy/faultline-agent.default
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/faultline-agent $(DESTDIR)$(BINDIR)/gatectl \
		$(DESTDIR)$(MANDIR)/man8/faultline-agent.8 $(DESTDIR)$(MANDIR)/man1/gatectl.1 \
		$(DESTDIR)$(UNITDIR)/faultline-agent.service
	$(Q)rm -rf $(DESTDIR)$(DOCDIR)
	$(Q)! cmp -s $(OUTPUT)/deploy/faultline-agent.default $(DESTDIR)$(SYSCONFDIR)/default/faultline-agent || \
		rm -f $(DESTDIR)$(SYSCONFDIR)/default/faultline-agent
	$(Q)! cmp -s tools/deploy/config/services.json $(DESTDIR)$(SYSCONFDIR)/faultline/services.json || \
		rm -f $(DESTDIR)$(SYSCONFDIR)/faultline/services.json
	$(Q)rmdir $(DESTDIR)$(SYSCONFDIR)/faultline 2>/dev/null || true
