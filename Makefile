# SPDX-License-Identifier: GPL-2.0-only
#
# penstock: build, deps, test, bench, demo, install.
#   make            build BPF objects, skeletons, penstockd and penstock
#   make deps       install the Debian packages everything here needs
#   make test       deps + build + every test; ends with "N passed, N failed"
#   make test-fast  the same for the fast part: unit, datapath, fuzz corpus, CLI, daemon
#   make bench      deps + build + benchmarks
#   make demo       deps + build + the demo in network namespaces
#   make install    binaries, unit, example config, man pages, completion (PREFIX, DESTDIR)
#   make deb        the Debian package in .output/deb, checked by lintian
#   make fuzz       build the libFuzzer targets and run each for FUZZ_SECONDS
#   make SANITIZE=1 the same with ASan and UBSan, in .output-san (make test SANITIZE=1)
#   make V=1        show the commands
.DELETE_ON_ERROR:

# SANITIZE=1: user space built with AddressSanitizer (leaks included) and
# UndefinedBehaviorSanitizer, any finding fatal, in an output directory of
# its own so that the plain build stays as it is. Built by clang, whose
# runtime writes both sanitizers' reports where ASAN_OPTIONS and
# UBSAN_OPTIONS say (tests/run collects them; gcc's separate libubsan
# writes to stderr whatever its log_path), as the fuzz targets are.
SANITIZE  ?=
ifeq ($(SANITIZE),1)
OUTPUT    := .output-san
ifeq ($(origin CC),default)
CC        := clang
endif
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
OUTPUT    := .output
SAN_FLAGS :=
endif
CLANG     ?= clang
BPFTOOL   ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
CC        ?= gcc
PREFIX    ?= /usr/local
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

INCLUDES  := -Iinclude -Iuserspace -I$(OUTPUT)
WARN      := -Wall -Wextra -Werror -Wshadow -Wimplicit-fallthrough
CFLAGS    ?= -O2 -g
CFLAGS    += $(WARN) $(INCLUDES) -D_GNU_SOURCE $(SAN_FLAGS)
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -Wno-unused-function -Iinclude -I/usr/include/$(MULTIARCH)
# What each binary links: penstock has no libcurl, thread or libsystemd
# (ldd .output/penstock); libnl only for penstock doctor.
LIBBPF_LIBS := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
LDLIBS    := $(LIBBPF_LIBS) -lyaml -ljansson -lm
ZLIB_LIBS := $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
CURSES_LIBS := $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw -ltinfo)
# libnl-route: the daemon's shaping qdiscs and classes (userspace/enforce/shape.c).
NL_CFLAGS := $(shell pkg-config --cflags libnl-3.0 2>/dev/null || echo -I/usr/include/libnl3)
NL_LIBS   := $(shell pkg-config --libs libnl-route-3.0 2>/dev/null || echo -lnl-route-3 -lnl-3)
# libnl-genl: penstock doctor asks the netdev family for a driver's XDP features.
GENL_LIBS := $(shell pkg-config --libs libnl-genl-3.0 2>/dev/null || echo -lnl-genl-3 -lnl-3)
# libcurl and a thread: the alerts' webhook sender (userspace/alerts/webhook.c).
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl) -lpthread
CAP_LIBS  := $(shell pkg-config --libs libcap 2>/dev/null || echo -lcap)
# libmicrohttpd: penstockd's /metrics server (userspace/metrics/metrics.c).
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS  := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

VERSION   := $(shell sed -n 's/^\#define PS_VERSION[[:space:]]*"\(.*\)"/\1/p' userspace/daemon/daemon.h)
# Man pages: man/*.in with their reference parts from the binaries' own
# tables (tools/man.sh): penstock's commands and their --help, penstockd
# --help, the config loader's key rows.
MAN_PAGES := $(OUTPUT)/man/penstock.8 $(OUTPUT)/man/penstockd.8 $(OUTPUT)/man/penstock.yaml.5
# Bash completion of both commands, from the same tables (penstock completion bash).
COMPLETION := $(OUTPUT)/completion/penstock
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

BPF_SRCS  := bpf/ingress.bpf.c bpf/egress.bpf.c bpf/xdp.bpf.c
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
BPF_HDRS  := $(wildcard bpf/lib/*.h) include/penstock_abi.h Makefile

# User space, by folder (docs/architecture.md): what each binary links.
US        := userspace
COMMON_SRCS  := $(addprefix $(US)/common/,log.c units.c clock.c files.c config.c config_keys.c \
		hpack_huffman.c datapath.c protocol.c report.c keyid.c netdev.c) $(US)/fleet/url.c
COUNT_SRCS   := $(addprefix $(US)/count/,clients.c tick.c keyaddrs.c)
COUNTD_SRCS   := $(addprefix $(US)/count/,state.c flows.c)
DETECT_SRCS  := $(addprefix $(US)/policy/,detect.c detect_bg.c detectors.c prefix.c escalate.c stats.c \
		keys.c tokflow.c)
POLICY_SRCS  := $(US)/policy/policy.c $(US)/policy/limits.c $(DETECT_SRCS)
ENFORCE_SRCS := $(US)/enforce/enforce.c $(US)/enforce/manual.c
SHAPE_SRCS   := $(US)/enforce/shape.c
ALERT_SRCS   := $(US)/alerts/alert.c
# The sinks' sender thread drops its capabilities (common/caps.c, libcap).
SINKS_SRCS   := $(addprefix $(US)/alerts/,sinks.c jsonl.c spool.c webhook.c) $(US)/common/caps.c
# The fleet's counters in Redis (hiredis, on penstockd's loop): the daemon's alone.
FLEET_SRCS   := $(addprefix $(US)/fleet/,fleet.c redis_ev.c keys.c limits.c share.c cluster.c)
DAEMON_SRCS  := $(addprefix $(US)/daemon/,main.c setup.c loop.c control.c handlers.c \
		handlers_status.c handlers_enforce.c attach.c adopt.c scrape.c)
# The Prometheus text and its HTTP server (penstockd only).
METRICS_SRCS := $(addprefix $(US)/metrics/,expo.c metrics.c)
CLI_SRCS     := $(addprefix $(US)/cli/,main.c opts.c ctl.c format.c cmd_daemon.c cmd_enforce.c \
		cmd_alerts.c cmd_keyid.c cmd_doctor.c cmd_config_keys.c cmd_completion.c top.c replay.c replay_capture.c)

# penstock replay runs the tick, the policy and enforcement on the capture's
# clock: the CLI shares them, not the state file, the alert sinks or shaping.
PENSTOCK_SRCS  := $(CLI_SRCS) $(POLICY_SRCS) $(ENFORCE_SRCS) $(COUNT_SRCS) $(ALERT_SRCS) \
		  $(COMMON_SRCS)
PENSTOCKD_SRCS := $(DAEMON_SRCS) $(METRICS_SRCS) $(FLEET_SRCS) $(POLICY_SRCS) $(ENFORCE_SRCS) $(SHAPE_SRCS) $(COUNT_SRCS) \
		  $(COUNTD_SRCS) $(ALERT_SRCS) $(SINKS_SRCS) $(COMMON_SRCS)
US_HDRS   := $(wildcard $(US)/*/*.h) $(wildcard include/*.h)
obj       = $(patsubst $(US)/%.c,$(OUTPUT)/obj/%.o,$(1))

# Unit tests mirror userspace/: tests/unit/FOLDER/test_NAME.c -> .output/tests/unit_NAME.
UNIT_SRCS  := $(wildcard tests/unit/*/test_*.c)
UNIT_TESTS := $(patsubst test_%.c,$(OUTPUT)/tests/unit_%,$(notdir $(UNIT_SRCS)))
vpath test_%.c $(sort $(dir $(UNIT_SRCS)))
# The datapath's decisions through the live programs (BPF_PROG_TEST_RUN).
DATAPATH_TESTS := $(patsubst tests/datapath/test_%.c,$(OUTPUT)/tests/datapath_%,\
		  $(wildcard tests/datapath/test_*.c))

.PHONY: all
all: $(OUTPUT)/penstock $(OUTPUT)/penstockd $(OUTPUT)/bench_min.bpf.o \
	$(OUTPUT)/bench_stage.bpf.o $(OUTPUT)/ps_bench \
	$(OUTPUT)/ps_bench_fill $(OUTPUT)/ps_flood $(OUTPUT)/ps_load $(OUTPUT)/tests/alerts_driver \
	$(OUTPUT)/tests/other_abi.bpf.o $(OUTPUT)/tests/foreign.bpf.o \
	$(UNIT_TESTS) $(DATAPATH_TESTS) $(OUTPUT)/tests/fuzz_datapath $(MAN_PAGES) \
	$(COMPLETION)

$(OUTPUT) $(OUTPUT)/tests:
	$(Q)mkdir -p $@

# One BPF object per attach point, statically linked into one datapath
# object so that both programs share every map.
$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/penstock.bpf.o: $(BPF_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(OUTPUT)/penstock.skel.h: $(OUTPUT)/penstock.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name penstock_bpf > $@

# The benchmark's yardsticks: a minimal program that only increments one
# per-CPU counter, and the floor of a per-connection counter.
$(OUTPUT)/bench_min.bpf.o: tools/bench_min.bpf.c bpf/lib/parse.h bpf/lib/common.h \
		include/penstock_abi.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The ingress path stopped after each stage (ps_bench's breakdown of a
# request start): bpf/ingress.bpf.c itself, with a program of its own.
$(OUTPUT)/bench_stage.bpf.o: tools/bench_stage.bpf.c bpf/ingress.bpf.c $(BPF_HDRS) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# Another tool's tc and XDP programs, for tests/e2e/test_doctor.
$(OUTPUT)/tests/foreign.bpf.o: tests/lib/foreign.bpf.c | $(OUTPUT)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# A datapath of another ABI, for tests/e2e/test_adopt.
$(OUTPUT)/tests/other_abi.bpf.o: tests/lib/other_abi.bpf.c include/penstock_abi.h | $(OUTPUT)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/obj/%.o: $(US)/%.c $(US_HDRS) $(OUTPUT)/penstock.skel.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(call obj,$(SHAPE_SRCS)): CFLAGS += $(NL_CFLAGS)
$(call obj,$(US)/metrics/metrics.c): CFLAGS += $(MHD_CFLAGS)
$(call obj,$(US)/cli/cmd_doctor.c): CFLAGS += $(NL_CFLAGS)

$(OUTPUT)/penstock: $(call obj,$(PENSTOCK_SRCS))
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -lpcap $(CURSES_LIBS) $(NL_LIBS) $(GENL_LIBS) \
		$(CAP_LIBS) -o $@

$(OUTPUT)/penstockd: $(call obj,$(PENSTOCKD_SRCS))
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) $(ZLIB_LIBS) $(NL_LIBS) $(CURL_LIBS) $(CAP_LIBS) \
		$(MHD_LIBS) -lsystemd -lhiredis -o $@

$(OUTPUT)/man/%: man/%.in tools/man.sh $(OUTPUT)/penstock $(OUTPUT)/penstockd
	$(call msg,MAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)tools/man.sh $(OUTPUT) $< $@ $(VERSION)

$(COMPLETION): $(OUTPUT)/penstock
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(OUTPUT)/penstock completion bash > $@

# The benchmark driver: the datapath through the loader, beside bench_min.
$(OUTPUT)/ps_bench: tools/bench.c tools/csum.h $(call obj,$(COMMON_SRCS) $(ENFORCE_SRCS)) \
		   $(OUTPUT)/penstock.skel.h | $(OUTPUT)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(filter-out %.h,$^) $(LDLIBS) -lpcap -o $@

# The tick benchmark's client load (fills a running daemon's pinned map).
$(OUTPUT)/ps_bench_fill: tools/bench_fill.c include/penstock_abi.h | $(OUTPUT)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $< -lbpf -lelf -lz -o $@

# The flood test's generator: spoofed TCP from a client namespace (AF_PACKET).
$(OUTPUT)/ps_flood: tools/flood.c tools/csum.h | $(OUTPUT)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

# make bench-peers' HTTP load from thousands of client addresses.
$(OUTPUT)/ps_load: tools/loadgen.c | $(OUTPUT)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

$(OUTPUT)/tests/unit_%: test_%.c tests/unit/check.h \
		$(call obj,$(COUNT_SRCS) $(COUNTD_SRCS) $(COMMON_SRCS)) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $(filter-out %.h,$^) $(LDLIBS) $(ZLIB_LIBS) -o $@

$(OUTPUT)/tests/datapath_%: tests/datapath/test_%.c $(wildcard tests/datapath/*.h) tests/unit/check.h \
		$(call obj,$(US)/count/flows.c $(US)/enforce/enforce.c $(COMMON_SRCS)) \
		$(OUTPUT)/penstock.skel.h | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $(filter-out %.h,$^) $(LDLIBS) -o $@

# test_h2resp compresses answers with brotli (libbrotlienc).
$(OUTPUT)/tests/datapath_h2resp: LDLIBS += -lbrotlienc

# Random and mutated packets through the programs (tests/datapath/test_fuzz).
$(OUTPUT)/tests/fuzz_datapath: tests/datapath/fuzz_datapath.c tests/datapath/fuzz_corpus.c \
		tests/datapath/fuzz_corpus.h tests/unit/check.h \
		$(call obj,$(COMMON_SRCS)) $(OUTPUT)/penstock.skel.h | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $(filter-out %.h,$^) $(LDLIBS) $(ZLIB_LIBS) -lpcap -o $@

# The fleet's key layout and bucket arithmetic.
$(OUTPUT)/tests/unit_fleet: $(call obj,$(US)/fleet/keys.c)

# The detectors' unit test links the detector.
$(OUTPUT)/tests/unit_detect: $(call obj,$(DETECT_SRCS) $(ALERT_SRCS))

# The CLI's options unit test links the options parser.
$(OUTPUT)/tests/unit_opts: $(call obj,$(US)/cli/opts.c $(US)/cli/format.c)

# The alert sinks' unit test and the webhook test's driver link the sinks.
$(OUTPUT)/tests/unit_alerts: $(call obj,$(ALERT_SRCS) $(SINKS_SRCS))
$(OUTPUT)/tests/unit_alerts: LDLIBS += $(CURL_LIBS) $(CAP_LIBS)

$(OUTPUT)/tests/alerts_driver: tests/lib/alerts_driver.c \
		$(call obj,$(ALERT_SRCS) $(SINKS_SRCS) $(COMMON_SRCS)) \
		| $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) $(CURL_LIBS) $(CAP_LIBS) -o $@

# libFuzzer targets (tests/fuzz/fuzz_*.c), whatever SANITIZE says: the
# code each reaches is compiled again by clang with coverage, ASan and
# UBSan into $(OUTPUT)/fuzz/obj. make fuzz runs each for FUZZ_SECONDS;
# tests/fuzz/test_corpus runs each over its corpus (tests/fuzz/corpus/).
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
		-fno-sanitize-recover=undefined $(WARN) $(INCLUDES) -D_GNU_SOURCE
FUZZ_SECONDS ?= 60
fuzz_obj      = $(patsubst $(US)/%.c,$(OUTPUT)/fuzz/obj/%.o,$(1))

$(OUTPUT)/fuzz/obj/%.o: $(US)/%.c $(US_HDRS) $(OUTPUT)/penstock.skel.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(call fuzz_obj,$(SHAPE_SRCS)): FUZZ_CFLAGS += $(NL_CFLAGS)
$(call fuzz_obj,$(US)/metrics/metrics.c): FUZZ_CFLAGS += $(MHD_CFLAGS)

# The config loader; penstockd's control server and handlers (all of it
# but main, which libFuzzer's is); replay's capture reader.
$(OUTPUT)/fuzz/fuzz_config: $(call fuzz_obj,$(COMMON_SRCS))
$(OUTPUT)/fuzz/fuzz_control: $(call fuzz_obj,$(filter-out $(US)/daemon/main.c,$(PENSTOCKD_SRCS)))
$(OUTPUT)/fuzz/fuzz_control: FUZZ_LIBS := $(ZLIB_LIBS) $(NL_LIBS) $(CURL_LIBS) $(CAP_LIBS) $(MHD_LIBS) \
		-lsystemd -lhiredis
$(OUTPUT)/fuzz/fuzz_capture: $(call fuzz_obj,$(US)/cli/replay_capture.c $(COMMON_SRCS))
$(OUTPUT)/fuzz/fuzz_capture: FUZZ_LIBS := -lpcap

$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(US_HDRS)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(filter-out %.h,$^) $(LDLIBS) $(FUZZ_LIBS) -o $@

.PHONY: fuzz-targets
fuzz-targets: $(FUZZ_TARGETS)

.PHONY: fuzz
fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-targets
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) tools/fuzz.sh $(OUTPUT)/fuzz

.PHONY: deps
deps:
	$(Q)tools/install-deps.sh

.PHONY: test
test: deps
	$(Q)$(MAKE) --no-print-directory all fuzz-targets
	$(Q)PS_BIN=$(CURDIR)/$(OUTPUT) tests/run

# The fast part of the suite, in about two minutes (more under SANITIZE=1):
# the unit, datapath and fuzz corpus tests, and the CLI and the daemon end
# to end. .ci/run runs it with SANITIZE=1 after make test.
FAST_TESTS := unit_ datapath tests/fuzz/ e2e/test_cli e2e/test_daemon

.PHONY: test-fast
test-fast: deps
	$(Q)$(MAKE) --no-print-directory all fuzz-targets
	$(Q)PS_BIN=$(CURDIR)/$(OUTPUT) tests/run $(FAST_TESTS)

.PHONY: bench
bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/bench.sh

.PHONY: bench-peers
bench-peers: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/bench_peers.sh

# One TCP stream's bulk upload (iperf3, a POST's body, a chunked body)
# through penstock against nothing on the path: tools/bench_upload.sh.
.PHONY: bench-upload
bench-upload: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/bench_upload.sh

.PHONY: demo
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo.sh

# What an installation holds (make install, the Debian package): the
# binaries, the datapath's BPF object (for bpftool; the binaries embed
# it), the example configuration (kept if one is there), the systemd unit
# with this PREFIX's paths, the man pages, the completion, the docs.
UNITDIR ?= /etc/systemd/system
PACKAGE_FILES := $(OUTPUT)/penstock $(OUTPUT)/penstockd $(OUTPUT)/penstock.bpf.o $(MAN_PAGES) \
		 $(COMPLETION)

.PHONY: package-files
package-files: $(PACKAGE_FILES)

.PHONY: install install-package
install: all install-package
install-package: $(PACKAGE_FILES)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/penstock \
		$(DESTDIR)$(PREFIX)/lib/penstock
	install -m 0755 $(OUTPUT)/penstockd $(DESTDIR)$(PREFIX)/sbin/penstockd
	install -m 0755 $(OUTPUT)/penstock $(DESTDIR)$(PREFIX)/bin/penstock
	install -m 0644 $(OUTPUT)/penstock.bpf.o $(DESTDIR)$(PREFIX)/lib/penstock/penstock.bpf.o
	test -e $(DESTDIR)/etc/penstock/penstock.yaml || \
		install -m 0644 etc/penstock.yaml $(DESTDIR)/etc/penstock/penstock.yaml
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/share/doc/penstock
	sed 's|/usr/local|$(PREFIX)|g' etc/penstockd.service > $(DESTDIR)$(UNITDIR)/penstockd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/penstockd.service
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/penstock/
	install -d $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 0644 $(OUTPUT)/man/penstock.8 $(OUTPUT)/man/penstockd.8 \
		$(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 $(OUTPUT)/man/penstock.yaml.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 $(COMPLETION) $(DESTDIR)$(BASHCOMPDIR)/penstock
	ln -sf penstock $(DESTDIR)$(BASHCOMPDIR)/penstockd

# The Debian package, built by debhelper (debian/) from a copy of the
# worktree's files in $(OUTPUT)/deb, then checked by lintian:
# $(OUTPUT)/deb/penstock_$(VERSION)_<arch>.deb.
DEB_DIR := $(OUTPUT)/deb
.PHONY: deb
deb:
	$(Q)rm -rf $(DEB_DIR)
	$(Q)mkdir -p $(DEB_DIR)/penstock-$(VERSION)
	$(Q)git ls-files -z -co --exclude-standard | \
		xargs -0 cp -P --parents -t $(DEB_DIR)/penstock-$(VERSION)
	$(Q)cd $(DEB_DIR)/penstock-$(VERSION) && dpkg-buildpackage -b -us -uc
	$(Q)mkdir -p $(DEB_DIR)/tmp
	$(Q)TMPDIR=$(abspath $(DEB_DIR))/tmp lintian --fail-on error,warning --info \
		$(DEB_DIR)/penstock_$(VERSION)_*.deb
	$(Q)rm -rf $(DEB_DIR)/tmp
	$(Q)ls $(DEB_DIR)/penstock_$(VERSION)_*.deb

.PHONY: clean
clean:
	$(call msg,CLEAN,.output .output-san)
	$(Q)rm -rf .output .output-san
