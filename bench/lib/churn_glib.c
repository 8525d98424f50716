/*
 * GLib's GThreadPool under churn: main pushes many short tasks to an exclusive pool of 4 workers
 * and waits for the last one. Under the shim every push and every task goes through the GLib
 * adapter, so this measures what that costs.
 * Usage: churn_glib [tasks]
 */
#include "../bench.h"

#include <glib.h>

static unsigned long sink;
static gint remaining;
static GMutex done_lock;
static GCond done_cond;

static void task(gpointer data, gpointer user)
{
    (void)user;
    unsigned long x = (unsigned long)(uintptr_t)data;
    for (int i = 0; i < 100; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    __atomic_fetch_add(&sink, x, __ATOMIC_RELAXED);
    if (g_atomic_int_dec_and_test(&remaining)) {
        g_mutex_lock(&done_lock);
        g_cond_signal(&done_cond);
        g_mutex_unlock(&done_lock);
    }
}

int main(int argc, char **argv)
{
    long tasks = bench_arg(argc, argv, 1, 200000);
    GThreadPool *pool = g_thread_pool_new(task, NULL, 4, TRUE, NULL);
    g_atomic_int_set(&remaining, (gint)tasks);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < tasks; i++)
        g_thread_pool_push(pool, (gpointer)(uintptr_t)(i + 1), NULL);
    g_mutex_lock(&done_lock);
    while (g_atomic_int_get(&remaining) > 0)
        g_cond_wait(&done_cond, &done_lock);
    g_mutex_unlock(&done_lock);
    uint64_t t1 = bench_now_ns();
    g_thread_pool_free(pool, FALSE, TRUE);
    printf("ns_per_task %.1f\n", (double)(t1 - t0) / (double)tasks);
    printf("sink %lu\n", sink & 1);
    return 0;
}
