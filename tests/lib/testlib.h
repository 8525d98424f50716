/*
 * The tests' one helper library (tests/lib/testlib.c, testlib_run.c, testlib_reports.c), linked
 * into every runner: build/check_unit, build/check_e2e and build/check_analyzer(_asan).
 *
 * tu_*: what any test needs: where the build is, temporary directories, reading and writing small
 * files, running a child under a time limit, skipping a test that this machine cannot host.
 * e2e_*: what the end-to-end tests need: running a program under the shim, reading the shim's raw
 * reports (docs/report-format.md) as they are being written, and symbolizing raw stacks against the
 * program's own symbols, independently of the analyzer. The prefixes keep the helpers apart from the
 * analyzer's modules, which the runners link too.
 */
#ifndef POOLGUARD_TESTLIB_H
#define POOLGUARD_TESTLIB_H

/* The headers the tests' own code uses most, so that a test file needs only this one. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --- skipping --- */
/* How a skip's message starts; tests/lib/runner.c counts such a result as skipped, not failed. */
#define TU_SKIP_MARK "poolguard-test-skip: "
/*
 * Ends the running test as skipped, with the reason the runner prints. Only for what a machine may
 * legitimately lack (a second Python, ptrace permission, a kernel limit); something `make check`
 * builds or `make deps` installs is a failure that names what is missing, never a skip.
 */
#define tu_skip(...) ck_abort_msg(TU_SKIP_MARK __VA_ARGS__)

/* --- where things are --- */
const char *tu_build(void);           /* $POOLGUARD_BUILD, default "build" */
char *tu_build_path(const char *rel); /* "<build>/<rel>", absolute; the caller frees */
void tu_prog_path(char *buf, size_t size, const char *prog); /* <build>/progs/<prog> */
/* Fails the test, naming the file and how to get it, unless "<build>/<rel>" exists. */
void tu_need_built(const char *rel);
/* Fails the test, naming the package that provides it, unless `path` is executable. */
void tu_need_program(const char *path, const char *package);

/* --- time --- */
long tu_now_ms(void); /* CLOCK_MONOTONIC */
void tu_sleep_ms(long ms);

/* --- files --- */
/* Test directories are all made by tu_tmpdir or e2e_run_init, under this prefix. */
#define TU_TMP_PREFIX "/tmp/pgtest."
char *tu_tmpdir(void); /* a new /tmp/pgtest.XXXXXX; the caller frees */
/* Removes a directory tree made by tu_tmpdir or e2e_run_init (anything else fails the test),
 * after checking every raw report in it (poolguard.*.jsonl, any depth) against
 * docs/report-format.schema.json: a report that does not match fails the test, naming the file,
 * the line and the complaint (also appended to $POOLGUARD_SCHEMA_LOG when it is set). */
void tu_rmtree(const char *dir);
/* The same without the check, for reports made invalid on purpose. */
void tu_rmtree_unchecked(const char *dir);
/* Checks raw reports against the schema (tests/lib/validate_report.py): `path` is a report, or a
 * directory whose reports are checked. Returns the validator's status (0: every line valid),
 * its messages ("FILE:LINE: where: what") in *msgs (malloc'd; NULL when not wanted). */
int tu_validate(const char *path, char **msgs);
/* Fails the test when a raw report under dir does not match the schema. */
void tu_validate_reports(const char *dir);
/* The whole file, NUL-terminated, or NULL when it cannot be read; *len_out (if given) its size. */
char *tu_slurp_maybe(const char *path, size_t *len_out);
char *tu_slurp(const char *path); /* the same, failing the test when it cannot be read */
void tu_write(const char *path, const char *text);
char *tu_replace(const char *s, const char *from, const char *to); /* every from replaced by to */
const char *tu_base_name(const char *path);
bool tu_starts_with(const char *s, const char *prefix);
/* Asserts that the needles (NULL-terminated) occur in hay in this order. */
void tu_assert_in_order(const char *hay, const char *const *needles);

/* --- running a child under a time limit (built on e2e_run_* below) --- */
/*
 * Runs argv (argv[0] a path) with stdout and stderr to out_path / err_path (NULL: the test's own),
 * the environment of e2e_run_start plus env ("NAME=value", NULL-terminated, may be NULL), and fails
 * the test if it has not finished within timeout_s seconds. Returns the exit status, 128+signal.
 */
int tu_run(char *const argv[], const char *out_path, const char *err_path, char *const env[],
           int timeout_s);
/* tu_run with stdout and stderr captured: *out and *err receive their text (the caller frees them).
 * Every entry of argv (NULL-terminated) was allocated and is freed here. */
int tu_run_capture(char *argv[], char *const env[], int timeout_s, char **out, char **err);

enum {
    E2E_POLL_MS = 50,     /* how often the report directory is read while waiting */
    E2E_MAX_REPORTS = 16, /* report files read from one directory */
};

/* --- names in stacks and messages --- */
/* Does a symbol name (as `nm -C` or the analyzer print it) name function `want`? */
bool e2e_names_function(const char *sym, const char *want);
/* Does a JSON array of function names hold one that names function `want`? */
bool e2e_names_have(json_t *names, const char *want);
/* Does `text` have a line that starts with "poolguard:" and contains `needle`? */
bool e2e_has_poolguard_line(const char *text, const char *needle);
/* A JSON "0x..." address string. */
bool e2e_parse_addr(json_t *v, unsigned long *out);

/* --- running a program --- */
struct e2e_run {
    char work[256];     /* our scratch directory, under /tmp */
    char reports[300];  /* POOLGUARD_DIR: only the shim writes here */
    char out[PATH_MAX]; /* the program's stdout ("": the test's own) */
    char err[PATH_MAX]; /* the program's stderr ("": the test's own) */
    pid_t pid;          /* also its process group */
    bool exited;
    int status; /* wait status, once exited */
};

/* Makes the scratch directory, /tmp/pgtest.<label>-XXXXXX, and the report directory in it. */
void e2e_run_init(struct e2e_run *r, const char *label);
/*
 * Starts `path` in its own process group, with PR_SET_PDEATHSIG, stdin from /dev/null and stdout /
 * stderr to r->out / r->err. The environment is ours minus LD_PRELOAD and POOLGUARD_*, plus
 * LD_PRELOAD=<shim> and POOLGUARD_DIR when `preload`, plus `extra_env` (NULL-terminated, may be
 * NULL), whose variables replace ours. Fails the test when the shim or `path` is missing.
 */
void e2e_run_start(struct e2e_run *r, const char *path, char *const argv[], bool preload,
                   const char *const extra_env[]);
/* Waits up to `ms` for the program to exit; true when it has (r->status is then set). */
bool e2e_run_wait(struct e2e_run *r, long ms);
/* Kills the whole process group (forked children too) and reaps the program. */
void e2e_run_kill(struct e2e_run *r);
char *e2e_run_stdout(const struct e2e_run *r); /* never NULL; the caller frees */
char *e2e_run_stderr(const struct e2e_run *r);
/* Waits until stdout is exactly `text`; false if the program exits or `ms` pass first. */
bool e2e_wait_for_output(struct e2e_run *r, const char *text, long ms);
/* Waits until a report holds a finding; false if the program exits or `ms` pass first. */
bool e2e_wait_for_finding(struct e2e_run *r, long ms);

/* --- raw reports --- */
struct e2e_report {
    char path[PATH_MAX];
    mode_t mode;
    json_t *header;   /* the first line, when it is a header */
    json_t *modules;  /* array of module objects */
    json_t *findings; /* array of finding objects */
    int bad_lines;    /* complete lines that are not JSON objects with a "type" */
    int headers;      /* header lines seen (must be exactly 1, the first) */
    bool first_is_header;
};

struct e2e_reports {
    int n;
    struct e2e_report r[E2E_MAX_REPORTS];
};

/* Reads every poolguard.*.jsonl in `dir`; only complete lines count (the last may be in progress). */
void e2e_reports_load(struct e2e_reports *rs, const char *dir);
void e2e_reports_free(struct e2e_reports *rs);
size_t e2e_reports_count_findings(const struct e2e_reports *rs);
struct e2e_report *e2e_reports_with_finding(struct e2e_reports *rs); /* the first, or NULL */
/* One "[file: kind: summary]" per finding, for failure messages. */
void e2e_describe_findings(const struct e2e_reports *rs, char *buf, size_t size);

/* --- symbolizing raw stacks against the binary --- */
struct e2e_sym {
    unsigned long addr, size;
    char *name;
};

struct e2e_symtab {
    struct e2e_sym *v;
    size_t n;
};

/* Function symbols of `binary`, demangled, from `nm -C -S --defined-only` (asserts on failure). */
void e2e_symtab_load(struct e2e_symtab *st, const char *binary);
void e2e_symtab_free(struct e2e_symtab *st);
const char *e2e_symtab_lookup(const struct e2e_symtab *st, unsigned long addr);
/*
 * The program's own function names in a raw stack (a JSON array of "0x..." return addresses):
 * addresses in the module whose path's base name is `prog` are looked up at pc - base - 1.
 * Returns a new JSON array of names.
 */
json_t *e2e_raw_stack_functions(json_t *modules, json_t *stack, const char *prog,
                                const struct e2e_symtab *st);
/* The function names of a stack as the analyzer renders it in JSON (frames without one are left
 * out). Returns a new JSON array. */
json_t *e2e_stack_function_names(json_t *stack);

/* --- shared checks --- */
enum {
    E2E_ANALYZER_MS = 10000,     /* `poolguard report` must finish this soon */
    E2E_HEALTHY_EXIT_MS = 10000, /* a healthy program must exit by itself this soon */
};

/* Runs `poolguard report --format json` on the run's report directory and returns the document
 * (asserts that it finished and printed JSON). */
json_t *e2e_analyzer_json(const char *label, const struct e2e_run *prog_run);

struct e2e_ok_case {
    const char *prog;
    int status; /* the exit status the program is written to return */
};

/* Runs a healthy program natively and under the shim: same stdout, same status, no finding.
 * extra_env goes to the shim run only; expect_warning, if set, must be on a poolguard: line. */
void e2e_check_healthy(const struct e2e_ok_case *c, const char *const extra_env[],
                       const char *expect_warning);

#endif
