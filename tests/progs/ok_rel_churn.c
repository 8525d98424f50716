/*
 * Healthy: thread churn. `ok_rel_churn N` (default 100000) creates and ends N threads, at most 8
 * alive at once: joinable ones joined in batches, and every fourth batch detached threads that
 * signal a semaphore as they end. Each thread takes a mutex once. Prints memory figures (rel_mem)
 * on stderr: the thread table must follow the threads alive, not the threads ever created.
 */
#include "rel_common.h"

#include <pthread.h>
#include <semaphore.h>

#define BATCH 8

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static sem_t detached_done;
static long total;

static void *short_life(void *arg)
{
    pthread_mutex_lock(&m);
    total += (long)arg & 1;
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *short_detached(void *arg)
{
    short_life(arg);
    sem_post(&detached_done);
    return NULL;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    sem_init(&detached_done, 0, 0);
    /* Small stacks stay in the C library's stack cache: creation costs a clone, not an mmap. */
    pthread_attr_t joinable, detached;
    pthread_attr_init(&joinable);
    pthread_attr_setstacksize(&joinable, 64 * 1024);
    pthread_attr_init(&detached);
    pthread_attr_setstacksize(&detached, 64 * 1024);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    long created = 0;
    for (long b = 0; created < n; b++) {
        pthread_t t[BATCH];
        int k = 0;
        for (; k < BATCH && created < n; k++, created++) {
            int r = b % 4 == 3 ? pthread_create(&t[k], &detached, short_detached, (void *)created)
                               : pthread_create(&t[k], &joinable, short_life, (void *)created);
            REL_CHECK(r == 0);
        }
        for (int i = 0; i < k; i++) {
            if (b % 4 == 3)
                while (sem_wait(&detached_done) != 0)
                    REL_CHECK(errno == EINTR);
            else
                pthread_join(t[i], NULL);
        }
    }
    printf("ok_rel_churn: %ld threads, total %ld\n", created, total);
    rel_print_mem();
    return 0;
}
