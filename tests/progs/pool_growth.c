/*
 * Queue growth: two slow workers, and a producer submitting far faster than it can run tasks, for
 * three seconds; then the program exits normally. Nothing deadlocks: the only finding is the
 * growing queue.
 */
#include <time.h>
#include <unistd.h>

#include "minipool.h"

static struct pool pool;

long slow_task(void *p, long arg)
{
    (void)p;
    usleep(5000);
    return arg;
}

__attribute__((noinline)) static void produce_forever(void)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long n = 0;
    do {
        pool_submit(&pool, slow_task, n++);   /* results never collected: the queue only grows */
        usleep(100);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - start.tv_sec < 4);
    printf("pool_growth: submitted %s\n", n > 1000 ? "many" : "few");
}

int main(void)
{
    pool_start(&pool, 2, 1);
    produce_forever();
    fflush(stdout);
    _exit(0);
}
