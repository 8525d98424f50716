/*
 * A three-thread cycle through a read-write lock, a mutex and a join, started without the shim:
 * main write-locks `catalog` and joins the publisher; the publisher waits for `journal`, which the
 * compactor holds; the compactor waits to write-lock `catalog`. For `poolguard attach`
 * (tests/e2e/check_attach.c). The rwlock is held for WRITING: glibc keeps the writer's tid in the
 * lock, but not who holds it for reading, so only a write-held rwlock gives attach every edge.
 * Prints "ready", then hangs until killed.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_rwlock_t catalog = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t journal = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t started;

static void *compactor_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&journal);
    pthread_barrier_wait(&started);
    pthread_rwlock_wrlock(&catalog);
    pthread_rwlock_unlock(&catalog);
    pthread_mutex_unlock(&journal);
    return NULL;
}

static void *publisher_thread(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&started);
    pthread_mutex_lock(&journal);
    pthread_mutex_unlock(&journal);
    return NULL;
}

int main(void)
{
    pthread_t publisher, compactor;
    pthread_barrier_init(&started, NULL, 3);
    pthread_rwlock_wrlock(&catalog);
    pthread_create(&compactor, NULL, compactor_thread, NULL);
    pthread_create(&publisher, NULL, publisher_thread, NULL);
    pthread_barrier_wait(&started);
    printf("ready\n");
    fflush(stdout);
    pthread_join(publisher, NULL);
    pthread_rwlock_unlock(&catalog);
    pthread_join(compactor, NULL);
    return 0;
}
