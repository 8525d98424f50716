/*
 * Thread creation and exit churn: two threads at a time are created, run an empty function and are
 * joined, over and over. Under the shim every creation claims a thread-table slot and records the
 * creator's stack; every exit releases the slot.
 * Usage: thread_churn [threads]
 */
#include "bench.h"

#include <pthread.h>

static void *nothing(void *arg)
{
    return arg;
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 10000);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i += 2) {
        pthread_t a, b;
        int r = pthread_create(&a, NULL, nothing, NULL);
        if (!r)
            r = pthread_create(&b, NULL, nothing, NULL);
        if (r)
            bench_die("pthread_create", r);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
    }
    uint64_t t1 = bench_now_ns();
    bench_put("ns_per_thread", (double)(t1 - t0) / (double)n);
    bench_put_rusage();
    return 0;
}
