/*
 * A set of raw reports read from files and directories: processes (with their module maps),
 * findings and snapshots. Reading never trusts the input: lines are capped, counts are capped,
 * bad lines are skipped with a warning, and a file that is not a poolguard report at all is an
 * error for that file only (the others are still read).
 */
#ifndef POOLGUARD_ANALYZER_REPORT_H
#define POOLGUARD_ANALYZER_REPORT_H

#include <stdio.h>

#include "model.h"

typedef struct pg_report pg_report;

pg_report *report_new(void);
void report_free(pg_report *r);

/* Diagnostics go to this stream as "poolguard: error|warning: ..." (default stderr; NULL: silent). */
void report_set_diagnostics(pg_report *r, FILE *f);

/* Reads a raw report file, every *.jsonl file of a directory (sorted by name), or stdin for
 * "-". Returns 0, or
 * -errno for the first problem (the problem has been described on the diagnostics stream):
 * -ENOENT/-EACCES/... unreadable, -EINVAL not a poolguard report, -ENOTSUP a newer version. */
int report_add_path(pg_report *r, const char *path);
/* Reads one already-open report; name is used in messages. */
int report_add_fd(pg_report *r, int fd, const char *name);

pg_finding **report_findings(const pg_report *r, size_t *n);
pg_snapshot **report_snapshots(const pg_report *r, size_t *n);
pg_process **report_processes(const pg_report *r, size_t *n);
/* Problems seen so far: errors are per file, warnings per line. */
unsigned report_errors(const pg_report *r);
unsigned report_warnings(const pg_report *r);

/* Used by the parser (report_parse.c). */
void report_diag(pg_report *r, bool error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void model_stack_free(pg_stack *s);
void model_thread_free(pg_mthread *t);
void model_finding_free(pg_finding *f);
void model_snapshot_free(pg_snapshot *s);
void model_process_free(pg_process *p);

/* One JSON line of a report, already parsed. */
typedef struct parse_state {
    pg_report *report;
    const char *name; /* file name for messages */
    unsigned long lineno;
    pg_process *proc; /* the process of the latest header; NULL before it */
} parse_state;

/* Returns 0, or -EINVAL/-ENOTSUP for a header that ends the file's reading. */
int report_parse_object(parse_state *ps, json_t *obj);
int report_keep_finding(pg_report *r, pg_finding *f);
int report_keep_snapshot(pg_report *r, pg_snapshot *s);
int report_keep_process(pg_report *r, pg_process *p);

#endif
