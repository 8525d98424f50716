/*
 * Two lock-order cycles, the second found only if the first one's merge keeps the order of the
 * locks after it. Six threads take turns (through semaphores, which order nothing for poolguard),
 * each taking one pair: A then C, E then D, C then D, C then B, B then A (the ring A, C, B), and
 * D then E (against E then D). Nothing deadlocks in this run; both cycles can on another.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

enum { A, B, C, D, E, NLOCKS };
static pthread_mutex_t locks[NLOCKS] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                                        PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                                        PTHREAD_MUTEX_INITIALIZER};
static const int turns[][2] = {{A, C}, {E, D}, {C, D}, {C, B}, {B, A}, {D, E}};
#define NTURNS (int)(sizeof turns / sizeof turns[0])
static sem_t turn[NTURNS];

void take_second_while_holding_first(int first, int second)
{
    pthread_mutex_lock(&locks[first]);
    pthread_mutex_lock(&locks[second]);
    pthread_mutex_unlock(&locks[second]);
    pthread_mutex_unlock(&locks[first]);
}

static void *worker(void *arg)
{
    int i = (int)(long)arg;
    sem_wait(&turn[i]);
    take_second_while_holding_first(turns[i][0], turns[i][1]);
    if (i + 1 < NTURNS)
        sem_post(&turn[i + 1]);
    return NULL;
}

int main(void)
{
    pthread_t t[NTURNS];
    for (long i = 0; i < NTURNS; i++) {
        sem_init(&turn[i], 0, 0);
        pthread_create(&t[i], NULL, worker, (void *)i);
    }
    sem_post(&turn[0]);
    for (int i = 0; i < NTURNS; i++)
        pthread_join(t[i], NULL);
    printf("lo_after_merge: done\n");
    return 0;
}
