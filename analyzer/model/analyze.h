/*
 * Noise control between parsing and rendering: signatures (what makes two findings "the same"),
 * folding repeats into one finding with a count, suppressions and baselines. Works on symbolized
 * reports; changes only the analysis fields of findings (model.h).
 */
#ifndef POOLGUARD_ANALYZE_H
#define POOLGUARD_ANALYZE_H

#include <stdio.h>

#include "report.h"

/* Computes every finding's signature: its kind plus, per thread, the function names of the
 * first frames outside the shim and libc, threads sorted, so it is the same across runs, pids and
 * rebuilds that keep function names. Then folds findings with equal signatures into the first. */
int analyze_dedup(pg_report *r);

/* describe.c: the program's words for findings. Writes the summary of pool_exhaustion and stall
 * findings from their structured members (pool named by library and where it was created, each
 * task by its function, queue positions); for pool findings of older shims (no proof), rewrites
 * the shim's sentence to name the pool by where it was created ("the pool created in
 * pool_start() (thread routine pool_worker)") or its annotated name; and for lock_order
 * findings names the functions of the cycle. The shim's sentence is kept in shim_summary.
 * Idempotent; analyze_dedup calls it. */
int analyze_describe(pg_report *r);
/* The first frame in the program's own code with a function name, or NULL. */
const pg_frame *stack_first_own_frame(const pg_stack *s);
/* "f()" for a C function, a demangled C++ name as it is. */
const char *describe_call(const char *function, char *buf, size_t len);
/* "the pool \"name\"", "the pool created in f() (thread routine g)", "the libuv threadpool
 * (created in main() at app.c:31)", "the GThreadPool created in ...", ... into buf. */
const char *describe_pool(const pg_pool *p, char *buf, size_t len);
/* The pool's thread routine's name, or NULL. */
const char *describe_pool_routine(const pg_pool *p);
/* The name of a task function (an exact address, symbolized), or NULL. */
const char *describe_function(const pg_fn *fn);
/* The name of a task's function: its own (fn), else the one pool p's queue lists for the task
 * at address; NULL when neither knows. p may be NULL. */
const char *describe_task_name(const pg_pool *p, const pg_fn *fn, uint64_t address);
/* A queued task's position (1 = next to run): from t's own submission when it is that task,
 * else from pool p's queue; -1 when neither says. p may be NULL. */
long describe_task_position(const pg_pool *p, const pg_mthread *t, uint64_t address);
/* "1st", "2nd", "3rd", "11th", ... into buf. */
const char *describe_ordinal(long n, char *buf, size_t len);
/* "main() at app.c:31": a frame as a sentence names it (the file's base name), into buf. */
const char *describe_frame(const pg_frame *f, char *buf, size_t len);
/* A lock's name in the program's terms, without its kind or address: "accounts_lock (bank.c:12)",
 * "registry.lock (reg.c:30)", "inside registry (offset 8)" (a symbol table without DWARF), "the
 * mutex initialized in cache_new() at cache.c:88", "the mutex first taken in worker() at
 * w.c:40"; "" when nothing names it. n may be NULL. Into buf. */
const char *describe_lock_name(const pg_lockname *n, const char *kind, char *buf, size_t len);
/* The lock as a sentence shows it, address kept: "mutex accounts_lock (bank.c:12, 0x601040)",
 * "write lock of the rwlock initialized in f() at x.c:9 (0x...)", "mutex 0x..." when nothing
 * names it. n may be NULL. Into buf (at least 3 * PG_MAX_STRING bytes for every name whole). */
const char *describe_lock(const pg_lockname *n, const char *kind, uint64_t address, char *buf,
                          size_t len);
/* The frame that names a lock no symbol names (where it was initialized or first taken), or
 * NULL. */
const pg_frame *describe_lock_site(const pg_lockname *n);
/* A pool the Python layer read (library "python"). */
bool describe_is_python(const pg_pool *p);
/* "pool" for a multiprocessing ThreadPool, "executor" for the others (the program's word). */
const char *describe_pool_word(const pg_pool *p);
/* The entry of a Python pool's tasks[] for thread t (by tid), or NULL. p may be NULL. */
const pg_py_task *describe_py_task(const pg_pool *p, const pg_mthread *t);
/* "parent_task (app.py:12)": a Python function (a frame with no address), into buf. */
const char *describe_py_func(const pg_frame *f, char *buf, size_t len);
/* What a Python worker waits on: "waits on the future of dependent_task, queued 1st in the same
 * executor", "waits on coroutine fetch() (run_coroutine_threadsafe), which awaits
 * run_in_executor(child), queued 40th in the same executor", "blocked in Event.wait()", or ""
 * when nothing is known; into buf. */
const char *describe_py_wait(const pg_pool *p, const pg_py_task *t, char *buf, size_t len);
/* "worker ThreadPoolExecutor-0_0, running parent_task (app.py:12), waits on the future of
 * dependent_task, queued 1st in the same executor": one Python worker, into buf. */
const char *describe_py_worker(const pg_pool *p, const pg_py_task *t, char *buf, size_t len);

typedef struct suppressions suppressions;
/* Reads a suppressions file (format in docs/cli.md). On a bad line returns NULL and sets *err
 * to -EINVAL with the problem described on diag; -errno when unreadable. */
suppressions *suppressions_load(const char *path, FILE *diag, int *err);
void suppressions_free(suppressions *s);
bool suppressions_match(const suppressions *s, const pg_finding *f);
/* Marks matching findings; returns how many. */
size_t suppressions_apply(const suppressions *s, pg_report *r);

typedef struct baseline baseline;
baseline *baseline_load(const char *path, FILE *diag, int *err);
void baseline_free(baseline *b);
size_t baseline_apply(const baseline *b, pg_report *r);
/* Writes every finding that is not a repeat and not suppressed. Returns 0 or -errno. */
int baseline_write(pg_report *r, const char *path);

#endif
