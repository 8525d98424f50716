/*
 * POOLGUARD_* configuration. Parsing is pure (no globals, no allocation) so the unit tests can
 * drive it with any environment; the shim calls it once at start-up with getenv.
 */
#ifndef POOLGUARD_CONFIG_H
#define POOLGUARD_CONFIG_H

#include <stddef.h>

enum pg_on_finding { PG_ON_CONTINUE = 0, PG_ON_ABORT, PG_ON_EXIT };

#define PG_PATH_MAX 1024

struct pg_config {
    int interval_ms;               /* POOLGUARD_INTERVAL_MS: watchdog scan period */
    int stall_ms;                  /* POOLGUARD_STALL_MS: how long a pool may sit stuck unproven */
    int max_threads;               /* POOLGUARD_MAX_THREADS: thread table size */
    int stack_depth;               /* POOLGUARD_STACK_DEPTH: frames kept per stack */
    int queue_limit;               /* POOLGUARD_QUEUE_LIMIT: backlog that makes growth a finding */
    enum pg_on_finding on_finding; /* POOLGUARD_ON_FINDING: continue | abort | exit:N */
    int exit_code;
    int quiet;                    /* POOLGUARD_QUIET: no stderr line per finding */
    int disable;                  /* POOLGUARD_DISABLE: track nothing */
    int lock_order;               /* POOLGUARD_LOCK_ORDER: validate lock orders (default on) */
    int lock_order_single_thread; /* POOLGUARD_LOCK_ORDER_SINGLE_THREAD: also orders seen in one thread */
    int debug;             /* POOLGUARD_DEBUG: the watchdog explains its pool analysis on stderr */
    char dir[PG_PATH_MAX]; /* POOLGUARD_DIR; empty: the default, chosen at run time */
    char notify[PG_PATH_MAX]; /* POOLGUARD_NOTIFY: `poolguard run`'s FIFO, told of every finding */
    char trace[PG_PATH_MAX];  /* POOLGUARD_TRACE: file the pool analysis's input is appended to */
    int trace_max;            /* POOLGUARD_TRACE_MAX: bytes written to it at most */
};

/* Called once per bad value with a complete message (no trailing newline). */
typedef void (*pg_config_warn_fn)(const char *msg);
typedef const char *(*pg_config_get_fn)(const char *name);

void pg_config_defaults(struct pg_config *c);
/* Fills c from get(); a bad value keeps the default and is reported through warn. Returns the
 * number of bad values. */
int pg_config_parse(struct pg_config *c, pg_config_get_fn get, pg_config_warn_fn warn);

#endif
