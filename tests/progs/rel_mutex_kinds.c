/*
 * Deadlocks on purpose through mutexes of the type named by argv[1]: recursive, errorcheck,
 * inherit (PTHREAD_PRIO_INHERIT) or robust (owner alive: a real deadlock). kinds_thread_a holds
 * lock_a and wants lock_b, kinds_thread_b the reverse, both in kinds_lock_second; the recursive
 * variant takes its first lock twice. Prints "rel_mutex_kinds: start <type>".
 */
#include "rel_common.h"

#include <pthread.h>

static pthread_mutex_t lock_a, lock_b;
static pthread_barrier_t both_hold;
static int recursive;

void kinds_lock_second(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
}

static void side(pthread_mutex_t *first, pthread_mutex_t *second)
{
    pthread_mutex_lock(first);
    if (recursive)
        pthread_mutex_lock(first);
    pthread_barrier_wait(&both_hold);
    kinds_lock_second(second);
    pthread_mutex_unlock(first);
}

void *kinds_thread_a(void *arg)
{
    (void)arg;
    side(&lock_a, &lock_b);
    return NULL;
}

void *kinds_thread_b(void *arg)
{
    (void)arg;
    side(&lock_b, &lock_a);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *kind = argc > 1 ? argv[1] : "recursive";
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    if (strcmp(kind, "recursive") == 0) {
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
        recursive = 1;
    } else if (strcmp(kind, "errorcheck") == 0) {
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    } else if (strcmp(kind, "inherit") == 0) {
        pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
    } else if (strcmp(kind, "robust") == 0) {
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    } else {
        return 2;
    }
    REL_CHECK(pthread_mutex_init(&lock_a, &a) == 0);
    REL_CHECK(pthread_mutex_init(&lock_b, &a) == 0);
    printf("rel_mutex_kinds: start %s\n", kind);
    fflush(stdout);
    pthread_barrier_init(&both_hold, NULL, 2);
    pthread_t x, y;
    pthread_create(&x, NULL, kinds_thread_a, NULL);
    pthread_create(&y, NULL, kinds_thread_b, NULL);
    pthread_join(x, NULL);
    pthread_join(y, NULL);
    return 0;
}
