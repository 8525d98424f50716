/*
 * Deadlocks on purpose inside an atexit handler: main holds lock_a and calls exit(); exit_handler
 * then wants lock_b, held by atexit_worker, which itself waits for lock_a. A two-thread cycle found
 * while the process is exiting; the main thread's stack has exit_handler. Prints "rel_atexit: start".
 */
#include "rel_common.h"

#include <pthread.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;

void atexit_lock_second(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
}

void *atexit_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_b);
    pthread_barrier_wait(&both_hold);
    atexit_lock_second(&lock_a);
    pthread_mutex_unlock(&lock_b);
    return NULL;
}

void exit_handler(void)
{
    atexit_lock_second(&lock_b);
}

int main(void)
{
    printf("rel_atexit: start\n");
    fflush(stdout);
    atexit(exit_handler);
    pthread_barrier_init(&both_hold, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, atexit_worker, NULL);
    pthread_mutex_lock(&lock_a);
    pthread_barrier_wait(&both_hold);
    exit(0);
}
