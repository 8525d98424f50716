/*
 * Watching a POOLGUARD_DIR while the program runs: new report files are picked up as they
 * appear, each is read incrementally (a partial last line waits for the rest), and the watcher
 * says whether a finding that stops the program has been written and how many processes have
 * answered a snapshot request. Only what the gate needs is kept; the full reading happens after.
 */
#ifndef POOLGUARD_RUN_WATCH_H
#define POOLGUARD_RUN_WATCH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct run_watch run_watch;

run_watch *run_watch_new(const char *dir);
void run_watch_free(run_watch *w);
/* Reads what is new. Returns 0 or -errno (the directory is gone or unreadable). */
int run_watch_poll(run_watch *w);
/* A finding that stops the program (run_finding_stops) has been written. */
bool run_watch_stop_finding(const run_watch *w);
/* Report files with a header, and of those, how many wrote a snapshot after the request. */
size_t run_watch_processes(const run_watch *w);
size_t run_watch_snapshots(const run_watch *w);
/* Has process pid written a snapshot after the request? Not when it runs outside the shim. */
bool run_watch_answered(const run_watch *w, int pid);

/* A finding the shim told of through POOLGUARD_NOTIFY ("finding pid=N kind=K severity=S
 * proof=P written=0|1 report=PATH"). */
typedef struct run_notice {
    int pid;
    char kind[32], severity[16], proof[16];
    bool written;
} run_notice;

/* Takes one notice line. A finding that stops the program stops it even when no file holds it. */
void run_watch_notice(run_watch *w, const char *line);
/* Notices of findings the shim could not write (written=0), and one of them. */
size_t run_watch_lost(const run_watch *w);
const run_notice *run_watch_lost_notice(const run_watch *w, size_t i);
/* Does a lost finding fail the gate at --fail-on fail_on (a pg_severity; above error: never)? */
bool run_watch_lost_fails(const run_watch *w, int fail_on);

/* Does this raw-report finding stop the program? kind, severity and its pool's proof (NULL
 * when absent) as written by the shim: a deadlock or pool_exhaustion of severity error whose
 * proof is not "inferred" or "none". A stall never does. */
bool run_finding_stops(const char *kind, const char *severity, const char *proof);

#endif
