/*
 * The flood deadlock in a pool that describes itself through poolguard.h: the report can then
 * say exactly which task each worker waits for and that it is still queued.
 */
#include <unistd.h>

#define MINIPOOL_ANNOTATE
#include "minipool.h"

static struct pool pool;

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

int main(void)
{
    printf("pool_annotated: start\n");
    fflush(stdout);
    pthread_barrier_init(&parents_running, NULL, 2);
    pool_start(&pool, 2, 1);
    for (int i = 0; i < 2; i++)
        pool_submit(&pool, parent_task, i);
    for (;;)
        sleep(1);
}
