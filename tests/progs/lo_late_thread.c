/*
 * A cycle seen first in one thread, then again with a second thread: main takes A then B and B
 * then A; a worker, started before and sleeping meanwhile, takes A then B 300 ms later, while main
 * still runs. The worker's A-then-B against main's B-then-A is a two-thread deadlock that did not
 * happen: it must be reported even though the same cycle was first seen in one thread (and, with
 * one-thread findings off, dismissed).
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;

static void nested(pthread_mutex_t *x, pthread_mutex_t *y)
{
    pthread_mutex_lock(x);
    pthread_mutex_lock(y);
    pthread_mutex_unlock(y);
    pthread_mutex_unlock(x);
}

void main_takes_both_orders(void)
{
    nested(&lock_a, &lock_b);
    nested(&lock_b, &lock_a);
}

void worker_takes_a_then_b_late(void)
{
    nested(&lock_a, &lock_b);
}

static void *worker(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    worker_takes_a_then_b_late();
    return NULL;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    main_takes_both_orders();
    pthread_join(t, NULL);
    printf("lo_late_thread: done\n");
    return 0;
}
