/*
 * Uncontended mutex: one thread locks and unlocks one mutex in a loop. This is the hooks' fast
 * path (a trylock that succeeds, and the held-lock bookkeeping) and nothing else.
 * Usage: mutex_uncontended [pairs]
 */
#include "bench.h"

#include <pthread.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter;

static void run(long n)
{
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&m);
        counter++;
        pthread_mutex_unlock(&m);
    }
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 20000000);
    run(n / 20);   /* warm-up: the shim claims the main thread's slot on its first call */
    uint64_t t0 = bench_now_ns();
    run(n);
    uint64_t t1 = bench_now_ns();
    bench_put("ns_per_pair", (double)(t1 - t0) / (double)n);
    bench_put_rusage();
    return 0;
}
