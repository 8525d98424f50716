/*
 * Deadlocks on purpose after changing its working directory: run with a relative POOLGUARD_DIR,
 * the report must be in that directory relative to where the program started, not to where it
 * went. Prints "rel_chdir: start", chdir()s to argv[1], then runs a two-thread lock inversion
 * (chdir_thread_a / chdir_thread_b, blocking in chdir_lock_second).
 */
#include "rel_common.h"

#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;

void chdir_lock_second(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
}

void *chdir_thread_a(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_a);
    pthread_barrier_wait(&both_hold);
    chdir_lock_second(&lock_b);
    pthread_mutex_unlock(&lock_a);
    return NULL;
}

void *chdir_thread_b(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_b);
    pthread_barrier_wait(&both_hold);
    chdir_lock_second(&lock_a);
    pthread_mutex_unlock(&lock_b);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    printf("rel_chdir: start\n");
    fflush(stdout);
    REL_CHECK(chdir(argv[1]) == 0);
    pthread_t a, b;
    pthread_barrier_init(&both_hold, NULL, 2);
    pthread_create(&a, NULL, chdir_thread_a, NULL);
    pthread_create(&b, NULL, chdir_thread_b, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
