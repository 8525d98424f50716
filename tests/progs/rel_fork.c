/*
 * Deadlocks on purpose in a child forked (without exec) from a multithreaded parent. At the fork
 * the parent has busy threads (mutex and condvar ping-pong), idle threads blocked in untimed
 * pthread_cond_wait, and a holder thread that keeps fork_shared_lock locked while it sleeps. Only
 * the forking thread exists in the child; the child's table must hold it alone.
 *
 *   rel_fork held       the child's main thread locks fork_shared_lock, still held in the child by
 *                       a thread that does not exist there: a lock whose owner has exited.
 *   rel_fork inversion  the child runs a two-thread lock inversion (fork_child_a / fork_child_b,
 *                       both blocking in fork_child_lock_second) while its main thread joins.
 *
 * The first line on stdout is "rel_fork: <mode> parent=<pid> holder=<tid>". The parent never
 * blocks in an interposed wait with nobody to wake it: it polls for the child for 20 s, then kills
 * it and exits 1. The test kills the whole process group long before that.
 */
#include "rel_common.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t fork_shared_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t ping_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ping_cond = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t ready;
static volatile pid_t holder_tid;
static long pings;
static int stop_idle;

static void *holder_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&fork_shared_lock);
    holder_tid = (pid_t)syscall(SYS_gettid);
    pthread_barrier_wait(&ready);
    for (;;)
        rel_sleep_ms(1000);
    return NULL;
}

static void *busy_thread(void *arg)
{
    long me = (long)arg;
    for (;;) {
        pthread_mutex_lock(&ping_lock);
        while (pings % 2 != me)
            pthread_cond_wait(&ping_cond, &ping_lock);
        pings++;
        pthread_cond_broadcast(&ping_cond);
        pthread_mutex_unlock(&ping_lock);
    }
    return NULL;
}

static void *idle_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&idle_lock);
    while (!stop_idle)
        pthread_cond_wait(&idle_cond, &idle_lock);
    pthread_mutex_unlock(&idle_lock);
    return NULL;
}

/* --- the child ------------------------------------------------------------------------------ */

static pthread_mutex_t child_lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t child_lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t child_both_hold;

void fork_child_wants_held_lock(void)
{
    pthread_mutex_lock(&fork_shared_lock);
    pthread_mutex_unlock(&fork_shared_lock);
}

void fork_child_lock_second(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
}

void *fork_child_a(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&child_lock_a);
    pthread_barrier_wait(&child_both_hold);
    fork_child_lock_second(&child_lock_b);
    pthread_mutex_unlock(&child_lock_a);
    return NULL;
}

void *fork_child_b(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&child_lock_b);
    pthread_barrier_wait(&child_both_hold);
    fork_child_lock_second(&child_lock_a);
    pthread_mutex_unlock(&child_lock_b);
    return NULL;
}

static void child_main(int held)
{
    if (held) {
        fork_child_wants_held_lock();
    } else {
        pthread_t a, b;
        pthread_barrier_init(&child_both_hold, NULL, 2);
        pthread_create(&a, NULL, fork_child_a, NULL);
        pthread_create(&b, NULL, fork_child_b, NULL);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    int held = argc > 1 && strcmp(argv[1], "held") == 0;
    pthread_t t;
    pthread_barrier_init(&ready, NULL, 2);
    pthread_create(&t, NULL, holder_thread, NULL);
    pthread_barrier_wait(&ready);
    for (long i = 0; i < 2; i++) {
        pthread_create(&t, NULL, busy_thread, (void *)i);
        pthread_create(&t, NULL, idle_thread, NULL);
    }
    rel_sleep_ms(50);   /* the idle threads are in their waits, the busy ones in full swing */
    printf("rel_fork: %s parent=%d holder=%d\n", held ? "held" : "inversion", (int)getpid(),
           (int)holder_tid);
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 2;
    }
    if (child == 0)
        child_main(held);

    long deadline = rel_now_ms() + 20000;
    while (rel_now_ms() < deadline) {
        if (waitpid(child, NULL, WNOHANG) == child)
            return 0;
        rel_sleep_ms(20);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 1;
}
