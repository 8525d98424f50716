/*
 * Deadlocks on purpose, but only after 3000 short-lived threads have come and gone (in batches of
 * 50, each taking a mutex). The shim's thread table is fixed-size: it must reuse the slots of
 * threads that ended, or it would be full by the time the real deadlock happens. Then the same lock
 * inversion as dl_lock_inversion, through churn_thread_a / churn_thread_b and churn_lock_second.
 */
#include <pthread.h>
#include <stdio.h>

#define BATCHES 60
#define BATCH 50

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold_first;
static long churned;
static volatile int progress;

static void *short_lived(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&count_lock);
    churned++;
    pthread_mutex_unlock(&count_lock);
    return NULL;
}

void churn_lock_second(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    progress++;
}

void *churn_thread_a(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_a);
    pthread_barrier_wait(&both_hold_first);
    churn_lock_second(&lock_b);
    return NULL;
}

void *churn_thread_b(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_b);
    pthread_barrier_wait(&both_hold_first);
    churn_lock_second(&lock_a);
    return NULL;
}

int main(void)
{
    pthread_t t[BATCH], a, b;

    printf("dl_after_churn: start\n");
    fflush(stdout);
    for (int i = 0; i < BATCHES; i++) {
        for (int j = 0; j < BATCH; j++)
            pthread_create(&t[j], NULL, short_lived, NULL);
        for (int j = 0; j < BATCH; j++)
            pthread_join(t[j], NULL);
    }
    printf("churned %ld threads\n", churned);
    fflush(stdout);
    pthread_barrier_init(&both_hold_first, NULL, 2);
    pthread_create(&a, NULL, churn_thread_a, NULL);
    pthread_create(&b, NULL, churn_thread_b, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
