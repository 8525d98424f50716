/*
 * Healthy: six threads hammer a default, a recursive and an error-checking mutex, with trylock
 * mixed in; then single-threaded checks of the error numbers the mutex types return (EDEADLK,
 * EPERM, EBUSY, EOWNERDEAD for a robust mutex whose owner died). Under the shim it must produce no
 * finding (an error-checking relock returns EDEADLK, it is not a self-deadlock), and print the
 * same thing as without it: the hooks keep each function's exact contract.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define THREADS 6
#define ITERS 40000

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t rec_lock;
static pthread_mutex_t err_lock;
static pthread_mutex_t robust_lock;
static long counter, rec_counter, err_counter, try_failures_not_ebusy;

static void rec_bump(int depth)
{
    pthread_mutex_lock(&rec_lock);
    if (depth > 0)
        rec_bump(depth - 1);
    else
        rec_counter++;
    pthread_mutex_unlock(&rec_lock);
}

static void *hammer_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERS; i++) {
        pthread_mutex_lock(&counter_lock);
        counter++;
        pthread_mutex_unlock(&counter_lock);

        rec_bump(2);

        pthread_mutex_lock(&err_lock);
        err_counter++;
        pthread_mutex_unlock(&err_lock);

        if (i % 64 == 0) {
            int rc = pthread_mutex_trylock(&counter_lock);
            if (rc == 0) {
                counter++;
                pthread_mutex_unlock(&counter_lock);
            } else if (rc != EBUSY) {
                __atomic_add_fetch(&try_failures_not_ebusy, 1, __ATOMIC_RELAXED);
            } else {
                pthread_mutex_lock(&counter_lock);
                counter++;
                pthread_mutex_unlock(&counter_lock);
            }
        }
    }
    return NULL;
}

static void *unlock_foreign(void *arg)
{
    return (void *)(long)pthread_mutex_unlock((pthread_mutex_t *)arg);
}

static void *trylock_foreign(void *arg)
{
    return (void *)(long)pthread_mutex_trylock((pthread_mutex_t *)arg);
}

static void *die_holding_robust(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&robust_lock);
    return NULL;    /* exits without unlocking on purpose */
}

static const char *errname(long rc)
{
    switch (rc) {
    case 0: return "0";
    case EBUSY: return "EBUSY";
    case EDEADLK: return "EDEADLK";
    case EPERM: return "EPERM";
    case EOWNERDEAD: return "EOWNERDEAD";
    case EINVAL: return "EINVAL";
    default: return strerror((int)rc);
    }
}

int main(void)
{
    pthread_mutexattr_t attr;
    pthread_t t[THREADS], helper;
    void *ret;

    printf("ok_contended: start\n");
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&rec_lock, &attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&err_lock, &attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_DEFAULT);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&robust_lock, &attr);
    pthread_mutexattr_destroy(&attr);

    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, hammer_thread, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    printf("counter=%ld rec_counter=%ld err_counter=%ld odd_trylock=%ld\n",
           counter, rec_counter, err_counter, try_failures_not_ebusy);

    /* Error-checking mutex: relock by the owner, unlock by a non-owner, unlock when unlocked. */
    pthread_mutex_lock(&err_lock);
    printf("errorcheck relock: %s\n", errname(pthread_mutex_lock(&err_lock)));
    pthread_create(&helper, NULL, unlock_foreign, &err_lock);
    pthread_join(helper, &ret);
    printf("errorcheck foreign unlock: %s\n", errname((long)ret));
    pthread_mutex_unlock(&err_lock);
    printf("errorcheck unlock unlocked: %s\n", errname(pthread_mutex_unlock(&err_lock)));

    /* Default mutex held by main: trylock from another thread is EBUSY. */
    pthread_mutex_lock(&counter_lock);
    pthread_create(&helper, NULL, trylock_foreign, &counter_lock);
    pthread_join(helper, &ret);
    printf("default foreign trylock: %s\n", errname((long)ret));
    pthread_mutex_unlock(&counter_lock);

    /* Recursive mutex: trylock by the owner succeeds and nests. */
    pthread_mutex_lock(&rec_lock);
    printf("recursive owner trylock: %s\n", errname(pthread_mutex_trylock(&rec_lock)));
    pthread_mutex_unlock(&rec_lock);
    pthread_mutex_unlock(&rec_lock);

    /* Robust mutex whose owner died holding it. */
    pthread_create(&helper, NULL, die_holding_robust, NULL);
    pthread_join(helper, NULL);
    int rc = pthread_mutex_lock(&robust_lock);
    printf("robust lock after owner died: %s\n", errname(rc));
    if (rc == EOWNERDEAD)
        printf("robust consistent: %s\n", errname(pthread_mutex_consistent(&robust_lock)));
    printf("robust unlock: %s\n", errname(pthread_mutex_unlock(&robust_lock)));

    printf("ok_contended: done\n");
    return 0;
}
