/*
 * GLib's GThreadPool (exclusive, two threads). Each "waiter" task waits on a GCond until a
 * "releaser" task, pushed after it, sets its flag: both threads wait for work queued behind them.
 * GLib's mutexes and conditions wait on futexes through syscall(). The shim's GLib adapter knows
 * the queue exactly, but nothing shows that the workers wait for the queued tasks (main could set
 * the flags), so the finding is a stall (info), never an error.
 */
#include <glib.h>
#include <stdio.h>

static GMutex lock;
static GCond changed;
static int released[2];

void waiter_task(int i)
{
    g_mutex_lock(&lock);
    while (!released[i])
        g_cond_wait(&changed, &lock);
    g_mutex_unlock(&lock);
}

void releaser_task(int i)
{
    g_mutex_lock(&lock);
    released[i] = 1;
    g_cond_broadcast(&changed);
    g_mutex_unlock(&lock);
}

static void run_task(gpointer data, gpointer user)
{
    (void)user;
    long v = GPOINTER_TO_INT(data);   /* 1, 2: waiters; 11, 12: releasers (NULL is not allowed) */
    if (v < 10)
        waiter_task((int)v - 1);
    else
        releaser_task((int)v - 11);
}

int main(void)
{
    printf("pool_glib: start\n");
    fflush(stdout);
    GThreadPool *pool = g_thread_pool_new(run_task, NULL, 2, TRUE, NULL);
    g_usleep(50 * 1000);
    g_thread_pool_push(pool, GINT_TO_POINTER(1), NULL);
    g_thread_pool_push(pool, GINT_TO_POINTER(2), NULL);
    g_thread_pool_push(pool, GINT_TO_POINTER(11), NULL);
    g_thread_pool_push(pool, GINT_TO_POINTER(12), NULL);
    for (;;)
        g_usleep(G_USEC_PER_SEC);
}
