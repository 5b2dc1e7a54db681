# snaprotate: one non-recursive Makefile.
#   make            build ./snaprotate
#   make check      install test dependencies, build, run unit and system tests
#   make demo       the main job on a throwaway loop-device btrfs
#   make deps       install the Debian packages the build and the tests need
#   make deb        build the Debian package (build/deb/*.deb)
#   make rescue     the self-contained rescue bundle (build/rescue/)
#   make install    DESTDIR, PREFIX honoured (binary, example config, units, hooks,
#                   man pages, completion)

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
MANDIR ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# Where pacman and dnf look: the admin's hook directory, and dnf's own plugin path.
ALPMHOOKDIR ?= $(SYSCONFDIR)/pacman.d/hooks
DNFPLUGINDIR ?= $(shell $(PYTHON) -c 'import dnf.const; print(dnf.const.PLUGINPATH)' 2>/dev/null || \
		  echo $(PREFIX)/lib/python3/dist-packages/dnf-plugins)
INITRAMFSHOOKDIR ?= $(SYSCONFDIR)/initramfs-tools/hooks
# The package managers whose hooks are installed (a .deb ships apt's only).
INSTALL_HOOKS ?= apt pacman dnf
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := mount json-c libbtrfsutil inih liburing

CFLAGS ?= -O2 -g
# The project's own flags stay even when CFLAGS is given on the command line.
ALL_CFLAGS = $(CPPFLAGS) $(CFLAGS) -std=c17 -D_GNU_SOURCE -Iinclude -Wall -Wextra -Wshadow -Wformat=2 -Werror \
	  -Wno-format-nonliteral -fno-strict-aliasing -MMD -MP
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

# The layers, from the foundations up; each may use the ones above it only.
BASE_SRCS := \
	src/base/err.c \
	src/base/debug.c \
	src/base/fault.c \
	src/base/util.c

MODEL_SRCS := \
	src/model/stamp.c \
	src/model/snapshot.c \
	src/model/policy.c \
	src/model/config.c \
	src/model/config_keys.c \
	src/model/config_value.c \
	src/model/config_format.c \
	src/model/pkg.c

FORMAT_SRCS := \
	src/format/jsontext.c \
	src/format/meta.c \
	src/format/blockstream.c \
	src/format/blockstream_apply.c \
	src/format/crc32c.c \
	src/format/sendcheck.c \
	src/format/sendcheck_paths.c

OS_SRCS := \
	src/os/lock.c \
	src/os/readmany.c \
	src/os/process.c \
	src/os/hooks.c \
	src/os/freeze.c \
	src/os/mounts.c \
	src/os/sysroot.c

BACKEND_SRCS := \
	src/backends/backend.c \
	src/backends/btrfs.c \
	src/backends/btrfs_list.c \
	src/backends/btrfs_send.c \
	src/backends/btrfs_restore.c \
	src/backends/btrfs_rollback.c \
	src/backends/btrfs_rescue.c \
	src/backends/lvm_lib.c \
	src/backends/lvm.c \
	src/backends/lvm_send.c \
	src/backends/lvm_rescue.c \
	src/backends/lvmthin.c \
	src/backends/lvmthin_delta.c \
	src/backends/btrfs_receive.c \
	src/backends/store.c \
	src/backends/store_btrfs.c \
	src/backends/store_block.c

POLICY_SRCS := \
	src/policy/retention.c \
	src/policy/replication.c \
	src/policy/freshness.c

TRANSPORT_SRCS := \
	src/transport/send.c \
	src/transport/proto.c \
	src/transport/target.c \
	src/transport/serve.c

ENGINE_SRCS := \
	src/engine/report.c \
	src/engine/rotate.c \
	src/engine/run.c \
	src/engine/runstate.c \
	src/engine/replicate.c \
	src/engine/rollback.c \
	src/engine/restore.c \
	src/engine/engine.c \
	src/engine/snapshots.c \
	src/engine/status.c \
	src/engine/pkg.c

CLI_SRCS := \
	src/cli/cli.c \
	src/cli/output.c \
	src/cli/volumes.c \
	src/cli/report.c \
	src/cli/snapshot.c \
	src/cli/list.c \
	src/cli/delete.c \
	src/cli/configcheck.c \
	src/cli/send.c \
	src/cli/prune.c \
	src/cli/rollback.c \
	src/cli/status.c \
	src/cli/check.c \
	src/cli/pkg.c

SRCS := $(BASE_SRCS) $(MODEL_SRCS) $(FORMAT_SRCS) $(OS_SRCS) $(BACKEND_SRCS) $(POLICY_SRCS) \
	$(TRANSPORT_SRCS) $(ENGINE_SRCS) $(CLI_SRCS)
LIB_OBJS := $(patsubst src/%.c,build/%.o,$(SRCS))
OBJS := $(LIB_OBJS) build/cli/main.o

UNIT_TESTS := test-stamp test-config test-snapshot test-jsontext test-retention test-year \
	test-blockstream test-sendcheck test-replication test-engine test-pkg \
	test-freshness
UNIT_BINS := $(addprefix build/tests/,$(UNIT_TESTS))

PYTHON ?= /usr/bin/python3

all: snaprotate

snaprotate: $(OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(PKG_LIBS) -ldl -pthread

build/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB_OBJS) $(PKG_LIBS) -ldl -pthread -lcmocka

# The engine's tests run over an in-memory backend (tests/unit/fake-backend.c).
build/tests/test-engine: tests/unit/test-engine.c tests/unit/fake-backend.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(PKG_CFLAGS) -o $@ $< tests/unit/fake-backend.c $(LIB_OBJS) \
		$(PKG_LIBS) -ldl -pthread -lcmocka

TOOLS := build/tests/freeze-tool build/tests/blockstream-tool build/tests/receive-tool

build/tests/freeze-tool: tests/tools/freeze-tool.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB_OBJS) $(PKG_LIBS) -ldl -pthread

build/tests/receive-tool: tests/tools/receive-tool.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB_OBJS) $(PKG_LIBS) -ldl -pthread

build/tests/blockstream-tool: tests/tools/blockstream-tool.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB_OBJS) $(PKG_LIBS) -ldl -pthread

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

check: deps
	$(MAKE) all unit fuzz-replay $(TOOLS) faults
	$(MAKE) lint
	$(MAKE) fuzz FUZZ_LIMIT="$(CHECK_FUZZ_LIMIT)"
	$(PYTHON) -m pytest -v tests/system
	$(MAKE) check-valgrind
	$(MAKE) check-asan

# --- the crash tests' binary: named fault points compiled in (include/base/fault.h) ---
FAULT_OBJS := $(patsubst src/%.c,build/faults/obj/%.o,$(SRCS) src/cli/main.c)

build/faults/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DSNAPROTATE_FAULTS $(PKG_CFLAGS) -c -o $@ $<

build/faults/snaprotate: $(FAULT_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(FAULT_OBJS) $(PKG_LIBS) -ldl -pthread

faults: build/faults/snaprotate

# --- valgrind memcheck over system tests, the binary under tests/valgrind/snaprotate ---
# The files that cover most of the code for their time under valgrind (92% of the
# lines the host suite reaches, in some 4 minutes); VALGRIND_TESTS=tests/system for all.
VALGRIND_TESTS ?= $(addprefix tests/system/,test_serve_convert.py test_symlinks.py \
	test_serve_block.py test_messages.py test_rollback.py test_restore.py test_rescue.py \
	test_pkg.py test_freeze.py test_config.py test_serve_defects.py test_check.py)
# What cannot run under it: a binary copied into a chroot or bundle (the wrapper is a
# script), a kill at each syscall (4,649 under valgrind, not 227), LVM (in the VM),
# the fault build, a serve found by its command line.
VALGRIND_DESELECT := test_messages.py::test_in_a_chroot_whose_root_is_not_a_mount_point \
	test_rescue.py::test_the_rescue_bundle_in_a_busybox_chroot \
	test_rescue.py::test_the_initramfs_hook_copies_what_the_bundle_would \
	test_rollback.py::test_kill_at_every_step test_crash.py test_pkg_apt.py test_pkg_dnf.py \
	test_pkg_pacman.py test_lvm.py test_lvm_blocksend.py test_lvm_faults.py test_faults.py \
	test_rollback_symlinks.py test_rotation.py::test_months_of_runs_match_the_model \
	"test_send.py::test_cut_transfer[kill-serve]" \
	test_send.py::test_a_failed_send_says_so_and_names_the_volume
VG_RUN := /var/tmp/snaprotate-tools/valgrind-run

check-valgrind: deps all $(TOOLS)
	@rm -rf $(VG_RUN) && mkdir -p -m 755 $(VG_RUN)/bin && mkdir -m 1777 $(VG_RUN)/logs
	install -m 755 snaprotate $(VG_RUN)/bin/snaprotate
	install -m 644 tests/valgrind/snaprotate.supp $(VG_RUN)/snaprotate.supp
	SNAPROTATE=$(CURDIR)/tests/valgrind/snaprotate VG_ROOT=$(CURDIR) VALGRIND_BUILD=1 \
		$(PYTHON) -m pytest -q $(VALGRIND_TESTS) \
		$(addprefix --deselect tests/system/,$(VALGRIND_DESELECT))
	tests/valgrind/check $(VG_RUN)/logs

# --- static analysis: make lint, clean in CI ---
SHELL_SCRIPTS := hooks/consistency/fsfreeze hooks/consistency/mysql hooks/consistency/postgresql \
	scripts/demo.sh scripts/deps.sh scripts/rescue.sh pkg/initramfs-tools/snaprotate \
	tests/valgrind/snaprotate tests/valgrind/check \
	pkg/dracut/95snaprotate/module-setup.sh pkg/bash-completion/snaprotate
TIDY_SRCS ?= $(SRCS)

lint:
	shellcheck -x $(SHELL_SCRIPTS)
	cppcheck -q --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
		-D_GNU_SOURCE -Iinclude --inline-suppr --suppressions-list=.cppcheck-suppressions \
		--template='{file}:{line}: {severity}: {id}: {message}' src
	@set -e; for f in $(TIDY_SRCS); do clang-tidy -quiet $$f -- -std=c17 -D_GNU_SOURCE \
		-Iinclude $(PKG_CFLAGS); done

# --- fuzzing: libFuzzer harnesses of every parser of others' input (tests/fuzz/) ---
FUZZ_HARNESSES := config names info sendcheck blockstream thindelta serve
# Seconds per harness for `make fuzz`. `make check` runs each for a fixed number of
# inputs from a fixed seed: briefly, and the same inputs each time, so that a red CI
# is a change's doing, not chance's.
FUZZ_TIME ?= 600
FUZZ_LIMIT ?= -max_total_time=$(FUZZ_TIME)
CHECK_FUZZ_LIMIT ?= -runs=50000 -seed=1
FUZZ_CC ?= clang
FUZZ_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
FUZZ_OBJS := $(patsubst src/%.c,build/fuzz/obj/%.o,$(SRCS))
FUZZ_BINS := $(addprefix build/fuzz/fuzz-,$(FUZZ_HARNESSES))
REPLAY_BINS := $(addprefix build/tests/replay-,$(FUZZ_HARNESSES))

build/fuzz/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(ALL_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<

build/fuzz/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz-util.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(ALL_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer -DSNAPROTATE_LIBFUZZER -Itests/fuzz \
		$(PKG_CFLAGS) -o $@ \
		$< tests/fuzz/fuzz-util.c $(FUZZ_OBJS) $(PKG_LIBS) -ldl -pthread

# Each harness for FUZZ_TIME seconds from its seeds; a crash stops here, its input in
# build/fuzz/crashes/ (copy it into tests/fuzz/regress/HARNESS/ once fixed).
fuzz: $(FUZZ_BINS)
	@set -e; mkdir -p build/fuzz/crashes; for h in $(FUZZ_HARNESSES); do \
		mkdir -p build/fuzz/corpus/$$h; rm -f build/fuzz/crashes/$$h-*; \
		echo "== fuzz-$$h, $(FUZZ_LIMIT)"; \
		build/fuzz/fuzz-$$h $(FUZZ_LIMIT) -timeout=20 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=build/fuzz/crashes/$$h- \
			build/fuzz/corpus/$$h tests/fuzz/corpus/$$h 2>&1 | \
			grep -E '^(stat::|#[0-9]+ +DONE|==[0-9]+==|SUMMARY|INFO: (Seed|Loaded))|ERROR' || true; \
		test -z "$$(ls build/fuzz/crashes/ | grep "^$$h-")" || \
			{ echo "fuzz-$$h: crash, see build/fuzz/crashes/"; exit 1; }; \
	done

# The same harnesses without libFuzzer: the seeds and every input that ever crashed one.
build/tests/replay-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz-util.c tests/fuzz/replay.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(PKG_CFLAGS) -Itests/fuzz -o $@ $< tests/fuzz/fuzz-util.c \
		tests/fuzz/replay.c $(LIB_OBJS) $(PKG_LIBS) -ldl -pthread

fuzz-replay: $(REPLAY_BINS)
	@set -e; for h in $(FUZZ_HARNESSES); do \
		build/tests/replay-$$h tests/fuzz/corpus/$$h \
			$$(test -d tests/fuzz/regress/$$h && echo tests/fuzz/regress/$$h) 2>&1 | tail -n 1; \
	done

# The LVM harness alone: boot both kernels and run the smoke test inside.
check-vm: all
	tests/vm/run-vm.sh --kernel 6.1 --share tests/vm -- ./smoke.sh
	tests/vm/run-vm.sh --kernel 6.12 --share tests/vm -- ./smoke.sh

deps:
	@scripts/deps.sh

demo: deps
	$(MAKE) all
	scripts/demo.sh ./snaprotate

ASAN_FLAGS := CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	LDFLAGS="-fsanitize=address,undefined"

asan:
	$(MAKE) clean
	$(MAKE) $(ASAN_FLAGS) all $(UNIT_BINS) $(TOOLS)

# The unit and system tests again with ASan and UBSan in the binary (LVM aside: the
# guest has no ASan runtime; the fault tests aside: they run build/faults/snaprotate,
# which `make asan` cleans away); any report fails the test that caused it.
check-asan: deps
	$(MAKE) asan
	$(MAKE) $(ASAN_FLAGS) unit
	SANITIZED_BUILD=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(PYTHON) -m pytest -q tests/system --deselect tests/system/test_lvm.py \
		--deselect tests/system/test_lvm_blocksend.py --deselect tests/system/test_lvm_faults.py \
		--deselect tests/system/test_faults.py

MAN_PAGES := build/man/snaprotate.8 build/man/rotate.conf.5

man: $(MAN_PAGES)

build/man/%: doc/%.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@

# Every file that names the binary gets the path it is installed at.
SUBST_PATHS = sed -e 's|/usr/sbin/snaprotate|$(SBINDIR)/snaprotate|g'

install: snaprotate $(MAN_PAGES)
	install -Dm755 snaprotate $(DESTDIR)$(SBINDIR)/snaprotate
	install -Dm644 rotate.conf.example $(DESTDIR)$(SYSCONFDIR)/snaprotate/rotate.conf.example
	install -dm755 $(DESTDIR)$(LOCALSTATEDIR)/lib/snaprotate
	install -Dm644 build/man/snaprotate.8 $(DESTDIR)$(MANDIR)/man8/snaprotate.8
	install -Dm644 build/man/rotate.conf.5 $(DESTDIR)$(MANDIR)/man5/rotate.conf.5
	install -Dm644 pkg/bash-completion/snaprotate $(DESTDIR)$(BASHCOMPDIR)/snaprotate
	install -dm755 $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/cron.d
	for u in pkg/systemd/*; do \
		$(SUBST_PATHS) $$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} || exit 1; done
	$(SUBST_PATHS) pkg/cron/snaprotate > $(DESTDIR)$(SYSCONFDIR)/cron.d/snaprotate
	install -Dm755 pkg/initramfs-tools/snaprotate $(DESTDIR)$(INITRAMFSHOOKDIR)/snaprotate
	sed -i 's|/usr/sbin/snaprotate|$(SBINDIR)/snaprotate|g' $(DESTDIR)$(INITRAMFSHOOKDIR)/snaprotate
	install -dm755 $(DESTDIR)$(PREFIX)/share/snaprotate/hooks
	install -m755 hooks/consistency/fsfreeze hooks/consistency/mysql \
		hooks/consistency/postgresql $(DESTDIR)$(PREFIX)/share/snaprotate/hooks/
ifneq ($(filter apt,$(INSTALL_HOOKS)),)
	install -dm755 $(DESTDIR)$(SYSCONFDIR)/apt/apt.conf.d
	$(SUBST_PATHS) hooks/apt/80snaprotate > $(DESTDIR)$(SYSCONFDIR)/apt/apt.conf.d/80snaprotate
endif
ifneq ($(filter pacman,$(INSTALL_HOOKS)),)
	install -dm755 $(DESTDIR)$(ALPMHOOKDIR)
	for h in hooks/pacman/*.hook; do \
		$(SUBST_PATHS) $$h > $(DESTDIR)$(ALPMHOOKDIR)/$${h##*/} || exit 1; done
endif
ifneq ($(filter dnf,$(INSTALL_HOOKS)),)
	install -dm755 $(DESTDIR)$(DNFPLUGINDIR) $(DESTDIR)$(SYSCONFDIR)/dnf/plugins
	$(SUBST_PATHS) hooks/dnf/snaprotate.py > $(DESTDIR)$(DNFPLUGINDIR)/snaprotate.py
	install -m644 hooks/dnf/snaprotate.conf $(DESTDIR)$(SYSCONFDIR)/dnf/plugins/snaprotate.conf
endif

# The rescue bundle: build/rescue/snaprotate-rescue/ and its .tar.gz (scripts/rescue.sh)
rescue: snaprotate
	scripts/rescue.sh ./snaprotate build/rescue

# The Debian package, from the working tree: build/deb/snaprotate_VERSION_ARCH.deb
deb:
	rm -rf build/deb && mkdir -p build/deb/src
	git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C build/deb/src
	cp -r pkg/debian build/deb/src/debian
	cd build/deb/src && dpkg-buildpackage -b -us -uc
	@ls build/deb/*.deb

clean:
	rm -rf build snaprotate

.PHONY: all unit check check-vm deps demo asan install man deb rescue clean fuzz fuzz-replay lint check-asan faults check-valgrind

-include $(OBJS:.o=.d) $(FUZZ_OBJS:.o=.d) $(FAULT_OBJS:.o=.d)
