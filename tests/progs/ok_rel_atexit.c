/*
 * Healthy: locks in atexit handlers and destructors while other threads still run. main starts a
 * worker that keeps taking a mutex, then returns with status 9; the atexit handler takes that mutex,
 * stops the worker through a condition variable, joins it, and takes a recursive mutex twice; a
 * second exit path (a non-main thread calling exit() while main is blocked in pthread_join) runs
 * in a forked child. Output and status must be the same with and without the shim.
 */
#include "rel_common.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t rec;
static int stop, stopped;
static long spins;
static pthread_t worker_thread;

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    while (!stop) {
        spins++;
        pthread_mutex_unlock(&m);
        rel_sleep_ms(1);
        pthread_mutex_lock(&m);
    }
    stopped = 1;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
    return NULL;
}

static void handler(void)
{
    pthread_mutex_lock(&m);
    stop = 1;
    while (!stopped)
        pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
    pthread_join(worker_thread, NULL);
    pthread_mutex_lock(&rec);
    pthread_mutex_lock(&rec);
    printf("atexit: worker stopped%s\n", spins > 0 ? " after spinning" : "");
    pthread_mutex_unlock(&rec);
    pthread_mutex_unlock(&rec);
    fflush(stdout);
}

static void *exits_process(void *arg)
{
    (void)arg;
    rel_sleep_ms(50);
    exit(5);
}

int main(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&rec, &a);

    fflush(stdout);
    pid_t pid = fork();
    REL_CHECK(pid >= 0);
    if (pid == 0) {
        /* The child: a thread calls exit() while main is blocked joining it. */
        pthread_t t;
        pthread_create(&t, NULL, exits_process, NULL);
        pthread_join(t, NULL);
        _exit(1);
    }
    int status;
    REL_CHECK(waitpid(pid, &status, 0) == pid);
    printf("child: exit called from a thread gave %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    atexit(handler);
    pthread_create(&worker_thread, NULL, worker, NULL);
    rel_sleep_ms(20);
    printf("main: returning 9\n");
    return 9;
}
