/*
 * The problem's deadlock in C: parent tasks submit a child task to the same pool and wait for its
 * result. With as many parents as workers, every worker waits for a child queued behind it.
 * Arguments: "immediate" submits before the workers first go idle; "heartbeat" keeps a thread
 * alive that wakes every 20 ms (a timer must not hide the pool's state); "mainwait" makes main
 * wait for the parents' results instead of sleeping (then every thread is blocked).
 */
#include <time.h>
#include <unistd.h>

#include "minipool.h"

static struct pool pool;
static volatile int heartbeat_on = 1;

long child_task(void *p, long arg)
{
    (void)p;
    return arg * 2;
}

/* Every parent is running before any submits its child, so that the deadlock does not depend on
 * timing: with both workers busy, both children stay queued. */
static pthread_barrier_t parents_running;

long parent_task(void *p, long arg)
{
    pthread_barrier_wait(&parents_running);
    struct future *f = pool_submit(p, child_task, arg);
    return future_get(f) + 1;
}

static void *heartbeat(void *arg)
{
    (void)arg;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    while (heartbeat_on) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&m);
        pthread_cond_timedwait(&c, &m, &ts);
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int immediate = 0, beat = 0, mainwait = 0;
    for (int i = 1; i < argc; i++) {
        immediate |= !strcmp(argv[i], "immediate");
        beat |= !strcmp(argv[i], "heartbeat");
        mainwait |= !strcmp(argv[i], "mainwait");
    }
    printf("pool_cond_flood: start\n");
    fflush(stdout);
    pthread_t hb;
    if (beat)
        pthread_create(&hb, NULL, heartbeat, NULL);
    pthread_barrier_init(&parents_running, NULL, 2);
    pool_start(&pool, 2, !immediate);
    struct future *f[2];
    for (int i = 0; i < 2; i++)
        f[i] = pool_submit(&pool, parent_task, i);
    if (mainwait) {
        for (int i = 0; i < 2; i++)
            printf("result %ld\n", future_get(f[i]));
    } else {
        for (;;)
            sleep(1);
    }
    return 0;
}
