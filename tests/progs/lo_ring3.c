/*
 * Three locks, three threads, one after another: A then B, B then C, C then A. No two orders
 * conflict directly; together they form a cycle that deadlocks when all three run at once. The
 * threads all exist from the start and take turns through semaphores, which order nothing for
 * poolguard: on another run the turns could overlap.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

static pthread_mutex_t locks[3] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                                   PTHREAD_MUTEX_INITIALIZER};
static sem_t turn[3];

void take_next_while_holding(int i)
{
    pthread_mutex_lock(&locks[i]);
    pthread_mutex_lock(&locks[(i + 1) % 3]);
    pthread_mutex_unlock(&locks[(i + 1) % 3]);
    pthread_mutex_unlock(&locks[i]);
}

static void *worker(void *arg)
{
    int i = (int)(long)arg;
    sem_wait(&turn[i]);
    take_next_while_holding(i);
    if (i < 2)
        sem_post(&turn[i + 1]);
    return NULL;
}

int main(void)
{
    pthread_t t[3];
    for (long i = 0; i < 3; i++) {
        sem_init(&turn[i], 0, 0);
        pthread_create(&t[i], NULL, worker, (void *)i);
    }
    sem_post(&turn[0]);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    printf("lo_ring3: done\n");
    return 0;
}
