# poolguard: one non-recursive Makefile. Local overrides go in config.mk (not committed).
#   make            build build/libpoolguard.so and build/poolguard (no root: names what is missing)
#   make deps       install the Debian packages the build, the tests and the demo need (root)
#   make check      make deps, then every test: unit, end-to-end, Python layer, browser, SARIF
#   make check-fast the unit tests alone (seconds; no program runs under the shim)
#   make lint       cppcheck, clang-tidy and the format check (make check runs it); make format
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
# Include paths by program: the shim's modules see the shim's folders, the analyzer's see its own
# (and the shim's pure graph module, which attach and core run, and shim/core for glibc.h, the one
# decoder of glibc's lock words), both see format/ (the report format they share) and include/
# (the public annotation API).
SHIM_DIRS     := shim/core shim/hooks shim/adapters shim/detect shim/watch shim/python
ANALYZER_DIRS := analyzer/cli analyzer/model analyzer/render analyzer/symbols analyzer/attach
SHIM_INC      := $(addprefix -I,$(SHIM_DIRS)) -Iformat -Iinclude
ANALYZER_INC  := $(addprefix -I,$(ANALYZER_DIRS)) -Ishim/detect -Ishim/core -Ishim/python -Iformat -Iinclude
TEST_INC      := -Itests/lib $(ANALYZER_INC) -Ishim/python
CFLAGS_BASE   := $(OPT) -g -std=gnu11 -D_GNU_SOURCE $(WARN)
CFLAGS_COMMON := $(CFLAGS_BASE) -MMD -MP

# pkg-config is consulted lazily (recursive '='), when a recipe runs.
UNWIND_CFLAGS = $(shell pkg-config --cflags libunwind)
UNWIND_LIBS   = $(shell pkg-config --libs libunwind)
ANALYZER_PKGS := jansson libdw
ANALYZER_CFLAGS = $(shell pkg-config --cflags $(ANALYZER_PKGS))
# libstdc++ only for __cxa_demangle (C++ names in stacks).
ANALYZER_LIBS   = $(shell pkg-config --libs $(ANALYZER_PKGS)) -lstdc++
CHECK_CFLAGS  = $(shell pkg-config --cflags check)
CHECK_LIBS    = $(shell pkg-config --libs check)

SHIM_SRC      := $(foreach d,$(SHIM_DIRS),$(wildcard $(d)/*.c))
# Shim modules with no interposition and no global state: also linked into the unit tests.
SHIM_PURE     := $(wildcard shim/detect/*.c) shim/core/config.c shim/core/jsonw.c shim/python/python_json.c shim/python/pyoffsets.c
ANALYZER_SRC  := $(foreach d,$(ANALYZER_DIRS),$(wildcard $(d)/*.c))
ANALYZER_LIB  := $(filter-out analyzer/cli/main.c,$(ANALYZER_SRC))
# Pure shim modules the analyzer links too (attach and core run the shim's own proof, its Python
# rules and write their findings with the shim's words).
ANALYZER_SHARED := shim/detect/graph.c shim/detect/pyrules.c shim/detect/pyfind.c shim/core/jsonw.c \
                   shim/python/python_json.c shim/python/pyoffsets.c
# Tests: tests/unit (no program runs under the shim; `make check-fast`), tests/e2e (programs run
# under the shim or the gate), tests/lib (the runner and the helpers both use).
UNIT_SRC      := $(wildcard tests/unit/check_*.c)
E2E_SRC       := $(wildcard tests/e2e/check_*.c)
TESTLIB_SRC   := tests/lib/testlib.c tests/lib/testlib_run.c tests/lib/testlib_reports.c
PROG_C        := $(wildcard tests/progs/*.c)
PROG_CXX      := $(wildcard tests/progs/*.cpp)

SHIM_OBJ      := $(SHIM_SRC:%.c=$(BUILD)/%.o)
ANALYZER_OBJ  := $(ANALYZER_SRC:%.c=$(BUILD)/%.o)
TESTSUP_OBJ   := $(TESTLIB_SRC:%.c=$(BUILD)/%.o) $(SHIM_PURE:%.c=$(BUILD)/t/%.o) $(ANALYZER_LIB:%.c=$(BUILD)/%.o)
UNIT_OBJ      := $(UNIT_SRC:%.c=$(BUILD)/%.o) $(BUILD)/unit/runner.o $(TESTSUP_OBJ)
E2E_OBJ       := $(E2E_SRC:%.c=$(BUILD)/%.o) $(BUILD)/e2e/runner.o $(TESTSUP_OBJ)
PROGS         := $(PROG_C:tests/progs/%.c=$(BUILD)/progs/%) $(PROG_CXX:tests/progs/%.cpp=$(BUILD)/progs/%)

SHIM     := $(BUILD)/libpoolguard.so
SHIM_PYDEBUG := $(BUILD)/libpoolguard-pydebug.so
ANALYZER := $(BUILD)/poolguard
UNIT_RUNNER := $(BUILD)/check_unit
E2E_RUNNER  := $(BUILD)/check_e2e
# Every object waits for the check that the libraries are there (scripts/need.sh: no root, no
# apt; it names what is missing). Installing them is `make deps`, which needs root and which
# `make check` and `make demo` run first.
LIBS_OK  := $(BUILD)/.libs-ok
TESTLIBS_OK := $(BUILD)/.testlibs-ok

.PHONY: all check check-all check-fast check-e2e check-unit demo demo-run bench clean install deps
all: $(SHIM) $(ANALYZER)

deps:
	./scripts/deps.sh
$(LIBS_OK): scripts/need.sh
	@mkdir -p $(@D)
	@./scripts/need.sh build
	@touch $@
$(TESTLIBS_OK): scripts/need.sh | $(LIBS_OK)
	@./scripts/need.sh test
	@touch $@

$(BUILD)/shim/%.o: shim/%.c | $(LIBS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SHIM_INC) -fPIC -fvisibility=hidden -fexceptions -fasynchronous-unwind-tables $(UNWIND_CFLAGS) -c $< -o $@

# The pure shim modules again, for the unit-test executable and the analyzer.
$(BUILD)/t/shim/%.o: shim/%.c | $(LIBS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SHIM_INC) -c $< -o $@

# The linker version script and the export test's list of names, both from the one list of
# interposed functions (shim/core/hooks.def).
SHIM_EXPORTS := $(BUILD)/shim/exports.map $(BUILD)/shim/exports.list
$(SHIM_EXPORTS): $(BUILD)/shim/%: shim/core/%.in shim/core/hooks.def
	@mkdir -p $(@D)
	$(CC) -E -P -undef -x c -Ishim/core $< -o $@

$(SHIM): $(SHIM_OBJ) $(SHIM_EXPORTS)
	$(CC) -shared -o $@ $(SHIM_OBJ) -Wl,--version-script=$(BUILD)/shim/exports.map -Wl,-z,now -Wl,--no-undefined $(UNWIND_LIBS) -ldl -lpthread

# The shim with the Python layer's test aid (tests/lib/python_debug.c, POOLGUARD_PY_DEBUG) linked
# in, for tests/py/run.py only: the library users preload does not carry it.
$(BUILD)/tests/lib/python_debug.o: tests/lib/python_debug.c | $(LIBS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(SHIM_INC) -fPIC -fvisibility=hidden $(UNWIND_CFLAGS) -c $< -o $@
$(SHIM_PYDEBUG): $(SHIM_OBJ) $(BUILD)/tests/lib/python_debug.o $(SHIM_EXPORTS)
	$(CC) -shared -o $@ $(SHIM_OBJ) $(BUILD)/tests/lib/python_debug.o -Wl,--version-script=$(BUILD)/shim/exports.map -Wl,-z,now -Wl,--no-undefined $(UNWIND_LIBS) -ldl -lpthread

$(BUILD)/analyzer/%.o: analyzer/%.c | $(LIBS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(ANALYZER_INC) $(ANALYZER_CFLAGS) -c $< -o $@

$(ANALYZER): $(ANALYZER_OBJ) $(ANALYZER_SHARED:%.c=$(BUILD)/t/%.o)
	$(CC) -o $@ $^ $(ANALYZER_LIBS) -lm

# One runner source (tests/lib/runner.c), built twice over the suite list of its folder.
$(BUILD)/unit/suites.inc: $(UNIT_SRC) Makefile
	@mkdir -p $(@D)
	@printf 'SUITE(%s)\n' $(patsubst tests/unit/check_%.c,%,$(UNIT_SRC)) > $@
$(BUILD)/e2e/suites.inc: $(E2E_SRC) Makefile
	@mkdir -p $(@D)
	@printf 'SUITE(%s)\n' $(patsubst tests/e2e/check_%.c,%,$(E2E_SRC)) > $@
$(BUILD)/unit/runner.o $(BUILD)/e2e/runner.o: $(BUILD)/%/runner.o: tests/lib/runner.c $(BUILD)/%/suites.inc | $(TESTLIBS_OK)
	$(CC) $(CFLAGS_COMMON) -I$(BUILD)/$* -Itests/lib $(CHECK_CFLAGS) $(ANALYZER_CFLAGS) -c $< -o $@
$(BUILD)/tests/%.o: tests/%.c | $(TESTLIBS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(TEST_INC) $(CHECK_CFLAGS) $(ANALYZER_CFLAGS) -c $< -o $@

$(UNIT_RUNNER): $(UNIT_OBJ)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(ANALYZER_LIBS) -lpthread -lm
$(E2E_RUNNER): $(E2E_OBJ)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(ANALYZER_LIBS) -lpthread -lm

# Test programs keep frame info and symbols so that stacks name their functions.
$(BUILD)/progs/%: tests/progs/%.c | $(TESTLIBS_OK)
	@mkdir -p $(@D)
	$(CC) -O1 -g -std=gnu11 -D_GNU_SOURCE $(WARN) -MMD -MP -Iinclude -fno-omit-frame-pointer -fno-inline $(PROG_CFLAGS) -o $@ $< -lpthread $(PROG_LIBS)

$(BUILD)/progs/%: tests/progs/%.cpp | $(TESTLIBS_OK)
	@mkdir -p $(@D)
	$(CXX) -O1 -g -std=c++17 $(WARN) -MMD -MP -Iinclude -fno-omit-frame-pointer -fno-inline -o $@ $< -lpthread

# Programs on third-party pools.
$(BUILD)/progs/pool_uv: PROG_LIBS = $(shell pkg-config --libs libuv)
$(BUILD)/progs/pool_glib: PROG_CFLAGS = $(shell pkg-config --cflags glib-2.0)
$(BUILD)/progs/pool_glib: PROG_LIBS = $(shell pkg-config --libs glib-2.0)
$(BUILD)/progs/ok_glib_submit_then_lock: PROG_CFLAGS = $(shell pkg-config --cflags glib-2.0)
$(BUILD)/progs/ok_glib_submit_then_lock: PROG_LIBS = $(shell pkg-config --libs glib-2.0)
# Runs outside the shim because the loader never sees it (libc.a comes with libc6-dev).
$(BUILD)/progs/att_static_cycle: PROG_CFLAGS = -static

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
$(BUILD)/progs/lib_uv: tests/progs/lib_uv.c | $(TESTLIBS_OK)
	$(call lib_prog_build,pkg-config --exists libuv,$(LIB_PROG_CC) $$(pkg-config --cflags libuv) -o $@ $< -lpthread $$(pkg-config --libs libuv),libuv1-dev)
$(BUILD)/progs/lib_glib: tests/progs/lib_glib.c | $(TESTLIBS_OK)
	$(call lib_prog_build,pkg-config --exists glib-2.0,$(LIB_PROG_CC) $$(pkg-config --cflags glib-2.0) -o $@ $< -lpthread $$(pkg-config --libs glib-2.0),libglib2.0-dev)
$(BUILD)/progs/lib_tbb: tests/progs/lib_tbb.cpp | $(TESTLIBS_OK)
	$(call lib_prog_build,pkg-config --exists tbb,$(LIB_PROG_CXX) -o $@ $< $$(pkg-config --libs tbb),libtbb-dev)
# Boost.Asio is header-only: the probe is its header.
$(BUILD)/progs/lib_asio: tests/progs/lib_asio.cpp | $(TESTLIBS_OK)
	$(call lib_prog_build,test -r /usr/include/boost/asio/thread_pool.hpp,$(LIB_PROG_CXX) -o $@ $<,libboost-dev)

# Analyzer test fixtures: a PIE program linked to a C++ shared library (symbolizer tests), a copy
# of that library without DWARF (symbol-table fallback), and a fake program for the `run` gate.
FIXTURES := $(BUILD)/fixtures/symtest $(BUILD)/fixtures/libsymlib-nodebug.so $(BUILD)/fixtures/fakeapp
$(BUILD)/fixtures/libsymlib.so: tests/fixtures/symlib.cpp | $(TESTLIBS_OK)
	@mkdir -p $(@D)
	$(CXX) -O1 -g -fPIC -shared $(WARN) -o $@ $<
$(BUILD)/fixtures/libsymlib-nodebug.so: $(BUILD)/fixtures/libsymlib.so
	strip --strip-debug -o $@ $<
$(BUILD)/fixtures/symtest: tests/fixtures/symtest.c $(BUILD)/fixtures/libsymlib.so
	$(CC) -O1 -g -std=gnu11 -D_GNU_SOURCE $(WARN) -fPIE -pie -o $@ $< -L$(BUILD)/fixtures -lsymlib -Wl,-rpath,'$$ORIGIN'
$(BUILD)/fixtures/fakeapp: tests/fixtures/fakeapp.c | $(TESTLIBS_OK)
	@mkdir -p $(@D)
	$(CC) -O1 -g -std=gnu11 -D_GNU_SOURCE $(WARN) -o $@ $<

# The analyzer's own tests, in a runner of their own (they need no shim), plainly and under
# AddressSanitizer/UndefinedBehaviorSanitizer: make check-analyzer, make check-asan.
ATEST_SRC  := $(wildcard $(foreach d,unit e2e,tests/$(d)/check_report*.c tests/$(d)/check_symbolize*.c tests/$(d)/check_render*.c tests/$(d)/check_run*.c tests/$(d)/check_cli*.c))
ATEST_CMD   = $(CC) $(CFLAGS_BASE) $(TEST_INC) -I$(BUILD)/atest $(CHECK_CFLAGS) $(ANALYZER_CFLAGS) -o $@ $(ATEST_SRC) tests/lib/runner.c $(TESTLIB_SRC) $(ANALYZER_LIB) $(ANALYZER_SHARED) $(CHECK_LIBS) $(ANALYZER_LIBS) -lpthread -lm
$(BUILD)/atest/suites.inc: $(ATEST_SRC) Makefile
	@mkdir -p $(@D)
	@printf 'SUITE(%s)\n' $(patsubst check_%.c,%,$(notdir $(ATEST_SRC))) > $@
$(BUILD)/check_analyzer: $(ATEST_SRC) tests/lib/runner.c $(TESTLIB_SRC) $(ANALYZER_LIB) $(wildcard analyzer/*/*.h tests/lib/*.h) $(BUILD)/atest/suites.inc | $(TESTLIBS_OK)
	$(ATEST_CMD)
$(BUILD)/check_analyzer_asan: $(ATEST_SRC) tests/lib/runner.c $(TESTLIB_SRC) $(ANALYZER_LIB) $(wildcard analyzer/*/*.h tests/lib/*.h) $(BUILD)/atest/suites.inc | $(TESTLIBS_OK)
	$(ATEST_CMD) -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
.PHONY: check-analyzer check-asan
check-analyzer: $(BUILD)/check_analyzer $(ANALYZER) $(FIXTURES)
	POOLGUARD_BUILD=$(BUILD) ./$(BUILD)/check_analyzer
check-asan: $(BUILD)/check_analyzer_asan $(BUILD)/asan/poolguard $(FIXTURES)
	POOLGUARD_BUILD=$(BUILD)/asan ASAN_OPTIONS=detect_leaks=1:verify_asan_link_order=0 ./$(BUILD)/check_analyzer_asan

# The poolguard command itself under the sanitizers, for the end-to-end tests of check-asan: a
# build directory of its own, whose shim, test programs and fixtures are the ordinary ones (the
# shim is preloaded into other programs and is never built with a sanitizer runtime).
$(BUILD)/asan/poolguard: $(ANALYZER_SRC) $(wildcard analyzer/*/*.h) | $(TESTLIBS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(ANALYZER_INC) $(ANALYZER_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -o $@ $(ANALYZER_SRC) $(ANALYZER_SHARED) $(ANALYZER_LIBS) -lm
	ln -sfn ../libpoolguard.so $(@D)/libpoolguard.so
	ln -sfn ../progs $(@D)/progs
	ln -sfn ../fixtures $(@D)/fixtures

# libFuzzer target for the raw-report reader (needs clang). `make check` runs it briefly when
# clang is installed; `make fuzz` runs it for FUZZ_SECONDS. New inputs go to build/fuzz/corpus.
FUZZ         := $(BUILD)/fuzz/fuzz_report
FUZZ_SECONDS ?= 300
HAVE_CLANG   := $(shell command -v clang 2>/dev/null)
$(FUZZ): tests/fuzz/fuzz_report.c $(ANALYZER_LIB) $(wildcard analyzer/*/*.h)
	@mkdir -p $(@D)/corpus
	clang -g -O1 -std=gnu11 -D_GNU_SOURCE $(WARN) $(ANALYZER_INC) $(ANALYZER_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(ANALYZER_LIB) $(ANALYZER_SHARED) $(ANALYZER_LIBS) -lm
.PHONY: fuzz fuzz-smoke
fuzz: $(FUZZ)
	$(FUZZ) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=1024 $(BUILD)/fuzz/corpus tests/fuzz/corpus
fuzz-smoke: $(FUZZ)
	@mkdir -p $(BUILD)/fuzz/smoke-corpus
	$(FUZZ) -max_total_time=10 -max_len=8192 -rss_limit_mb=1024 -print_final_stats=0 $(BUILD)/fuzz/smoke-corpus tests/fuzz/corpus 2>$(BUILD)/fuzz/smoke.log || { tail -n 40 $(BUILD)/fuzz/smoke.log; exit 1; }
check-all: $(if $(HAVE_CLANG),fuzz-smoke)
# The analyzer's suites (report, render*, symbolize, cli, run, run_shim) again under ASan/UBSan.
check-all: check-asan
check-asan: $(SHIM) $(PROGS)

# `make check` installs what is missing (make deps), then runs everything; `make check-fast` runs
# the unit tests alone (no program under the shim; seconds).
check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory check-all
check-fast: check-unit
check-all: check-unit check-e2e
check-unit: all $(UNIT_RUNNER) $(FIXTURES)
	POOLGUARD_BUILD=$(BUILD) ./$(UNIT_RUNNER)
check-e2e: all $(SHIM_PYDEBUG) $(E2E_RUNNER) $(PROGS) $(FIXTURES)
	POOLGUARD_BUILD=$(BUILD) ./$(E2E_RUNNER)

# The Python layer's own checks (what it reads from each test program, and its safety cases: the
# GIL held for long, the program's own objects, exit during a reading), on Debian's python3.
.PHONY: check-python-layer
check-python-layer: $(SHIM) $(SHIM_PYDEBUG)
	/usr/bin/python3 tests/py/run.py --build $(BUILD) --python /usr/bin/python3
check-all: check-python-layer

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
	./tests/e2e/make_report_cases.sh $(BUILD) $(REPORT_CASES)
check-html-browser: report-cases
	./tests/e2e/check_html_browser.sh $(BUILD) $(REPORT_CASES)
check-sarif: report-cases $(SARIF_SCHEMA)
	./tests/e2e/check_sarif_schema.sh $(BUILD) $(REPORT_CASES) $(SARIF_SCHEMA)
check-sarif: check-html-browser
check-all: check-html-browser check-sarif

demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory demo-run
demo-run: all $(PROGS)
	./scripts/demo.sh $(BUILD)

# Benchmark programs: optimized as a user's build would be, with symbols for perf and callgrind.
BENCH_PROGS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c)) \
               $(patsubst bench/%.cpp,$(BUILD)/bench/%,$(wildcard bench/*.cpp))
$(BUILD)/bench/%: bench/%.c $(wildcard bench/*.h) | $(TESTLIBS_OK)
	@mkdir -p $(@D)
	$(CC) -O2 -g -std=gnu11 -D_GNU_SOURCE $(WARN) -o $@ $< -lpthread

$(BUILD)/bench/%: bench/%.cpp | $(TESTLIBS_OK)
	@mkdir -p $(@D)
	$(CXX) -O2 -g -std=c++17 $(WARN) -o $@ $< -lpthread

# Pool churn on real libraries (bench/lib): 200,000 short tasks through libuv, GLib and a C++ pool.
BENCH_LIB := $(BUILD)/bench/lib/churn_uv $(BUILD)/bench/lib/churn_glib $(BUILD)/bench/lib/churn_cxx
$(BUILD)/bench/lib/churn_uv: bench/lib/churn_uv.c bench/bench.h | $(TESTLIBS_OK)
	@mkdir -p $(@D)
	$(CC) -O2 -g -std=gnu11 -D_GNU_SOURCE $(WARN) $(shell pkg-config --cflags libuv) -o $@ $< $(shell pkg-config --libs libuv) -lpthread
$(BUILD)/bench/lib/churn_glib: bench/lib/churn_glib.c bench/bench.h | $(TESTLIBS_OK)
	@mkdir -p $(@D)
	$(CC) -O2 -g -std=gnu11 -D_GNU_SOURCE $(WARN) $(shell pkg-config --cflags glib-2.0) -o $@ $< $(shell pkg-config --libs glib-2.0)
$(BUILD)/bench/lib/churn_cxx: bench/lib/churn_cxx.cpp | $(TESTLIBS_OK)
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

# Static analysis (make lint, part of make check): cppcheck and clang-tidy (.clang-tidy) over the
# shim and the analyzer, one translation unit per clang-tidy process (several per process give
# false valist.Uninitialized reports). cppcheck needs __GLIBC__ defined: glibc.h stops on any
# other C library, and cppcheck would skip the files that include it without a word.
LINT_JOBS   ?= 2
TIDY        ?= clang-tidy
CPPCHECK_FLAGS := -q --enable=warning,portability,performance --inline-suppr --error-exitcode=1 \
                  --std=c11 -D_GNU_SOURCE -D__GLIBC__=2 -D__GLIBC_MINOR__=36 -D__x86_64__ \
                  $(addprefix -I,$(SHIM_DIRS) $(ANALYZER_DIRS)) -Iinclude
# The format check covers the shim, the analyzer, the format header, the public header and the
# test sources (not the test programs, whose line numbers the tests name); clang-format 14, the
# version .clang-format was tuned for (others break a few lines differently).
CLANG_FORMAT ?= clang-format
FORMAT_FILES  = $(wildcard $(addsuffix /*.[ch],$(SHIM_DIRS) $(ANALYZER_DIRS) format include tests/unit tests/e2e tests/lib))
.PHONY: lint lint-cppcheck lint-tidy format-check format
lint: lint-cppcheck lint-tidy format-check
format-check:
	@$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES) && echo "format-check: $(words $(FORMAT_FILES)) files as .clang-format has them"
# Rewrites those files in place.
format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)
check-all: lint
lint-cppcheck:
	cppcheck -j$(LINT_JOBS) $(CPPCHECK_FLAGS) $(SHIM_DIRS) $(ANALYZER_DIRS)
lint-tidy: | $(LIBS_OK)
	printf '%s\n' $(SHIM_SRC) | xargs -P$(LINT_JOBS) -I{} $(TIDY) --quiet {} -- -std=gnu11 -D_GNU_SOURCE $(SHIM_INC) $(UNWIND_CFLAGS)
	printf '%s\n' $(ANALYZER_SRC) | xargs -P$(LINT_JOBS) -I{} $(TIDY) --quiet {} -- -std=gnu11 -D_GNU_SOURCE $(ANALYZER_INC) $(ANALYZER_CFLAGS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
