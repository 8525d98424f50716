/*
 * Shared helpers for the benchmark programs (make bench). Each program times its own work with
 * CLOCK_MONOTONIC, so process start-up and the shim's constructor are not counted, and prints one
 * "key value" pair per line on stdout for bench/run.py to read. The programs are plain pthread
 * code: they must behave the same with and without LD_PRELOAD=libpoolguard.so.
 */
#ifndef POOLGUARD_BENCH_H
#define POOLGUARD_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The process's CPU time (user + system, every thread), in nanoseconds. */
static inline uint64_t bench_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

/* The peak resident set of this process image, in KiB: VmHWM from /proc/self/status. Not
 * getrusage's ru_maxrss, which after fork + exec still counts the parent's pages (a Python driver's
 * 14 MiB would hide every difference). */
static inline long bench_maxrss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static inline long bench_arg(int argc, char **argv, int i, long dflt)
{
    return argc > i ? strtol(argv[i], NULL, 10) : dflt;
}

static inline void bench_put(const char *key, double v)
{
    printf("%s %.6g\n", key, v);
}

/* Every program ends with these, so the driver can compare memory for any workload. */
static inline void bench_put_rusage(void)
{
    bench_put("maxrss_kib", (double)bench_maxrss_kib());
    bench_put("cpu_ms", (double)bench_cpu_ns() / 1e6);
}

static inline void bench_die(const char *what, int err)
{
    fprintf(stderr, "bench: %s failed (error %d)\n", what, err);
    exit(2);
}

#endif
