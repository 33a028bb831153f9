# libgatrec - build, test, install.
#   make                 library (shared + static) and the gatrec command line
#   make check           every test (Check suites, ABI guards, Python binding, install)
#   make check SANITIZE=1   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make check SANITIZE=thread   the same under ThreadSanitizer (the library's threads, served models)
#   make check DEBUG=1   the same with the library's internal invariants checked (GATREC_ASSERT)
#   make bench           benchmark programs that print their figures
#   make bench-serve     gatrec serve under load (SERVE_SECONDS=3 a measurement)
#   make bench-scale     every learned kind on the ML-20M-shaped log (half an hour; KINDS="bpr gat")
#   make install PREFIX=/usr/local DESTDIR=   /   make uninstall
#   make demo            the README's main job: fetch ML-100K, train, recommend
#   make results         the evaluation matrix -> docs/results.md + SVG charts (hours; runs cached
#                        in build/results; RESULTS_ARGS='--folds u1 --seeds 1' for a slice)

VERSION_MAJOR := $(shell sed -n 's/^\#define GATREC_VERSION_MAJOR \([0-9]*\)/\1/p' include/gatrec.h)
VERSION_MINOR := $(shell sed -n 's/^\#define GATREC_VERSION_MINOR \([0-9]*\)/\1/p' include/gatrec.h)
VERSION_PATCH := $(shell sed -n 's/^\#define GATREC_VERSION_PATCH \([0-9]*\)/\1/p' include/gatrec.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

CC ?= cc
CXX ?= c++
PYTHON ?= python3
OPT ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
ifeq ($(WERROR),1)
WARN += -Werror
endif

# make MPI=1: the command line built against Open MPI (mpirun -np P gatrec ...; docs/scale.md) in
# build/mpi; the library, its ABI and the default build never depend on MPI.
ifeq ($(MPI),1)
BUILD ?= build/mpi
MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/mpi) -DGATREC_CLI_MPI
MPI_LIBS := $(shell mpicc --showme:link 2>/dev/null || echo -lmpi)
endif

# Sanitizer builds, and make DEBUG=1 (build/debug), also check the library's internal invariants
# (GATREC_ASSERT in lib/common/common.h).
ifeq ($(SANITIZE),1)
BUILD ?= build/sanitize
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
DEBUG_DEFS := -DGATREC_DEBUG=1
SAN_RUNTIME := libasan.so
else ifeq ($(SANITIZE),thread)
BUILD ?= build/tsan
SAN := -fsanitize=thread -fno-omit-frame-pointer
DEBUG_DEFS := -DGATREC_DEBUG=1
SAN_RUNTIME := libtsan.so
else ifeq ($(DEBUG),1)
BUILD ?= build/debug
SAN :=
DEBUG_DEFS := -DGATREC_DEBUG=1
else
BUILD ?= build
SAN :=
endif

DEPS_LIBS := -lblis -lcurl -ljansson -lz -lm -lpthread
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm -lpthread)

ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SAN) $(DEBUG_DEFS) -Iinclude -fPIC -fvisibility=hidden $(CFLAGS)
ALL_LDFLAGS := $(SAN) $(LDFLAGS)

LIB_SRC := $(sort $(wildcard lib/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC := $(sort $(wildcard examples/gatrec/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(sort $(wildcard test/check_*.c)) test/llm_server.c
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
BENCH_SRC := $(sort $(wildcard test/bench/*.c))
BENCH_BIN := $(BENCH_SRC:test/bench/%.c=$(BUILD)/bench/%)

SONAME := libgatrec.so.$(VERSION_MAJOR)
SHARED := $(BUILD)/libgatrec.so.$(VERSION)
STATIC := $(BUILD)/libgatrec.a
CLI := $(BUILD)/gatrec
TESTRUNNER := $(BUILD)/check_gatrec

DATA_DIR ?= $(or $(GATREC_TEST_DATA),$(GATREC_DATA_DIR),$(CURDIR)/../shared/data)

.PHONY: FORCE all lib cli serve bench-serve check check-mpi test-oracle test-unit test-abi test-python test-install test-example test-results bench bench-scale results demo fuzz install uninstall clean
all: lib cli serve

lib: $(SHARED) $(STATIC)
cli: $(CLI)

# gatrec serve (examples/serve, docs/serve.md): a program beside the command line, on GNU
# libmicrohttpd (Debian libmicrohttpd-dev); built when that is installed, skipped saying so when not.
MHD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)
SERVE := $(BUILD)/gatrec-serve
ifneq ($(MHD_LIBS),)
serve: $(SERVE)
else
serve:
	@echo "note: gatrec serve is not built: libmicrohttpd is missing (apt-get install libmicrohttpd-dev)"
endif
SERVE_OBJ := $(BUILD)/obj/examples/serve/serve.o $(BUILD)/obj/examples/gatrec/cli.o
$(SERVE): $(SERVE_OBJ) $(STATIC)
	$(CC) $(ALL_LDFLAGS) -o $@ $(SERVE_OBJ) $(STATIC) $(DEPS_LIBS) $(MHD_LIBS)

# The fast kernels may reassociate float sums (vectorised reductions); never -ffinite-math-only,
# so NaN detection still works.
$(BUILD)/obj/lib/kernels/fast.o: ALL_CFLAGS += -O3 -fno-trapping-math -fno-signed-zeros -fassociative-math
# the training loop and its losses and optimisers (lib/model/loop.h)
$(BUILD)/obj/lib/model/train.o $(BUILD)/obj/lib/model/loss_bpr.o $(BUILD)/obj/lib/model/loss_softmax.o \
    $(BUILD)/obj/lib/model/optim.o: ALL_CFLAGS += -O3

$(BUILD)/obj/%.o: %.c include/gatrec.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DGATREC_BUILDING -MMD -MP -c $< -o $@

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

$(SHARED): $(LIB_OBJ) lib/gatrec.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/gatrec.map -Wl,--no-undefined \
	    $(ALL_LDFLAGS) -o $@ $(LIB_OBJ) $(DEPS_LIBS)
	ln -sf libgatrec.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libgatrec.so

$(STATIC): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# The commit the command line is built from, "+changes" when the checkout differs from it
# (`gatrec version` prints it; make results records it with every run); empty outside git. The
# file is rewritten only when that changes, so nothing rebuilds without cause.
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null)
ifneq ($(GIT_COMMIT),)
GIT_COMMIT := $(GIT_COMMIT)$(shell git diff --quiet HEAD -- 2>/dev/null || echo +changes)
endif
$(BUILD)/commit.c: FORCE
	@mkdir -p $(BUILD); printf 'extern const char gatrec__cli_commit[];\nconst char gatrec__cli_commit[] = "%s";\n' \
	    '$(GIT_COMMIT)' > $@.tmp; if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/obj/commit.o: $(BUILD)/commit.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@
FORCE:

# The command line links the static library so that it runs wherever it is copied.
$(CLI_OBJ): ALL_CFLAGS += $(MPI_CFLAGS)
$(CLI): $(CLI_OBJ) $(BUILD)/obj/commit.o $(STATIC)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/obj/commit.o $(STATIC) $(DEPS_LIBS) $(MPI_LIBS)

# make MPI=1 check-mpi: gatrec under mpirun -np 1, 2, 3 (test/mpi/check_mpi.c; CI runs it)
check-mpi: $(CLI) $(BUILD)/check_mpi
ifneq ($(MPI),1)
	@echo "check-mpi: build with MPI=1 (make MPI=1 check-mpi)"; exit 1
endif
	GATREC_CLI=$(CURDIR)/$(CLI) $(BUILD)/check_mpi

$(BUILD)/check_mpi: test/mpi/check_mpi.c test/llm_server.c test/llm_server.h
	$(CC) $(ALL_CFLAGS) -o $@ test/mpi/check_mpi.c test/llm_server.c $(ALL_LDFLAGS) $(DEPS_LIBS) $(CHECK_LIBS)

# Unit tests link the static library: they may reach internal helpers through lib/ headers.
$(TESTRUNNER): $(TEST_OBJ) $(STATIC)
	$(CC) $(ALL_LDFLAGS) -o $@ $(TEST_OBJ) $(STATIC) $(DEPS_LIBS) $(CHECK_LIBS)

# the profile benchmark talks to the tests' scripted LLM server
$(BUILD)/bench/bench_profiles: test/bench/bench_profiles.c test/llm_server.c test/llm_server.h test/bench/synth.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ test/bench/bench_profiles.c test/llm_server.c $(STATIC) $(ALL_LDFLAGS) $(DEPS_LIBS)

$(BUILD)/bench/%: test/bench/%.c test/bench/synth.h test/bench/synth_log.h test/bench/child.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(STATIC) $(ALL_LDFLAGS) $(DEPS_LIBS)

CHECK_STEPS := test-abi test-python test-install test-oracle test-unit test-example test-results

# Every step runs even when one before it failed; the last line counts them - a step that could
# not run here (no PyTorch, no MovieLens) counts as skipped - and the lines above it list every
# skip with its reason, the steps' own and the tests' inside them.
check:
	@mkdir -p $(BUILD); log=$(BUILD)/check.log; : > $$log; pass=0; fail=0; skip=0; failed=; \
	for t in $(CHECK_STEPS); do \
	    { $(MAKE) --no-print-directory $$t 2>&1; echo $$? > $(BUILD)/check.rc; } | tee $(BUILD)/check-step.log; \
	    cat $(BUILD)/check-step.log >> $$log; \
	    if [ "$$(cat $(BUILD)/check.rc)" != 0 ]; then fail=$$((fail + 1)); failed="$$failed $$t"; \
	    elif grep -q "^SKIP: " $(BUILD)/check-step.log; then skip=$$((skip + 1)); \
	    else pass=$$((pass + 1)); fi; \
	done; \
	echo "== make check: $(words $(CHECK_STEPS)) steps ($(CHECK_STEPS))"; \
	grep "^SKIP" $$log | sed 's/^/   /' || true; \
	[ -z "$$failed" ] || echo "   failed:$$failed"; \
	echo "check: $$pass passed, $$fail failed, $$skip skipped"; \
	[ $$fail -eq 0 ]

test-unit: $(TESTRUNNER) $(CLI) serve $(BUILD)/bench/bench_synth
	GATREC_TEST_DATA="$(DATA_DIR)" GATREC_CLI="$(CURDIR)/$(CLI)" GATREC_SYNTH="$(CURDIR)/$(BUILD)/bench/bench_synth" $(TESTRUNNER)

# The PyTorch and numpy oracles: a Python with torch (Debian's python3-torch), found among these
# when an oracle runs (a recursive "=" is expanded only where it is used: no other target pays
# for importing torch).
ORACLE_PYTHON ?= $(firstword $(foreach p,$(PYTHON) /usr/bin/python3,$(shell $(p) -c 'import torch' >/dev/null 2>&1 && echo $(p))))

$(BUILD)/oracle_dump: test/oracle_dump.c $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(STATIC) $(ALL_LDFLAGS) $(DEPS_LIBS)

$(BUILD)/ease_dump: test/ease_dump.c $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(STATIC) $(ALL_LDFLAGS) $(DEPS_LIBS)

test-oracle: $(BUILD)/oracle_dump $(BUILD)/ease_dump
	@py='$(ORACLE_PYTHON)'; set -e; \
	if [ -z "$$py" ]; then echo "SKIP: PyTorch and numpy oracles (no python3 with torch; apt-get install python3-torch python3-numpy)"; exit 0; fi; \
	$(BUILD)/ease_dump > $(BUILD)/ease-oracle.txt; $$py test/ease_oracle.py $(BUILD)/ease-oracle.txt; \
	for k in fast reference; do $(BUILD)/oracle_dump $$k > $(BUILD)/oracle-$$k.txt; \
	    $$py test/oracle.py $(BUILD)/oracle-$$k.txt > $(BUILD)/oracle-$$k.log || { cat $(BUILD)/oracle-$$k.log; exit 1; }; \
	    tail -1 $(BUILD)/oracle-$$k.log; done

test-abi: $(SHARED)
	sh test/check-exports.sh $(SHARED) test/exports.txt
	sh test/check-layers.sh
	$(CC) -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude -fsyntax-only test/headertest.c
	$(CXX) -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -fsyntax-only -x c++ test/headertest.c

test-python: $(SHARED) $(CLI)
ifeq ($(SANITIZE),thread)
	@echo "SKIP: the Python binding under ThreadSanitizer (an uninstrumented python3 cannot host its runtime; the plain and ASan passes run it)"
else
	GATREC_LIBRARY="$(CURDIR)/$(BUILD)/$(SONAME)" GATREC_CLI="$(CURDIR)/$(CLI)" $(if $(SAN),LD_PRELOAD="$$($(CC) -print-file-name=$(SAN_RUNTIME))" ASAN_OPTIONS=detect_leaks=0) \
	    $(PYTHON) test/test_python.py
endif

# The README's own-data example end to end on the generator's shop (no MovieLens needed), with the
# programs just built: import, profiles, attn, lists by string id, a new user, an evaluation.
test-example: $(CLI) $(BUILD)/bench/bench_synth
ifeq ($(SANITIZE),thread)
	@echo "SKIP: examples/own_data.sh under ThreadSanitizer (20 epochs of attn take many minutes there; the plain and ASan passes run it)"
else
	@rm -rf $(BUILD)/own-data-check; log=$(BUILD)/own-data-check.log; \
	GATREC_CLI="$(CURDIR)/$(CLI)" GATREC_SYNTH="$(CURDIR)/$(BUILD)/bench/bench_synth" GATREC_OWN_DATA_DIR=$(BUILD)/own-data-check \
	    GATREC_OWN_DATA_EPOCHS=$(if $(SAN),4,20) \
	    sh examples/own_data.sh > $$log 2>&1 || { cat $$log; echo "test-example: examples/own_data.sh failed"; exit 1; }; \
	grep -q "^Top 5 for user cust-000001:" $$log || { cat $$log; echo "test-example: no list for cust-000001"; exit 1; }; \
	grep "ndcg" $$log | sed 's/^/own_data.sh: /'; rm -rf $(BUILD)/own-data-check
endif

test-install: lib
	CC="$(CC)" SAN="$(SAN)" MAKE="$(MAKE)" BUILD="$(BUILD)" GATREC_TEST_DATA="$(DATA_DIR)" sh test/test-install.sh

# make results end to end on a one-epoch slice, so the tool cannot rot unnoticed (the numbers
# mean nothing; the quality guard in test-unit watches quality). The plain pass runs it: it drives
# the same commands the other tests run under the sanitizers, and took 3 minutes under ASan.
test-results: $(CLI)
ifneq ($(SAN),)
	@echo "SKIP: make results smoke test under a sanitizer (the tool is Python driving the command line, which the other steps test here; the plain pass runs it)"
else ifeq ($(wildcard $(DATA_DIR)/ml-100k/u1.base),)
	@echo "SKIP: make results smoke test (no ml-100k in $(DATA_DIR))"
else
	rm -rf $(BUILD)/results-smoke
	$(PYTHON) examples/results/results.py --gatrec $(CLI) --data "$(DATA_DIR)" --work $(BUILD)/results-smoke \
	    --out $(BUILD)/results-smoke/docs --folds u1 --seeds 1 --cold-seeds 1 --cold-features template-lsa --epochs 1 \
	    --skip ablation,curves,implicit,returning,rerank,ml1m
	grep -q "^| attn: paper protocol, u1, NDCG@10 | " $(BUILD)/results-smoke/docs/results.md
	grep -q "^| GAT: paper protocol, u1, NDCG@10 | " $(BUILD)/results-smoke/docs/results.md
	test -s $(BUILD)/results-smoke/docs/results-k-paper.svg
endif

results: $(CLI)
	$(PYTHON) examples/results/results.py --gatrec $(CLI) --data "$(DATA_DIR)" --work $(BUILD)/results --out docs $(RESULTS_ARGS)

bench: $(BENCH_BIN) serve
	@for b in $(BENCH_BIN); do echo "== $$b"; GATREC_TEST_DATA="$(DATA_DIR)" ORACLE_PYTHON="$(ORACLE_PYTHON)" $$b || exit 1; done

# gatrec serve under load (test/bench/bench_serve.c; also part of make bench): a minute or so
bench-serve: $(BUILD)/bench/bench_serve $(BUILD)/bench/bench_synth $(CLI) serve
	GATREC_CLI=$(CURDIR)/$(CLI) $(BUILD)/bench/bench_serve $(SERVE_SECONDS)

# Every learned kind on the ML-20M-shaped log: about half an hour (test/bench/bench_scale.c).
bench-scale: $(BUILD)/bench/bench_scale $(BUILD)/bench/bench_synth $(CLI)
	GATREC_BENCH_SCALE=1 GATREC_CLI=$(CLI) $(BUILD)/bench/bench_scale $(KINDS)

demo: all
	sh examples/demo.sh

# Coverage-guided fuzzing (libFuzzer; clang from Debian's clang-14 package): every file reader
# and every LLM answer, with AddressSanitizer and UBSan, FUZZ_SECONDS per target. Corpora grow
# in build/fuzz/corpus; a crash leaves its input in build/fuzz (docs/testing.md).
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD := build/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_TARGETS := files llm $(if $(MHD_LIBS),serve)
fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT="-O1 -g" SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" WERROR=$(WERROR) $(FUZZ_BUILD)/libgatrec.a
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -O1 -g $(FUZZ_SAN) -Iinclude -o $(FUZZ_BUILD)/make_seeds test/fuzz/make_seeds.c $(FUZZ_BUILD)/libgatrec.a $(DEPS_LIBS)
	@for t in $(FUZZ_TARGETS); do \
	    extra=; [ $$t != serve ] || extra="examples/gatrec/cli.c $(MHD_LIBS)"; \
	    $(FUZZ_CC) -std=c11 -D_GNU_SOURCE -O1 -g $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer -Iinclude -o $(FUZZ_BUILD)/fuzz_$$t test/fuzz/fuzz_$$t.c $$extra $(FUZZ_BUILD)/libgatrec.a $(DEPS_LIBS) || exit 1; \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/seeds/$$t; done
	$(FUZZ_BUILD)/make_seeds $(FUZZ_BUILD)/seeds/files
	$(PYTHON) test/fuzz/seeds.py $(FUZZ_BUILD)/seeds/files $(FUZZ_BUILD)/seeds/llm $(FUZZ_BUILD)/seeds/serve
	@for t in $(FUZZ_TARGETS); do echo "== fuzz_$$t, $(FUZZ_SECONDS) s (log: $(FUZZ_BUILD)/fuzz_$$t.log)"; \
	    (cd $(FUZZ_BUILD) && ./fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
	        -print_final_stats=1 corpus/$$t seeds/$$t > fuzz_$$t.log 2>&1); rc=$$?; \
	    grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)" $(FUZZ_BUILD)/fuzz_$$t.log; \
	    if [ $$rc -ne 0 ]; then tail -n 40 $(FUZZ_BUILD)/fuzz_$$t.log; exit 1; fi; done

install: lib cli serve
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BINDIR)
	install -m 644 include/gatrec.h $(DESTDIR)$(INCLUDEDIR)/gatrec.h
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/libgatrec.so.$(VERSION)
	ln -sf libgatrec.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libgatrec.so
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/libgatrec.a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' pkgconfig/gatrec.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/gatrec.pc
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/gatrec
	if [ -x $(SERVE) ]; then install -m 755 $(SERVE) $(DESTDIR)$(BINDIR)/gatrec-serve; fi

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/gatrec.h $(DESTDIR)$(LIBDIR)/libgatrec.so.$(VERSION) \
	    $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libgatrec.so $(DESTDIR)$(LIBDIR)/libgatrec.a \
	    $(DESTDIR)$(PKGCONFIGDIR)/gatrec.pc $(DESTDIR)$(BINDIR)/gatrec $(DESTDIR)$(BINDIR)/gatrec-serve

clean:
	rm -rf build
