# poolguard: one non-recursive Makefile. Local overrides go in config.mk (not committed).
#   make            build build/libpoolguard.so and build/poolguard
#   make check      unit and end-to-end tests (installs missing Debian packages first)
#   make check-real real programs natively and under the gate, compared (scripts/check_real.sh)
#   make demo       run the bundled examples under `poolguard run` and show the report
#   make bench      overhead benchmarks, written to docs/performance.md
-include config.mk

CC       ?= cc
CXX      ?= c++
PREFIX   ?= /usr/local
BUILD    ?= build
OPT      ?= -O2
WARN     := -Wall -Wextra -Werror
CFLAGS_COMMON := $(OPT) -g -std=gnu11 -D_GNU_SOURCE $(WARN) -MMD -MP -Ishim -Ianalyzer -Iinclude

# pkg-config is consulted lazily (recursive '='), when a recipe runs, so that the dependency
# installer below has already run on a fresh machine.
UNWIND_CFLAGS = $(shell pkg-config --cflags libunwind)
UNWIND_LIBS   = $(shell pkg-config --libs libunwind)
ANALYZER_PKGS := jansson libdw
ANALYZER_CFLAGS = $(shell pkg-config --cflags $(ANALYZER_PKGS))
# libstdc++ only for __cxa_demangle (C++ names in stacks).
ANALYZER_LIBS   = $(shell pkg-config --libs $(ANALYZER_PKGS)) -lstdc++
CHECK_CFLAGS  = $(shell pkg-config --cflags check)
CHECK_LIBS    = $(shell pkg-config --libs check)

SHIM_SRC      := $(wildcard shim/*.c)
# Shim modules with no interposition and no global state: also linked into the unit tests.
SHIM_PURE     := shim/graph.c shim/config.c shim/jsonw.c shim/poolinfer.c
ANALYZER_SRC  := $(wildcard analyzer/*.c)
ANALYZER_LIB  := $(filter-out analyzer/main.c,$(ANALYZER_SRC))
# Pure shim modules the analyzer links too (attach and core run the shim's own proof).
ANALYZER_SHARED := shim/graph.c
TEST_SRC      := $(wildcard tests/check_*.c) tests/runner.c
PROG_C        := $(wildcard tests/progs/*.c)
PROG_CXX      := $(wildcard tests/progs/*.cpp)

SHIM_OBJ      := $(SHIM_SRC:%.c=$(BUILD)/%.o)
ANALYZER_OBJ  := $(ANALYZER_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ      := $(TEST_SRC:%.c=$(BUILD)/%.o) $(SHIM_PURE:%.c=$(BUILD)/t/%.o) $(ANALYZER_LIB:%.c=$(BUILD)/%.o)
PROGS         := $(PROG_C:tests/progs/%.c=$(BUILD)/progs/%) $(PROG_CXX:tests/progs/%.cpp=$(BUILD)/progs/%)

SHIM     := $(BUILD)/libpoolguard.so
ANALYZER := $(BUILD)/poolguard
RUNNER   := $(BUILD)/check_poolguard
DEPS_OK  := $(BUILD)/.deps-ok

.PHONY: all check demo bench clean install deps
all: $(SHIM) $(ANALYZER)

deps: $(DEPS_OK)
$(DEPS_OK): scripts/deps.sh
	@mkdir -p $(BUILD)
	./scripts/deps.sh
	@touch $@

$(BUILD)/shim/%.o: shim/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -fPIC -fvisibility=hidden -fexceptions -fasynchronous-unwind-tables $(UNWIND_CFLAGS) -c $< -o $@

# The pure shim modules again, for the unit-test executable.
$(BUILD)/t/shim/%.o: shim/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -c $< -o $@

$(SHIM): $(SHIM_OBJ) shim/exports.map
	$(CC) -shared -o $@ $(SHIM_OBJ) -Wl,--version-script=shim/exports.map -Wl,-z,now -Wl,--no-undefined $(UNWIND_LIBS) -ldl -lpthread

$(BUILD)/analyzer/%.o: analyzer/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(ANALYZER_CFLAGS) -c $< -o $@

$(ANALYZER): $(ANALYZER_OBJ) $(ANALYZER_SHARED:%.c=$(BUILD)/t/%.o)
	$(CC) -o $@ $^ $(ANALYZER_LIBS) -lm

$(BUILD)/suites.inc: $(TEST_SRC) Makefile
	@mkdir -p $(@D)
	@printf 'SUITE(%s)\n' $(patsubst tests/check_%.c,%,$(filter tests/check_%.c,$(TEST_SRC))) > $@

$(BUILD)/tests/runner.o: $(BUILD)/suites.inc
$(BUILD)/tests/%.o: tests/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -I$(BUILD) $(CHECK_CFLAGS) $(ANALYZER_CFLAGS) -c $< -o $@

$(RUNNER): $(TEST_OBJ)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(ANALYZER_LIBS) -lpthread -lm

# Test programs keep frame info and symbols so that stacks name their functions.
$(BUILD)/progs/%: tests/progs/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) -O1 -g -std=gnu11 -D_GNU_SOURCE $(WARN) -MMD -MP -Iinclude -fno-omit-frame-pointer -fno-inline $(PROG_CFLAGS) -o $@ $< -lpthread $(PROG_LIBS)

$(BUILD)/progs/%: tests/progs/%.cpp | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CXX) -O1 -g -std=c++17 $(WARN) -MMD -MP -Iinclude -fno-omit-frame-pointer -fno-inline -o $@ $< -lpthread

# Programs on third-party pools.
$(BUILD)/progs/pool_uv: PROG_LIBS = $(shell pkg-config --libs libuv)
$(BUILD)/progs/pool_glib: PROG_CFLAGS = $(shell pkg-config --cflags glib-2.0)
$(BUILD)/progs/pool_glib: PROG_LIBS = $(shell pkg-config --libs glib-2.0)
$(BUILD)/progs/ok_glib_submit_then_lock: PROG_CFLAGS = $(shell pkg-config --cflags glib-2.0)
$(BUILD)/progs/ok_glib_submit_then_lock: PROG_LIBS = $(shell pkg-config --libs glib-2.0)

# Programs on real pool libraries (tests/progs/lib_*, scenarios in lib_scen.h). scripts/deps.sh
# installs every library; should one still be missing, its program is left unbuilt with an error
# line instead of stopping the build, so the rest of `make check` runs, and the pool_libs suite
# fails naming the program. A compile error in a program whose library is there stops the build.
LIB_PROG_CC  = $(CC) -O1 -g -std=gnu11 -D_GNU_SOURCE $(WARN) -MMD -MP -fno-omit-frame-pointer -fno-inline
LIB_PROG_CXX = $(CXX) -O1 -g -std=c++17 $(WARN) -MMD -MP -fno-omit-frame-pointer -fno-inline -pthread
define lib_prog_build
	@mkdir -p $(@D)
	@if $(1) >/dev/null 2>&1; then echo "$(2)"; $(2); \
	else echo "poolguard: error: $(@F) not built: $(3) is missing (scripts/deps.sh installs it)" >&2; fi
endef
$(BUILD)/progs/lib_uv: tests/progs/lib_uv.c | $(DEPS_OK)
	$(call lib_prog_build,pkg-config --exists libuv,$(LIB_PROG_CC) $$(pkg-config --cflags libuv) -o $@ $< -lpthread $$(pkg-config --libs libuv),libuv1-dev)
$(BUILD)/progs/lib_glib: tests/progs/lib_glib.c | $(DEPS_OK)
	$(call lib_prog_build,pkg-config --exists glib-2.0,$(LIB_PROG_CC) $$(pkg-config --cflags glib-2.0) -o $@ $< -lpthread $$(pkg-config --libs glib-2.0),libglib2.0-dev)
$(BUILD)/progs/lib_tbb: tests/progs/lib_tbb.cpp | $(DEPS_OK)
	$(call lib_prog_build,pkg-config --exists tbb,$(LIB_PROG_CXX) -o $@ $< $$(pkg-config --libs tbb),libtbb-dev)
# Boost.Asio is header-only: the probe is its header.
$(BUILD)/progs/lib_asio: tests/progs/lib_asio.cpp | $(DEPS_OK)
	$(call lib_prog_build,test -r /usr/include/boost/asio/thread_pool.hpp,$(LIB_PROG_CXX) -o $@ $<,libboost-dev)

# Analyzer test fixtures: a PIE program linked to a C++ shared library (symbolizer tests), a copy
# of that library without DWARF (symbol-table fallback), and a fake program for the `run` gate.
FIXTURES := $(BUILD)/fixtures/symtest $(BUILD)/fixtures/libsymlib-nodebug.so $(BUILD)/fixtures/fakeapp
$(BUILD)/fixtures/libsymlib.so: tests/fixtures/symlib.cpp | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CXX) -O1 -g -fPIC -shared $(WARN) -o $@ $<
$(BUILD)/fixtures/libsymlib-nodebug.so: $(BUILD)/fixtures/libsymlib.so
	strip --strip-debug -o $@ $<
$(BUILD)/fixtures/symtest: tests/fixtures/symtest.c $(BUILD)/fixtures/libsymlib.so
	$(CC) -O1 -g -std=gnu11 -D_GNU_SOURCE $(WARN) -fPIE -pie -o $@ $< -L$(BUILD)/fixtures -lsymlib -Wl,-rpath,'$$ORIGIN'
$(BUILD)/fixtures/fakeapp: tests/fixtures/fakeapp.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) -O1 -g -std=gnu11 -D_GNU_SOURCE $(WARN) -o $@ $<

# The analyzer's own tests, in a runner of their own (they need no shim), plainly and under
# AddressSanitizer/UndefinedBehaviorSanitizer: make check-analyzer, make check-asan.
ATEST_SRC  := $(wildcard tests/check_report*.c tests/check_symbolize*.c tests/check_render*.c tests/check_run*.c tests/check_cli*.c)
ATEST_CMD   = $(CC) $(filter-out -MMD -MP,$(CFLAGS_COMMON)) -I$(BUILD)/atest $(CHECK_CFLAGS) $(ANALYZER_CFLAGS) -o $@ $(ATEST_SRC) tests/runner.c $(ANALYZER_LIB) $(ANALYZER_SHARED) $(CHECK_LIBS) $(ANALYZER_LIBS) -lpthread -lm
$(BUILD)/atest/suites.inc: $(ATEST_SRC) Makefile
	@mkdir -p $(@D)
	@printf 'SUITE(%s)\n' $(patsubst tests/check_%.c,%,$(ATEST_SRC)) > $@
$(BUILD)/check_analyzer: $(ATEST_SRC) tests/runner.c $(ANALYZER_LIB) $(wildcard analyzer/*.h tests/fixtures/*.h) $(BUILD)/atest/suites.inc
	$(ATEST_CMD)
$(BUILD)/check_analyzer_asan: $(ATEST_SRC) tests/runner.c $(ANALYZER_LIB) $(wildcard analyzer/*.h tests/fixtures/*.h) $(BUILD)/atest/suites.inc
	$(ATEST_CMD) -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
.PHONY: check-analyzer check-asan
check-analyzer: $(BUILD)/check_analyzer $(ANALYZER) $(FIXTURES)
	POOLGUARD_BUILD=$(BUILD) ./$(BUILD)/check_analyzer
check-asan: $(BUILD)/check_analyzer_asan $(BUILD)/asan/poolguard $(FIXTURES)
	POOLGUARD_BUILD=$(BUILD)/asan ASAN_OPTIONS=detect_leaks=1:verify_asan_link_order=0 ./$(BUILD)/check_analyzer_asan

# The poolguard command itself under the sanitizers, for the end-to-end tests of check-asan: a
# build directory of its own, whose shim, test programs and fixtures are the ordinary ones (the
# shim is preloaded into other programs and is never built with a sanitizer runtime).
$(BUILD)/asan/poolguard: $(ANALYZER_SRC) $(wildcard analyzer/*.h) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS_COMMON)) $(ANALYZER_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -o $@ $(ANALYZER_SRC) $(ANALYZER_SHARED) $(ANALYZER_LIBS) -lm
	ln -sfn ../libpoolguard.so $(@D)/libpoolguard.so
	ln -sfn ../progs $(@D)/progs
	ln -sfn ../fixtures $(@D)/fixtures

# libFuzzer target for the raw-report reader (needs clang). `make check` runs it briefly when
# clang is installed; `make fuzz` runs it for FUZZ_SECONDS. New inputs go to build/fuzz/corpus.
FUZZ         := $(BUILD)/fuzz/fuzz_report
FUZZ_SECONDS ?= 300
HAVE_CLANG   := $(shell command -v clang 2>/dev/null)
$(FUZZ): tests/fuzz/fuzz_report.c $(ANALYZER_LIB) $(wildcard analyzer/*.h)
	@mkdir -p $(@D)/corpus
	clang -g -O1 -std=gnu11 -D_GNU_SOURCE $(WARN) -Ianalyzer -Ishim $(ANALYZER_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(ANALYZER_LIB) $(ANALYZER_SHARED) $(ANALYZER_LIBS) -lm
.PHONY: fuzz fuzz-smoke
fuzz: $(FUZZ)
	$(FUZZ) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=1024 $(BUILD)/fuzz/corpus tests/fuzz/corpus
fuzz-smoke: $(FUZZ)
	@mkdir -p $(BUILD)/fuzz/smoke-corpus
	$(FUZZ) -max_total_time=10 -max_len=8192 -rss_limit_mb=1024 -print_final_stats=0 $(BUILD)/fuzz/smoke-corpus tests/fuzz/corpus 2>$(BUILD)/fuzz/smoke.log || { tail -n 40 $(BUILD)/fuzz/smoke.log; exit 1; }
check: $(if $(HAVE_CLANG),fuzz-smoke)
# The analyzer's suites (report, render*, symbolize, cli, run, run_shim) again under ASan/UBSan.
check: check-asan
check-asan: $(SHIM) $(PROGS)

check: all $(RUNNER) $(PROGS) $(FIXTURES)
	POOLGUARD_BUILD=$(BUILD) ./$(RUNNER)

# The Python layer's own checks (what it reads from each test program, and its safety cases: the
# GIL held for long, the program's own objects, exit during a reading), on Debian's python3.
.PHONY: check-python-layer
check-python-layer: $(SHIM)
	/usr/bin/python3 tests/py/run.py --build $(BUILD) --python /usr/bin/python3
check: check-python-layer

# Real programs from Debian (compressors, sort, make, git, sqlite, redis, node, OpenJDK, CPython's
# threading test suites), natively and under `poolguard run`: outputs, exit status and findings
# compared, one table. Not part of `make check` (it takes minutes and installs packages).
.PHONY: check-real
check-real: all
	./scripts/check_real.sh $(BUILD)

# Reports of real runs (a lock cycle, a C pool, the Python example, a lock-order warning, a
# time-out snapshot) opened in headless Chromium, and rendered as SARIF for the SARIF 2.1.0
# schema's validator.
REPORT_CASES := $(BUILD)/report-cases
SARIF_SCHEMA := $(BUILD)/sarif-schema/sarif-2.1.0-rtm.5.json
$(SARIF_SCHEMA): scripts/deps.sh
	./scripts/deps.sh --sarif-schema $(@D)
.PHONY: report-cases check-html-browser check-sarif
report-cases: all $(PROGS)
	./tests/make_report_cases.sh $(BUILD) $(REPORT_CASES)
check-html-browser: report-cases
	./tests/check_html_browser.sh $(BUILD) $(REPORT_CASES)
check-sarif: report-cases $(SARIF_SCHEMA)
	./tests/check_sarif_schema.sh $(BUILD) $(REPORT_CASES) $(SARIF_SCHEMA)
check-sarif: check-html-browser
check: check-html-browser check-sarif

demo: all $(PROGS)
	./scripts/demo.sh $(BUILD)

# Benchmark programs: optimized as a user's build would be, with symbols for perf and callgrind.
BENCH_PROGS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c)) \
               $(patsubst bench/%.cpp,$(BUILD)/bench/%,$(wildcard bench/*.cpp))
$(BUILD)/bench/%: bench/%.c $(wildcard bench/*.h) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) -O2 -g -std=gnu11 -D_GNU_SOURCE $(WARN) -o $@ $< -lpthread

$(BUILD)/bench/%: bench/%.cpp | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CXX) -O2 -g -std=c++17 $(WARN) -o $@ $< -lpthread

# Pool churn on real libraries (bench/lib): 200,000 short tasks through libuv, GLib and a C++ pool.
BENCH_LIB := $(BUILD)/bench/lib/churn_uv $(BUILD)/bench/lib/churn_glib $(BUILD)/bench/lib/churn_cxx
$(BUILD)/bench/lib/churn_uv: bench/lib/churn_uv.c bench/bench.h | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) -O2 -g -std=gnu11 -D_GNU_SOURCE $(WARN) $(shell pkg-config --cflags libuv) -o $@ $< $(shell pkg-config --libs libuv) -lpthread
$(BUILD)/bench/lib/churn_glib: bench/lib/churn_glib.c bench/bench.h | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) -O2 -g -std=gnu11 -D_GNU_SOURCE $(WARN) $(shell pkg-config --cflags glib-2.0) -o $@ $< $(shell pkg-config --libs glib-2.0)
$(BUILD)/bench/lib/churn_cxx: bench/lib/churn_cxx.cpp | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CXX) -O2 -g -std=c++17 $(WARN) -o $@ $< -lpthread

bench: all $(BENCH_PROGS) $(BENCH_LIB)
	./scripts/bench.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/poolguard $(DESTDIR)$(PREFIX)/include
	install -m 755 $(ANALYZER) $(DESTDIR)$(PREFIX)/bin/poolguard
	install -m 755 $(SHIM) $(DESTDIR)$(PREFIX)/lib/poolguard/libpoolguard.so
	install -m 644 include/poolguard.h $(DESTDIR)$(PREFIX)/include/poolguard.h

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
