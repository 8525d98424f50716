/*
 * Healthy: pthreads used outside main, where a preloaded library is easy to break: a constructor
 * that starts and joins a thread and takes mutexes before main runs, and an atexit handler and a
 * destructor that do the same while the process exits (after main returned, possibly after the
 * shim's own exit work). Exits with status 4 on purpose.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int flag;
static long work;

static void *helper(void *arg)
{
    pthread_mutex_lock(&m);
    work += (long)arg;
    flag = 1;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
    return NULL;
}

static void round_trip(long amount)
{
    pthread_t t;
    pthread_mutex_lock(&m);
    flag = 0;
    pthread_mutex_unlock(&m);
    pthread_create(&t, NULL, helper, (void *)amount);
    pthread_mutex_lock(&m);
    while (!flag)
        pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
    pthread_join(t, NULL);
}

__attribute__((constructor)) static void early(void)
{
    round_trip(1);
}

static void at_exit_handler(void)
{
    round_trip(100);
    printf("atexit: work=%ld\n", work);
    fflush(stdout);
}

__attribute__((destructor)) static void late(void)
{
    round_trip(1000);
    printf("destructor: work=%ld\n", work);
    fflush(stdout);
}

int main(void)
{
    printf("ok_ctor: start, work=%ld\n", work);
    atexit(at_exit_handler);
    round_trip(10);
    printf("ok_ctor: main done, work=%ld, exiting with 4\n", work);
    return 4;
}
