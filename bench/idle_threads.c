/*
 * An idle process: N threads asleep on condition variables (one each, as idle pool workers are)
 * while the main thread sleeps. The process's CPU time over the sleep is, natively, next to zero;
 * under the shim it is the watchdog's own cost. Also reports the maximum RSS, for the memory the
 * shim adds per live thread.
 * Usage: idle_threads [threads] [idle milliseconds]
 */
#include "bench.h"

#include <pthread.h>

struct sleeper {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int go;
};

static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cond = PTHREAD_COND_INITIALIZER;
static int nready;

static void *sleeper_main(void *arg)
{
    struct sleeper *s = arg;
    pthread_mutex_lock(&ready_lock);
    nready++;
    pthread_cond_signal(&ready_cond);
    pthread_mutex_unlock(&ready_lock);
    pthread_mutex_lock(&s->lock);
    while (!s->go)
        pthread_cond_wait(&s->wake, &s->lock);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int main(int argc, char **argv)
{
    int n = (int)bench_arg(argc, argv, 1, 200);
    long idle_ms = bench_arg(argc, argv, 2, 5000);
    struct sleeper *s = calloc((size_t)n, sizeof *s);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    if (!s || !th)
        bench_die("calloc", 0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    for (int i = 0; i < n; i++) {
        pthread_mutex_init(&s[i].lock, NULL);
        pthread_cond_init(&s[i].wake, NULL);
        int r = pthread_create(&th[i], &attr, sleeper_main, &s[i]);
        if (r)
            bench_die("pthread_create", r);
    }
    pthread_mutex_lock(&ready_lock);
    while (nready < n)
        pthread_cond_wait(&ready_cond, &ready_lock);
    pthread_mutex_unlock(&ready_lock);
    /* Let the last sleepers reach their waits before the measured window opens. */
    struct timespec settle = {0, 50 * 1000000L};
    nanosleep(&settle, NULL);

    uint64_t c0 = bench_cpu_ns(), t0 = bench_now_ns();
    struct timespec idle = {idle_ms / 1000, (idle_ms % 1000) * 1000000L};
    while (nanosleep(&idle, &idle) != 0)
        ;
    uint64_t c1 = bench_cpu_ns(), t1 = bench_now_ns();
    long rss = bench_maxrss_kib();

    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&s[i].lock);
        s[i].go = 1;
        pthread_cond_signal(&s[i].wake);
        pthread_mutex_unlock(&s[i].lock);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    bench_put("idle_cpu_pct", 100.0 * (double)(c1 - c0) / (double)(t1 - t0));
    bench_put("idle_cpu_ms", (double)(c1 - c0) / 1e6);
    bench_put("maxrss_kib", (double)rss);
    return 0;
}
