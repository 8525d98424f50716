/*
 * Every worker of a pool waits, for over a second, for an event that a live thread really
 * produces; meanwhile more work is queued. Slow, but nothing is stuck: no error may be reported.
 * (Run with POOLGUARD_STALL_MS above the wait so that a stall warning is not due either.)
 */
#include <unistd.h>

#include "minipool.h"

static struct pool pool;
static struct future event;

long wait_for_event(void *p, long arg)
{
    (void)p;
    return future_get(&event) + arg;
}

long quick_task(void *p, long arg)
{
    (void)p;
    return arg;
}

static void *producer(void *arg)
{
    (void)arg;
    usleep(1500 * 1000);
    future_set(&event, 40);
    return NULL;
}

int main(void)
{
    future_init(&event);
    pool_start(&pool, 2, 1);
    struct future *a = pool_submit(&pool, wait_for_event, 1);
    struct future *b = pool_submit(&pool, wait_for_event, 2);
    struct future *c = pool_submit(&pool, quick_task, 3);
    pthread_t t;
    pthread_create(&t, NULL, producer, NULL);
    long sum = future_get(a) + future_get(b) + future_get(c);
    pthread_join(t, NULL);
    pool_stop(&pool);
    printf("ok_pool_event: sum %ld\n", sum);
    return 0;
}
