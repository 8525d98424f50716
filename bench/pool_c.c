/*
 * Two C pools (condvar + queue): the main thread submits many short tasks to the outer pool;
 * each submits CHILDREN small tasks to the inner pool and waits for them on a latch, as a request
 * handler waits on its sub-requests. Every wait and hand-off goes through hooked calls.
 * Usage: pool_c [tasks] [workers per pool]
 */
#include "pool.h"

#define CHILDREN 4

static struct pool outer, inner;
static struct latch all_done;
static unsigned long sink;   /* atomic adds: the benchmark itself must be race-free for TSan */

static void child(void *arg)
{
    struct latch *l = arg;
    unsigned long x = 0;
    for (int i = 0; i < 200; i++)
        x += (unsigned long)i * 2654435761u;
    __atomic_fetch_add(&sink, x, __ATOMIC_RELAXED);
    latch_count_down(l);
}

static void parent(void *arg)
{
    (void)arg;
    struct latch l;
    latch_init(&l, CHILDREN);
    for (int i = 0; i < CHILDREN; i++)
        pool_submit(&inner, child, &l);
    latch_wait(&l);
    latch_destroy(&l);
    latch_count_down(&all_done);
}

int main(int argc, char **argv)
{
    long tasks = bench_arg(argc, argv, 1, 20000);
    int workers = (int)bench_arg(argc, argv, 2, 4);
    pool_start(&outer, workers);
    pool_start(&inner, workers);
    latch_init(&all_done, tasks);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < tasks; i++)
        pool_submit(&outer, parent, NULL);
    latch_wait(&all_done);
    uint64_t t1 = bench_now_ns();
    pool_stop(&outer);
    pool_stop(&inner);
    bench_put("ns_per_task", (double)(t1 - t0) / (double)tasks);
    bench_put_rusage();
    return 0;
}
