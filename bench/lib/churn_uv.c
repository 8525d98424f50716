/*
 * libuv's threadpool under churn: the loop thread queues many short uv_queue_work requests at
 * once and runs the loop until every after-work callback has run. Under the shim each request goes
 * through the libuv adapter (submission, start and end recorded), so this measures what that costs.
 * Usage: churn_uv [tasks]
 */
#include "../bench.h"

#include <uv.h>

static unsigned long sink;
static long remaining;

static void work(uv_work_t *req)
{
    unsigned long x = (unsigned long)(uintptr_t)req->data;
    for (int i = 0; i < 100; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    __atomic_fetch_add(&sink, x, __ATOMIC_RELAXED);
}

static void after(uv_work_t *req, int status)
{
    (void)req;
    (void)status;
    remaining--;
}

int main(int argc, char **argv)
{
    long tasks = bench_arg(argc, argv, 1, 200000);
    uv_work_t *reqs = calloc((size_t)tasks, sizeof *reqs);
    if (!reqs)
        return 1;
    uv_loop_t *loop = uv_default_loop();
    remaining = tasks;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < tasks; i++) {
        reqs[i].data = (void *)(uintptr_t)i;
        if (uv_queue_work(loop, &reqs[i], work, after) != 0)
            return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uint64_t t1 = bench_now_ns();
    if (remaining != 0)
        return 1;
    printf("ns_per_task %.1f\n", (double)(t1 - t0) / (double)tasks);
    printf("sink %lu\n", sink & 1);
    free(reqs);
    return 0;
}
