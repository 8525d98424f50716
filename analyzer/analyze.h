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

/* describe.c: the program's words for findings. Rewrites the summary of pool findings to name
 * the pool by where it was created ("the pool created in pool_start() (thread routine
 * pool_worker)") or its annotated name, and of lock_order findings to name the functions of the
 * cycle; the shim's sentence is kept in shim_summary. Idempotent; analyze_dedup calls it. */
int analyze_describe(pg_report *r);
/* The first frame in the program's own code with a function name, or NULL. */
const pg_frame *stack_first_own_frame(const pg_stack *s);
/* "f()" for a C function, a demangled C++ name as it is. */
const char *describe_call(const char *function, char *buf, size_t len);
/* "the pool \"name\"", "the pool created in f() (thread routine g)", ... into buf. */
const char *describe_pool(const pg_pool *p, char *buf, size_t len);
/* The pool's thread routine's name, or NULL. */
const char *describe_pool_routine(const pg_pool *p);

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
