/*
 * Healthy: producers and consumers over a bounded buffer, first guarded by a mutex and two
 * condvars, then by two counting semaphores; shut down cleanly with one poison item per consumer.
 * Consumers spend much of their time blocked in untimed waits that a live producer will end, which
 * is not a hang: the shim must produce no finding, and the sums printed must be the same.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

#define CAP 8
#define PRODUCERS 3
#define CONSUMERS 3
#define ITEMS 20000
#define POISON (-1L)

/* Condvar queue. */
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_not_full = PTHREAD_COND_INITIALIZER;
static long q_buf[CAP];
static int q_head, q_len;
static long cond_sum, cond_count;

static void cq_put(long v)
{
    pthread_mutex_lock(&q_lock);
    while (q_len == CAP)
        pthread_cond_wait(&q_not_full, &q_lock);
    q_buf[(q_head + q_len) % CAP] = v;
    q_len++;
    pthread_cond_signal(&q_not_empty);
    pthread_mutex_unlock(&q_lock);
}

static long cq_take(void)
{
    pthread_mutex_lock(&q_lock);
    while (q_len == 0)
        pthread_cond_wait(&q_not_empty, &q_lock);
    long v = q_buf[q_head];
    q_head = (q_head + 1) % CAP;
    q_len--;
    pthread_cond_signal(&q_not_full);
    pthread_mutex_unlock(&q_lock);
    return v;
}

static void *cond_producer(void *arg)
{
    long base = (long)arg * ITEMS;
    for (long i = 1; i <= ITEMS; i++)
        cq_put(base + i);
    return NULL;
}

static void *cond_consumer(void *arg)
{
    (void)arg;
    for (;;) {
        long v = cq_take();
        if (v == POISON)
            return NULL;
        pthread_mutex_lock(&q_lock);
        cond_sum += v;
        cond_count++;
        pthread_mutex_unlock(&q_lock);
    }
}

/* Semaphore queue. */
static sem_t s_slots, s_items;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static long s_buf[CAP];
static int s_head, s_tail;
static long sem_sum, sem_count;

static void sq_put(long v)
{
    while (sem_wait(&s_slots) != 0)
        ;
    pthread_mutex_lock(&s_lock);
    s_buf[s_tail] = v;
    s_tail = (s_tail + 1) % CAP;
    pthread_mutex_unlock(&s_lock);
    sem_post(&s_items);
}

static long sq_take(void)
{
    while (sem_wait(&s_items) != 0)
        ;
    pthread_mutex_lock(&s_lock);
    long v = s_buf[s_head];
    s_head = (s_head + 1) % CAP;
    pthread_mutex_unlock(&s_lock);
    sem_post(&s_slots);
    return v;
}

static void *sem_producer(void *arg)
{
    long base = (long)arg * ITEMS;
    for (long i = 1; i <= ITEMS; i++)
        sq_put(base + i);
    return NULL;
}

static void *sem_consumer(void *arg)
{
    (void)arg;
    for (;;) {
        long v = sq_take();
        if (v == POISON)
            return NULL;
        pthread_mutex_lock(&s_lock);
        sem_sum += v;
        sem_count++;
        pthread_mutex_unlock(&s_lock);
    }
}

int main(void)
{
    pthread_t p[PRODUCERS], c[CONSUMERS];

    printf("ok_prodcons: start\n");

    for (long i = 0; i < CONSUMERS; i++)
        pthread_create(&c[i], NULL, cond_consumer, NULL);
    for (long i = 0; i < PRODUCERS; i++)
        pthread_create(&p[i], NULL, cond_producer, (void *)i);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(p[i], NULL);
    for (int i = 0; i < CONSUMERS; i++)
        cq_put(POISON);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(c[i], NULL);
    printf("condvar queue: items=%ld sum=%ld\n", cond_count, cond_sum);

    sem_init(&s_slots, 0, CAP);
    sem_init(&s_items, 0, 0);
    for (long i = 0; i < CONSUMERS; i++)
        pthread_create(&c[i], NULL, sem_consumer, NULL);
    for (long i = 0; i < PRODUCERS; i++)
        pthread_create(&p[i], NULL, sem_producer, (void *)i);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(p[i], NULL);
    for (int i = 0; i < CONSUMERS; i++)
        sq_put(POISON);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(c[i], NULL);
    sem_destroy(&s_slots);
    sem_destroy(&s_items);
    printf("semaphore queue: items=%ld sum=%ld\n", sem_count, sem_sum);

    printf("ok_prodcons: done\n");
    return 0;
}
