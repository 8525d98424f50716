/*
 * Small helpers shared by the reliability test programs (rel_*.c, ok_rel_*.c; the suites are
 * tests/e2e/check_reliability.c, check_scale.c and check_security.c). Everything here is static:
 * each program is one translation unit.
 * Memory figures go to stderr as "rel_mem: hwm_kb=N rss_kb=N", never to stdout, so that stdout stays
 * comparable between a native run and a run under the shim.
 */
#ifndef POOLGUARD_REL_COMMON_H
#define POOLGUARD_REL_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline long rel_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* nanosleep is not interposed: a sleeping thread counts as running for the watchdog. */
static inline void rel_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A "VmHWM:" style field of /proc/self/status, in kB; -1 when absent. */
static inline long rel_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

static inline void rel_print_mem(void)
{
    fprintf(stderr, "rel_mem: hwm_kb=%ld rss_kb=%ld\n", rel_status_kb("VmHWM"), rel_status_kb("VmRSS"));
    fflush(stderr);
}

#define REL_CHECK(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);              \
            exit(70);                                                                              \
        }                                                                                          \
    } while (0)

#endif
