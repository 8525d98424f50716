/*
 * Condition-variable ping-pong: two threads hand a token back and forth, so every step is a
 * pthread_cond_wait that really blocks and a pthread_cond_signal that really wakes.
 * Usage: cond_pingpong [round trips]
 */
#include "bench.h"

#include <pthread.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn;   /* 0: ping's turn, 1: pong's */
static long rounds;

static void play(int me)
{
    pthread_mutex_lock(&m);
    for (long i = 0; i < rounds; i++) {
        while (turn != me)
            pthread_cond_wait(&turn_changed, &m);
        turn = !me;
        pthread_cond_signal(&turn_changed);
    }
    pthread_mutex_unlock(&m);
}

static void *pong(void *arg)
{
    (void)arg;
    play(1);
    return NULL;
}

int main(int argc, char **argv)
{
    rounds = bench_arg(argc, argv, 1, 100000);
    pthread_t th;
    uint64_t t0 = bench_now_ns();
    int r = pthread_create(&th, NULL, pong, NULL);
    if (r)
        bench_die("pthread_create", r);
    play(0);
    pthread_join(th, NULL);
    uint64_t t1 = bench_now_ns();
    bench_put("ns_per_roundtrip", (double)(t1 - t0) / (double)rounds);
    bench_put_rusage();
    return 0;
}
