/*
 * Healthy: four threads run 2000 phases separated by a barrier, each phase summed by the thread
 * the barrier elects (PTHREAD_BARRIER_SERIAL_THREAD). Exits with status 3 on purpose, so that the
 * test also checks that the exit status is preserved under the shim.
 */
#include <pthread.h>
#include <stdio.h>

#define THREADS 4
#define ROUNDS 2000

static pthread_barrier_t phase;
static long slot[THREADS];
static long total, serial_count;

static void *phase_worker(void *arg)
{
    long id = (long)arg;
    for (int r = 0; r < ROUNDS; r++) {
        slot[id] = id + r;
        int rc = pthread_barrier_wait(&phase);
        if (rc == PTHREAD_BARRIER_SERIAL_THREAD) {
            serial_count++;
            for (int i = 0; i < THREADS; i++)
                total += slot[i];
        }
        pthread_barrier_wait(&phase);   /* nobody rewrites slot[] before it is summed */
    }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];

    printf("ok_barrier: start\n");
    pthread_barrier_init(&phase, NULL, THREADS);
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, phase_worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&phase);
    printf("rounds=%d serial=%ld total=%ld\n", ROUNDS, serial_count, total);
    printf("ok_barrier: done, exiting with 3\n");
    return 3;
}
