/*
 * A three-thread cycle through a mutex and two joins, started without the shim: main holds
 * `registry` and joins the loader; the loader joins the indexer; the indexer waits for
 * `registry`. For `poolguard attach` (tests/e2e/check_attach.c). Prints "ready", then hangs.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t started;

static void *indexer_thread(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&started);
    pthread_mutex_lock(&registry);
    pthread_mutex_unlock(&registry);
    return NULL;
}

static void *loader_thread(void *arg)
{
    (void)arg;
    pthread_t idx;
    pthread_create(&idx, NULL, indexer_thread, NULL);
    pthread_join(idx, NULL);
    return NULL;
}

int main(void)
{
    pthread_t loader;
    pthread_barrier_init(&started, NULL, 2);
    pthread_mutex_lock(&registry);
    pthread_create(&loader, NULL, loader_thread, NULL);
    pthread_barrier_wait(&started);
    printf("ready\n");
    fflush(stdout);
    pthread_join(loader, NULL);
    pthread_mutex_unlock(&registry);
    return 0;
}
