/*
 * Contended mutex: four threads increment one counter under one mutex. On a machine with fewer
 * cores than threads most acquisitions still succeed at once (the holder's time slice runs on),
 * and the rest block in the kernel: both the fast path and the blocking path are measured.
 * Usage: mutex_contended [ops per thread]
 */
#include "bench.h"

#include <pthread.h>

#define NTHREADS 4

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;
static unsigned long counter;
static long per_thread;

static void *worker(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);
    for (long i = 0; i < per_thread; i++) {
        pthread_mutex_lock(&m);
        counter++;
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    per_thread = bench_arg(argc, argv, 1, 1000000);
    pthread_t th[NTHREADS];
    pthread_barrier_init(&start, NULL, NTHREADS + 1);
    for (int i = 0; i < NTHREADS; i++) {
        int r = pthread_create(&th[i], NULL, worker, NULL);
        if (r)
            bench_die("pthread_create", r);
    }
    pthread_barrier_wait(&start);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    uint64_t t1 = bench_now_ns();
    if (counter != (unsigned long)per_thread * NTHREADS)
        bench_die("counter check", 0);
    bench_put("ns_per_op", (double)(t1 - t0) / (double)(per_thread * NTHREADS));
    bench_put_rusage();
    return 0;
}
