/*
 * Three locks, three threads, one after another: A then B, B then C, C then A. No two orders
 * conflict directly; together they form a cycle that deadlocks when all three run at once.
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t locks[3] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                                   PTHREAD_MUTEX_INITIALIZER};

void take_next_while_holding(int i)
{
    pthread_mutex_lock(&locks[i]);
    pthread_mutex_lock(&locks[(i + 1) % 3]);
    pthread_mutex_unlock(&locks[(i + 1) % 3]);
    pthread_mutex_unlock(&locks[i]);
}

static void *worker(void *arg)
{
    take_next_while_holding((int)(long)arg);
    return NULL;
}

int main(void)
{
    for (long i = 0; i < 3; i++) {
        pthread_t t;
        pthread_create(&t, NULL, worker, (void *)i);
        pthread_join(t, NULL);
    }
    printf("lo_ring3: done\n");
    return 0;
}
