/*
 * Uncontended mutex: one thread locks and unlocks in a loop. This is the hooks' fast path and
 * nothing else. Modes (second argument):
 *   0  one mutex, in a process that has only ever had one thread (libc then skips atomics);
 *   1  one mutex, with a second thread alive (atomics, as in any threaded program);
 *   2  two nested mutexes (A then B), second thread alive: the lock-order path, per pair of pairs.
 * Usage: mutex_uncontended [pairs] [mode]
 */
#include "bench.h"

#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t inner = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter;

static void run(long n, long mode)
{
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&m);
        if (mode == 2) {
            pthread_mutex_lock(&inner);
            counter++;
            pthread_mutex_unlock(&inner);
        }
        counter++;
        pthread_mutex_unlock(&m);
    }
}

static void *idle_thread(void *arg)
{
    (void)arg;
    pause();
    return NULL;
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 20000000);
    long mode = bench_arg(argc, argv, 2, 0);
    if (mode > 0) {
        pthread_t t;
        pthread_create(&t, NULL, idle_thread, NULL);
    }
    run(n / 20, mode);   /* warm-up: the shim claims the main thread's slot on its first call */
    uint64_t t0 = bench_now_ns();
    run(n, mode);
    uint64_t t1 = bench_now_ns();
    bench_put("ns_per_pair", (double)(t1 - t0) / (double)n);
    bench_put_rusage();
    return 0;
}
