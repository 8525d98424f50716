/*
 * Healthy: every task of a GLib pool of 4 queues a follow-up task (fire and forget) and then
 * contends for a lock that main holds for 600 ms. All four workers are blocked, each after
 * submitting a task still queued in its own pool, but they wait for main's lock, not for those
 * tasks: main lets go and everything finishes. The lock is a GMutex ("gmutex", a futex wait inside
 * g_mutex_lock), then a pthread mutex: one round each.
 */
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static GMutex big;
static pthread_mutex_t pbig = PTHREAD_MUTEX_INITIALIZER;
static GThreadPool *pool;
static int use_pthread;
static gint done_n;

__attribute__((noinline)) static void take_the_lock(void)
{
    if (use_pthread) {
        pthread_mutex_lock(&pbig);
        pthread_mutex_unlock(&pbig);
    } else {
        g_mutex_lock(&big);
        g_mutex_unlock(&big);
    }
}

static void work(gpointer data, gpointer user)
{
    (void)user;
    long v = GPOINTER_TO_INT(data);
    if (v < 100)
        g_thread_pool_push(pool, GINT_TO_POINTER(v + 100), NULL);
    take_the_lock();
    g_atomic_int_inc(&done_n);
}

static void round_with(int pthread_lock)
{
    use_pthread = pthread_lock;
    g_atomic_int_set(&done_n, 0);
    pool = g_thread_pool_new(work, NULL, 4, TRUE, NULL);
    if (use_pthread)
        pthread_mutex_lock(&pbig);
    else
        g_mutex_lock(&big);
    for (int i = 1; i <= 4; i++)
        g_thread_pool_push(pool, GINT_TO_POINTER(i), NULL);
    usleep(600 * 1000);
    if (use_pthread)
        pthread_mutex_unlock(&pbig);
    else
        g_mutex_unlock(&big);
    while (g_atomic_int_get(&done_n) < 8)
        usleep(1000);
    g_thread_pool_free(pool, FALSE, TRUE);
    printf("ok_glib_submit_then_lock: %s: done %d\n", pthread_lock ? "pthread" : "gmutex",
           g_atomic_int_get(&done_n));
}

int main(void)
{
    round_with(0);
    round_with(1);
    return 0;
}
