/*
 * A hang inside pthread_cond_destroy: a worker waits on a condition variable nobody will signal,
 * and main destroys the condition. glibc 2.36 makes the destroy wait until the waiter has left,
 * so both threads are blocked for ever; the report must show main blocked in the destroy, waiting
 * for the worker.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int ready;

void wait_for_nothing(void)
{
    pthread_mutex_lock(&m);
    while (!ready)
        pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
}

void destroy_while_waited_on(void)
{
    pthread_cond_destroy(&c);
}

static void *worker(void *arg)
{
    (void)arg;
    wait_for_nothing();
    return NULL;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    printf("dl_cond_destroy: start\n");
    fflush(stdout);
    destroy_while_waited_on();
    pthread_join(t, NULL);
    return 0;
}
