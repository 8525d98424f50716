/*
 * A lock whose owner exited: the thread "locker" takes a mutex in take_lock_and_return and ends
 * without unlocking it; main, after joining it, waits for that mutex for ever. The report must name
 * the dead owner, its start routine and where it took the lock.
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

void take_lock_and_return(void)
{
    pthread_mutex_lock(&m);
}

static void *locker(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "locker");
    take_lock_and_return();
    return NULL;
}

void wait_for_abandoned_lock(void)
{
    pthread_mutex_lock(&m);
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, locker, NULL);
    pthread_join(t, NULL);
    printf("dl_owner_exited: start\n");
    fflush(stdout);
    wait_for_abandoned_lock();
    return 0;
}
