/*
 * A pool under heavy load: tens of thousands of short tasks, every worker busy and the queue long
 * for most of the run, with lock contention inside the tasks. Healthy: no finding.
 */
#include "minipool.h"

static struct pool pool;
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

long short_task(void *p, long arg)
{
    (void)p;
    pthread_mutex_lock(&counter_lock);
    counter += arg & 7;
    pthread_mutex_unlock(&counter_lock);
    return arg;
}

int main(void)
{
    pool_start(&pool, 3, 0);
    enum { N = 30000 };
    static struct future *f[N];
    for (int i = 0; i < N; i++)
        f[i] = pool_submit(&pool, short_task, i);
    long sum = 0;
    for (int i = 0; i < N; i++) {
        sum += future_get(f[i]);
        free(f[i]);
    }
    pool_stop(&pool);
    printf("ok_pool_busy: sum %ld counter %ld\n", sum, counter);
    return 0;
}
