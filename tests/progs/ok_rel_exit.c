/*
 * Healthy: processes that exit while threads are blocked. 30 times, a forked child (its own
 * watchdog) starts threads that block in pthread_cond_wait, sem_wait, pthread_mutex_lock (on a
 * mutex the main thread holds), pthread_join and pthread_barrier_wait, lets them sit for a while
 * (several watchdog scans when run with a short POOLGUARD_INTERVAL_MS), and calls exit() with a
 * status of its own; the last child calls _exit() instead. The main thread is never blocked in an
 * interposed wait, so nothing is a deadlock. The parent checks every status: no crash, no hang in
 * the exit path (the watchdog keeps scanning while the process exits).
 */
#include "rel_common.h"

#include <pthread.h>
#include <semaphore.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 30

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static sem_t sem;
static pthread_barrier_t bar;
static pthread_t sleeper_thread;

static void *wait_cond(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cm);
    for (;;)
        pthread_cond_wait(&cv, &cm);
    return NULL;
}

static void *wait_sem(void *arg)
{
    (void)arg;
    sem_wait(&sem);
    return NULL;
}

static void *wait_mutex(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&held);
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        rel_sleep_ms(1000);
    return NULL;
}

static void *wait_join(void *arg)
{
    (void)arg;
    pthread_join(sleeper_thread, NULL);
    return NULL;
}

static void *wait_barrier(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&bar);
    return NULL;
}

static void child(int k)
{
    sem_init(&sem, 0, 0);
    pthread_barrier_init(&bar, NULL, 3);
    pthread_mutex_lock(&held);
    pthread_t t;
    pthread_create(&sleeper_thread, NULL, sleeper, NULL);
    void *(*fns[])(void *) = { wait_cond, wait_sem, wait_mutex, wait_join, wait_barrier };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        pthread_create(&t, NULL, fns[i], NULL);
    rel_sleep_ms(k % 3 == 0 ? 60 : 5);
    if (k == ROUNDS - 1)
        _exit(k);
    exit(k);
}

int main(void)
{
    int good = 0;
    for (int k = 0; k < ROUNDS; k++) {
        fflush(stdout);
        pid_t pid = fork();
        REL_CHECK(pid >= 0);
        if (pid == 0)
            child(k);
        int status;
        REL_CHECK(waitpid(pid, &status, 0) == pid);
        if (WIFEXITED(status) && WEXITSTATUS(status) == k)
            good++;
        else
            printf("round %d: status 0x%x\n", k, status);
    }
    printf("ok_rel_exit: %d of %d exits with blocked threads kept their status\n", good, ROUNDS);
    /* And the process itself exits with blocked threads (no fork). */
    sem_init(&sem, 0, 0);
    pthread_t t;
    pthread_create(&t, NULL, wait_sem, NULL);
    rel_sleep_ms(30);
    exit(good == ROUNDS ? 6 : 1);
}
