/*
 * A million distinct lock pairs: 1415 locks, each taken while holding every lock before it
 * (1,000,405 pairs, one consistent order: no cycle). Then one thread, alive since the start, takes
 * the first lock while holding the last: the only inversion, which must still be found, with no
 * warning that pairs were dropped.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

#define NLOCKS 1415

static pthread_mutex_t *locks;
static sem_t go;

void take_every_pair_in_order(void)
{
    for (int i = 0; i < NLOCKS; i++) {
        pthread_mutex_lock(&locks[i]);
        for (int j = i + 1; j < NLOCKS; j++) {
            pthread_mutex_lock(&locks[j]);
            pthread_mutex_unlock(&locks[j]);
        }
        pthread_mutex_unlock(&locks[i]);
    }
}

void take_first_while_holding_last(void)
{
    pthread_mutex_lock(&locks[NLOCKS - 1]);
    pthread_mutex_lock(&locks[0]);
    pthread_mutex_unlock(&locks[0]);
    pthread_mutex_unlock(&locks[NLOCKS - 1]);
}

static void *inverter(void *arg)
{
    (void)arg;
    sem_wait(&go);
    take_first_while_holding_last();
    return NULL;
}

int main(void)
{
    locks = calloc(NLOCKS, sizeof *locks);
    for (int i = 0; i < NLOCKS; i++)
        pthread_mutex_init(&locks[i], NULL);
    sem_init(&go, 0, 0);
    pthread_t t;
    pthread_create(&t, NULL, inverter, NULL);
    take_every_pair_in_order();
    sem_post(&go);
    pthread_join(t, NULL);
    printf("lo_million: %d pairs\n", NLOCKS * (NLOCKS - 1) / 2);
    return 0;
}
