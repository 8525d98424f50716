/*
 * Deadlocks on purpose through a join: main takes config_lock, starts worker_needs_lock (which
 * needs config_lock), and joins it in join_while_holding without letting go of the lock. The e2e
 * test expects a two-thread cycle of kinds join (main) and mutex (the worker), with main's stack
 * showing join_while_holding and the worker's showing worker_needs_lock.
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int progress;

void *worker_needs_lock(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&config_lock);
    progress++;
    pthread_mutex_unlock(&config_lock);
    return NULL;
}

void join_while_holding(pthread_t worker)
{
    pthread_join(worker, NULL);
    progress++;
}

int main(void)
{
    pthread_t worker;

    printf("dl_join_holding: start\n");
    fflush(stdout);
    pthread_mutex_lock(&config_lock);
    pthread_create(&worker, NULL, worker_needs_lock, NULL);
    join_while_holding(worker);
    pthread_mutex_unlock(&config_lock);
    printf("dl_join_holding: unreachable\n");
    return 0;
}
