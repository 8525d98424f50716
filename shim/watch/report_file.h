/*
 * The report file (report.c; a thread's record: report_thread.c): one JSON Lines file per process,
 * written by the watchdog only.
 */
#ifndef POOLGUARD_REPORT_FILE_H
#define POOLGUARD_REPORT_FILE_H

#include "jsonw.h"
#include "pg.h"
#include "pg_format.h"
#include "python.h"

/* What the report says about one thread. */
struct pg_rthread {
    pid_t tid;
    int is_main;
    uintptr_t start_routine;
    const char *role; /* a thread role of the format (pg_role_name) */
    int blocked;      /* 0: running (snapshots only) */
    uint32_t wkind;
    uintptr_t wobj;
    int timed;
    uint64_t since_ms;
    pid_t owner;  /* mutex/rwlock owner, 0 if unknown */
    pid_t target; /* joined thread, 0 if unknown */
    uint32_t nheld;
    const struct pg_held *held;
    int nstack;
    const uintptr_t *stack;
    int ncreate;
    const uintptr_t *create;
    /* Annotated pools: the task it runs, the task it waits for and where that task is. */
    uintptr_t task, wait_task, wait_task_queued_in;
    pid_t wait_task_runner;
    /* Pools known exactly: the functions of the task it runs and of the one it waits for; a task
     * it submitted to its own pool before this wait, still queued, at position sub_pos (1 = next). */
    uintptr_t task_fn, wait_task_fn, sub_task, sub_fn;
    long sub_pos;
    /* Python threads: the name threading gave it, and what the interpreter says of it. */
    const char *name_override;
    const struct pg_py_thread *py;
};

/* Opens the report (creating it and writing the header the first time) and writes the module
 * map lines not yet written. Returns the writer positioned at the start of a new line, or NULL. */
struct pg_jw *pg_report_begin(void);
/* Ends the line started after pg_report_begin and closes the file. Returns 0 or -errno. */
int pg_report_end(void);
void pg_report_thread(struct pg_jw *w, const struct pg_rthread *rt);
/* Opens the report and starts a finding line: the object is left open after "summary", for the
 * caller's own members; pg_jw_obj_end and pg_report_end finish it. NULL if nothing can be written.
 * kind, severity and proof are the format's (pg_format.h); proof is -1 for a finding without one
 * (it is only told to `poolguard run`: the caller writes the pool's own "proof"). */
struct pg_jw *pg_report_finding(int kind, int severity, int proof, const char *summary);
/* The process's resident memory in KiB, 0 if unknown. */
uint64_t pg_rss_kb(void);
const char *pg_report_path(void);
const char *pg_wait_kind_name(uint32_t kind);
/* The format's name of a lock kind (enum pg_held_kind). */
const char *pg_held_kind_name(uint32_t kind);
uint64_t pg_unix_ms(void);
void pg_report_fork_child(void);
/* Reads up to cap bytes of a small file (under /proc) with read(2): the length read, -1 if it
 * cannot be opened. For report.c and report_thread.c. */
PG_HIDDEN ssize_t pg_report_read_file(const char *p, char *buf, size_t cap);

#endif
