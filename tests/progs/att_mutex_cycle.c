/*
 * Two threads take two mutexes in opposite orders and deadlock; started without the shim, for
 * `poolguard attach` and `poolguard core` (tests/e2e/check_attach.c). Prints "ready" once both threads
 * hold their first lock and are about to take the second, then hangs until killed.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t accounts = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t ledger = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;

static void *transfer_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&accounts);
    pthread_barrier_wait(&both_hold);
    pthread_mutex_lock(&ledger);
    return NULL;
}

static void *audit_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&ledger);
    pthread_barrier_wait(&both_hold);
    pthread_mutex_lock(&accounts);
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    pthread_barrier_init(&both_hold, NULL, 3);
    pthread_create(&a, NULL, transfer_worker, NULL);
    pthread_create(&b, NULL, audit_worker, NULL);
    pthread_barrier_wait(&both_hold);
    printf("ready\n");
    fflush(stdout);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
