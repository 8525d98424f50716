/*
 * An idle pool: its workers wait for work for two seconds (longer than the stall limit the test
 * sets), then get a little and stop. Waiting for work is what idle workers do: no finding.
 */
#include <unistd.h>

#include "minipool.h"

static struct pool pool, single;

long quick_task(void *p, long arg)
{
    (void)p;
    return arg;
}

int main(void)
{
    pool_start(&pool, 3, 1);
    pool_start(&single, 1, 1);
    sleep(2);
    long v = future_get(pool_submit(&pool, quick_task, 5)) + future_get(pool_submit(&single, quick_task, 6));
    pool_stop(&pool);
    pool_stop(&single);
    printf("ok_pool_idle: %ld\n", v);
    return 0;
}
