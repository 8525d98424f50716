/*
 * Linked statically (Makefile), so LD_PRELOAD has no effect and the shim never loads: two threads
 * take two mutexes in opposite orders and deadlock. For `poolguard run --timeout`, whose snapshot
 * of a program that does not answer comes from attach (tests/e2e/check_run_shim.c). Prints
 * "ready", then hangs until killed.
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t pallets = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t labels = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;

static void *pack_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pallets);
    pthread_barrier_wait(&both_hold);
    pthread_mutex_lock(&labels);
    return NULL;
}

static void *label_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&labels);
    pthread_barrier_wait(&both_hold);
    pthread_mutex_lock(&pallets);
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    pthread_barrier_init(&both_hold, NULL, 3);
    pthread_create(&a, NULL, pack_worker, NULL);
    pthread_create(&b, NULL, label_worker, NULL);
    pthread_barrier_wait(&both_hold);
    printf("ready\n");
    fflush(stdout);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
