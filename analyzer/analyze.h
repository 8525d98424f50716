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
