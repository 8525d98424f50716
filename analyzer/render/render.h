/*
 * Renderers: each turns an analysed report (symbolized, deduplicated, filtered) into one output
 * format on a stream. They only read the model; what is shown was decided before (analyze.h).
 */
#ifndef POOLGUARD_RENDER_H
#define POOLGUARD_RENDER_H

#include <stdio.h>

#include "model.h"
#include "report.h"

typedef enum pg_format {
    PG_FMT_TEXT,
    PG_FMT_JSON,
    PG_FMT_SARIF,
    PG_FMT_JUNIT,
    PG_FMT_DOT,
    PG_FMT_SVG,
    PG_FMT_HTML,
} pg_format;

typedef struct render_opts {
    pg_format format;
    bool color;               /* ANSI colours (text only) */
    bool all_frames;          /* do not fold shim/libc frames */
    bool native;              /* show a Python thread's native (interpreter) frames unfolded */
    int width;                /* wrap the text report to this many columns; 0: do not wrap */
    pg_severity min_severity; /* findings below are not shown (they still count as hidden) */
    bool timed_out;           /* `run` stopped the program at its time-out */
} render_opts;

#define PG_JSON_VERSION 1

/* Returns 0 or -errno (-EIO when the stream failed, -ENOENT when `dot` is missing for svg). */
int render(pg_report *r, const render_opts *o, FILE *out);
int render_text(pg_report *r, const render_opts *o, FILE *out);
int render_json(pg_report *r, const render_opts *o, FILE *out);
int render_sarif(pg_report *r, const render_opts *o, FILE *out);
int render_junit(pg_report *r, const render_opts *o, FILE *out);
int render_dot(pg_report *r, const render_opts *o, FILE *out);
int render_svg(pg_report *r, const render_opts *o, FILE *out);
int render_html(pg_report *r, const render_opts *o, FILE *out);

int format_parse(const char *s, pg_format *out);

/* Shared helpers (render_common.c). */
/* Shown: not folded, suppressed or in the baseline, and at or above --min-severity (stalls
 * also after a time-out). below: hidden only by --min-severity. */
bool render_finding_visible(const pg_finding *f, const render_opts *o);
bool render_finding_below(const pg_finding *f, const render_opts *o);
/* A stable, readable name for a thread: "worker-1 (tid 11)". buf must hold 128 bytes. */
const char *render_thread_label(const pg_mthread *t, char *buf, size_t len);
/* The first frame in the program's own code, else the first unfolded frame, else NULL. */
const pg_frame *render_first_own_frame(const pg_mthread *t);
const pg_frame *render_finding_location(const pg_finding *f);
/* file shortened relative to the current directory when below it. */
const char *render_short_path(const char *file);
const char *render_exe_name(const pg_process *p);
/* A thread's role in words ("in the cycle", "worker of the pool"), NULL when it adds nothing
 * (snapshots). pool: the finding has a pool; stall: the finding is a stall. */
const char *render_role_words(const pg_mthread *t, bool pool, bool stall);
/* Human words for a wait kind: "mutex", "condition variable", ... */
const char *render_wait_words(const char *kind);

/* One finding or snapshot as the text report shows it (used inside JUnit and HTML). */
void render_text_finding(const pg_finding *f, const render_opts *o, FILE *out);
void render_text_snapshot(const pg_snapshot *s, const render_opts *o, FILE *out);
/* The DOT graph as a string (render_dot.c), and dot(1) run on it (render_svg.c): 0, -ENOENT
 * (no dot), -errno. */
char *render_dot_string(pg_report *r, const render_opts *o);
int render_svg_string(pg_report *r, const render_opts *o, char **svg);
/* One finding's (or snapshot's) graph alone, each thread node linked to "#ANCHOR-tTID" when
 * anchor is not NULL (the HTML page's thread sections). */
char *render_dot_finding(const pg_finding *f, const char *anchor);
char *render_dot_snapshot(const pg_snapshot *s, const char *anchor);
/* dot(1) run on a graph (render_svg.c): 0, -ENOENT (no dot), -errno. */
int render_svg_from_dot(const char *dot, char **svg);

/* The rendered-JSON pieces (render_json.c), reused by other machine formats. */
json_t *render_json_frame(const pg_frame *f);
json_t *render_json_thread(const pg_mthread *t);
/* A task function (exact address) as a FRAME object; null when absent. */
json_t *render_json_fn(const pg_fn *fn);
json_t *render_json_document(pg_report *r, const render_opts *o);
/* Adds a lock's "name" (null when nothing names it) and what it comes from to o. */
void render_json_lock_name(json_t *o, const pg_lockname *n, const char *kind);
char *render_hex(uint64_t x, char buf[20]);

#endif
