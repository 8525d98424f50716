/*
 * Deadlocks on purpose with a thread started from .preinit_array, before the shim's constructor
 * ran (so the shim did not create it and saw no creation stack). preinit_thread takes lock_a, then
 * waits for lock_b, which main holds while it waits for lock_a: a two-thread cycle, which the shim
 * must find although one of the threads was tracked only lazily. Prints "rel_preinit: start".
 */
#include "rel_common.h"

#include <pthread.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;

void preinit_lock_second(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
}

void *preinit_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_a);
    pthread_barrier_wait(&both_hold);
    preinit_lock_second(&lock_b);
    pthread_mutex_unlock(&lock_a);
    return NULL;
}

static void preinit(int argc, char **argv, char **envp)
{
    (void)argc, (void)argv, (void)envp;
    pthread_t t;
    pthread_barrier_init(&both_hold, NULL, 2);
    pthread_create(&t, NULL, preinit_thread, NULL);
}

__attribute__((section(".preinit_array"), used)) static void (*preinit_entry)(int, char **, char **) = preinit;

void main_lock_second(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
}

int main(void)
{
    printf("rel_preinit: start\n");
    fflush(stdout);
    pthread_mutex_lock(&lock_b);
    pthread_barrier_wait(&both_hold);
    main_lock_second(&lock_a);
    pthread_mutex_unlock(&lock_b);
    return 0;
}
