/*
 * Parses the POOLGUARD_* variables. Runs once, from the shim's constructor, before any thread is
 * tracked: it may use the stack freely but must not allocate (it may run before malloc is usable
 * in odd programs) and must never fail: a bad value earns a warning and the default.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pg_config_defaults(struct pg_config *c)
{
    memset(c, 0, sizeof *c);
    c->interval_ms = 100;
    c->stall_ms = 10000;
    /* Reserved, not used: a slot's pages are touched only when that many threads live at once
     * (docs/performance.md), so a JVM or a thread-per-connection server fits by default. */
    c->max_threads = 32768;
    c->stack_depth = 64;
    c->queue_limit = 10000;
    c->trace_max = 16 << 20;
    c->lock_order = 1;
    c->lock_order_single_thread = 1;
    c->on_finding = PG_ON_CONTINUE;
    c->exit_code = 0;
}

static void warnf(pg_config_warn_fn warn, const char *name, const char *val, const char *why)
{
    char msg[512];
    snprintf(msg, sizeof msg, "poolguard: warning: %s='%.64s%s' %s; using the default", name, val,
             strlen(val) > 64 ? "..." : "", why);
    if (warn)
        warn(msg);
}

/* A whole decimal number in [lo, hi], nothing else (no sign tricks, no trailing text). */
static int parse_int(const char *s, long lo, long hi, long *out)
{
    if (!*s)
        return -EINVAL;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -EINVAL;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -ERANGE;
    *out = v;
    return 0;
}

static int int_var(pg_config_get_fn get, pg_config_warn_fn warn, const char *name, long lo, long hi,
                   int *field)
{
    const char *v = get(name);
    if (!v)
        return 0;
    long x;
    int r = parse_int(v, lo, hi, &x);
    if (r < 0) {
        char why[96];
        snprintf(why, sizeof why, "is not a whole number from %ld to %ld", lo, hi);
        warnf(warn, name, v, why);
        return 1;
    }
    *field = (int)x;
    return 0;
}

static int bool_var(pg_config_get_fn get, pg_config_warn_fn warn, const char *name, int *field)
{
    const char *v = get(name);
    if (!v)
        return 0;
    if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on")) {
        *field = 1;
        return 0;
    }
    if (!*v || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off")) {
        *field = 0;
        return 0;
    }
    warnf(warn, name, v, "is not one of 1, 0, yes, no, true, false, on, off");
    return 1;
}

int pg_config_parse(struct pg_config *c, pg_config_get_fn get, pg_config_warn_fn warn)
{
    int bad = 0;
    bad += int_var(get, warn, "POOLGUARD_INTERVAL_MS", 10, 60000, &c->interval_ms);
    bad += int_var(get, warn, "POOLGUARD_STALL_MS", 100, 3600000, &c->stall_ms);
    bad += int_var(get, warn, "POOLGUARD_MAX_THREADS", 16, 1 << 20, &c->max_threads);
    bad += int_var(get, warn, "POOLGUARD_STACK_DEPTH", 1, 128, &c->stack_depth);
    bad += int_var(get, warn, "POOLGUARD_QUEUE_LIMIT", 1, 1 << 30, &c->queue_limit);
    bad += int_var(get, warn, "POOLGUARD_TRACE_MAX", 0, 1 << 30, &c->trace_max);
    bad += bool_var(get, warn, "POOLGUARD_QUIET", &c->quiet);
    bad += bool_var(get, warn, "POOLGUARD_DISABLE", &c->disable);
    bad += bool_var(get, warn, "POOLGUARD_DEBUG", &c->debug);
    bad += bool_var(get, warn, "POOLGUARD_LOCK_ORDER", &c->lock_order);
    bad += bool_var(get, warn, "POOLGUARD_LOCK_ORDER_SINGLE_THREAD", &c->lock_order_single_thread);

    const char *v = get("POOLGUARD_ON_FINDING");
    if (v) {
        long code;
        if (!strcmp(v, "continue") || !*v) {
            c->on_finding = PG_ON_CONTINUE;
        } else if (!strcmp(v, "abort")) {
            c->on_finding = PG_ON_ABORT;
        } else if (!strncmp(v, "exit:", 5) && parse_int(v + 5, 0, 255, &code) == 0) {
            c->on_finding = PG_ON_EXIT;
            c->exit_code = (int)code;
        } else {
            warnf(warn, "POOLGUARD_ON_FINDING", v,
                  "is not continue, abort or exit:N (N from 0 to 255)");
            bad++;
        }
    }

    v = get("POOLGUARD_TRACE");
    if (v && *v) {
        size_t n = strlen(v);
        if (n >= sizeof c->trace)
            warnf(warn, "POOLGUARD_TRACE", v, "is too long"), bad++;
        else
            memcpy(c->trace, v, n + 1);
    }

    v = get("POOLGUARD_NOTIFY");
    if (v && *v) {
        size_t n = strlen(v);
        if (n >= sizeof c->notify || v[0] != '/')
            warnf(warn, "POOLGUARD_NOTIFY", v, "is not an absolute path that fits"), bad++;
        else
            memcpy(c->notify, v, n + 1);
    }

    v = get("POOLGUARD_DIR");
    if (v && *v) {
        size_t n = strlen(v);
        if (n >= sizeof c->dir - 64)
            warnf(warn, "POOLGUARD_DIR", v, "is too long"), bad++;
        else
            memcpy(c->dir, v, n + 1);
    }
    return bad;
}
