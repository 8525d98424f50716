/*
 * Healthy: threads cancelled inside the timed and clock variants of waits (ok_cancel.c covers the
 * untimed ones): pthread_cond_timedwait, pthread_cond_clockwait, sem_timedwait, sem_clockwait and
 * pthread_timedjoin_np, each with a far deadline; and a thread cancelled asynchronously-deferred
 * while it holds two mutexes released by cleanup handlers. Afterwards main reuses every object, and
 * ends with an untimed wait on a live thread that is sleeping: a stale "waits" or "holds" entry
 * left by a cancelled thread would show up there as a false finding.
 */
#include "rel_common.h"

#include <pthread.h>
#include <semaphore.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t m2 = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static sem_t s;
static pthread_barrier_t in_wait;
static pthread_t never_ends;

static void unlock_it(void *arg)
{
    pthread_mutex_unlock(arg);
}

static struct timespec far_deadline(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += 3600;
    return ts;
}

static void *in_cond_timedwait(void *arg)
{
    int clocked = arg != NULL;
    pthread_mutex_lock(&m);
    pthread_cleanup_push(unlock_it, &m);
    pthread_barrier_wait(&in_wait);
    for (;;) {
        struct timespec ts = far_deadline(clocked ? CLOCK_MONOTONIC : CLOCK_REALTIME);
        if (clocked)
            pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &ts);
        else
            pthread_cond_timedwait(&c, &m, &ts);
    }
    pthread_cleanup_pop(1);
    return NULL;
}

static void *in_sem_timedwait(void *arg)
{
    int clocked = arg != NULL;
    pthread_barrier_wait(&in_wait);
    for (;;) {
        struct timespec ts = far_deadline(clocked ? CLOCK_MONOTONIC : CLOCK_REALTIME);
        if (clocked)
            sem_clockwait(&s, CLOCK_MONOTONIC, &ts);
        else
            sem_timedwait(&s, &ts);
    }
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        rel_sleep_ms(1000);
    return NULL;
}

static void *in_timedjoin(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&in_wait);
    struct timespec ts = far_deadline(CLOCK_REALTIME);
    pthread_timedjoin_np(never_ends, NULL, &ts);
    return NULL;
}

static void *holding_two(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    pthread_cleanup_push(unlock_it, &m);
    pthread_mutex_lock(&m2);
    pthread_cleanup_push(unlock_it, &m2);
    pthread_barrier_wait(&in_wait);
    for (;;)
        pthread_testcancel(), rel_sleep_ms(5);
    pthread_cleanup_pop(1);
    pthread_cleanup_pop(1);
    return NULL;
}

static int cancel_one(const char *what, void *(*fn)(void *), void *arg)
{
    pthread_t t;
    pthread_create(&t, NULL, fn, arg);
    pthread_barrier_wait(&in_wait);
    rel_sleep_ms(20);   /* let it block inside the wait */
    pthread_cancel(t);
    void *ret;
    pthread_join(t, &ret);
    int ok = ret == PTHREAD_CANCELED;
    printf("%s: %s\n", what, ok ? "cancelled" : "NOT cancelled");
    return ok;
}

static int late_flag;

static void *late_signaller(void *arg)
{
    (void)arg;
    rel_sleep_ms(400);   /* several watchdog scans */
    pthread_mutex_lock(&m);
    late_flag = 1;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
    return NULL;
}

int main(void)
{
    sem_init(&s, 0, 0);
    pthread_barrier_init(&in_wait, NULL, 2);
    pthread_create(&never_ends, NULL, sleeper, NULL);
    int ok = 0;
    ok += cancel_one("cond_timedwait", in_cond_timedwait, NULL);
    ok += cancel_one("cond_clockwait", in_cond_timedwait, (void *)1);
    ok += cancel_one("sem_timedwait", in_sem_timedwait, NULL);
    ok += cancel_one("sem_clockwait", in_sem_timedwait, (void *)1);
    ok += cancel_one("timedjoin", in_timedjoin, NULL);
    ok += cancel_one("holding two mutexes", holding_two, NULL);

    /* Everything is free again. */
    pthread_mutex_lock(&m);
    pthread_mutex_lock(&m2);
    pthread_mutex_unlock(&m2);
    sem_post(&s);
    sem_wait(&s);
    pthread_t t;
    pthread_create(&t, NULL, late_signaller, NULL);
    while (!late_flag)
        pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
    pthread_join(t, NULL);
    printf("ok_rel_cancel: %d of 6 cancelled, late signal seen\n", ok);
    return ok == 6 ? 0 : 1;
}
