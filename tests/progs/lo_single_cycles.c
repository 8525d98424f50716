/*
 * Lock-order cycles taken by one thread only, as in Helgrind's tc13/tc15 and TSan's
 * mutex_cycle2 and mutex_cycle_long: rings of 2, 5 and 20 locks, each lock of a ring taken while
 * holding the one before it, and the last while holding... the first again. One thread never
 * deadlocks with itself here, but two threads running these paths at once would: each ring is one
 * lock_order warning marked single_thread.
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t ring2[2], ring5[5], ring20[20];

static void nested(pthread_mutex_t *x, pthread_mutex_t *y)
{
    pthread_mutex_lock(x);
    pthread_mutex_lock(y);
    pthread_mutex_unlock(y);
    pthread_mutex_unlock(x);
}

void ring_of_2(void)
{
    for (int i = 0; i < 2; i++)
        nested(&ring2[i], &ring2[(i + 1) % 2]);
}

void ring_of_5(void)
{
    for (int i = 0; i < 5; i++)
        nested(&ring5[i], &ring5[(i + 1) % 5]);
}

void ring_of_20(void)
{
    for (int i = 0; i < 20; i++)
        nested(&ring20[i], &ring20[(i + 1) % 20]);
}

int main(void)
{
    for (int i = 0; i < 20; i++) {
        if (i < 2)
            pthread_mutex_init(&ring2[i], NULL);
        if (i < 5)
            pthread_mutex_init(&ring5[i], NULL);
        pthread_mutex_init(&ring20[i], NULL);
    }
    ring_of_2();
    ring_of_5();
    ring_of_20();
    printf("lo_single_cycles: done\n");
    return 0;
}
