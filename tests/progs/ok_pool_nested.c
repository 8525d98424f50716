/*
 * The problem's fix 1: parents run on one pool and their children on another, so waiting for a
 * child never starves the pool that must run it. Thousands of parents, two workers each: busy,
 * blocking all the time, and healthy.
 */
#include "minipool.h"

static struct pool parents, children;

long child_task(void *p, long arg)
{
    (void)p;
    return arg * 2;
}

long parent_task(void *p, long arg)
{
    (void)p;
    struct future *f = pool_submit(&children, child_task, arg);
    long v = future_get(f);
    free(f);
    return v + 1;
}

int main(void)
{
    pool_start(&parents, 2, 1);
    pool_start(&children, 2, 1);
    enum { N = 3000 };
    static struct future *f[N];
    for (int i = 0; i < N; i++)
        f[i] = pool_submit(&parents, parent_task, i);
    long sum = 0;
    for (int i = 0; i < N; i++) {
        sum += future_get(f[i]);
        free(f[i]);
    }
    pool_stop(&parents);
    pool_stop(&children);
    printf("ok_pool_nested: sum %ld\n", sum);
    return 0;
}
