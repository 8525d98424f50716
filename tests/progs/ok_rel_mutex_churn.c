/*
 * Healthy: millions of synchronization objects, most used once, their memory reused at once.
 *   - 2,000,000 heap mutexes: malloc, init, lock, unlock, destroy, free (the allocator hands the
 *     same addresses out again), some taken by two threads at once;
 *   - 1,000,000 mutexes on the stack of a recursive function (the same addresses, other objects);
 *   - 100,000 rounds of a hand-off through a freshly allocated mutex + condition variable +
 *     semaphore between two threads (real waits on objects that die right after), freed each
 *     round.
 * Prints memory figures (rel_mem) on stderr: the shim must not keep anything per object.
 */
#include "rel_common.h"

#include <pthread.h>
#include <semaphore.h>

struct box {
    pthread_mutex_t m;
    pthread_cond_t c;
    sem_t s;
    int state;
    long payload[4];
};

static long heap_sum, stack_sum, handoffs;

static void *heap_worker(void *arg)
{
    long id = (long)arg;
    for (long i = 0; i < 1000000; i++) {
        struct box *b = malloc(sizeof *b);
        pthread_mutex_init(&b->m, NULL);
        pthread_mutex_lock(&b->m);
        b->payload[0] = i + id;
        pthread_mutex_unlock(&b->m);
        pthread_mutex_destroy(&b->m);
        __atomic_add_fetch(&heap_sum, b->payload[0] & 1, __ATOMIC_RELAXED);
        free(b);
    }
    return NULL;
}

static long on_stack(int depth, long i)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&m);
    long v = depth > 0 ? on_stack(depth - 1, i) + 1 : i & 3;
    pthread_mutex_unlock(&m);
    return v;
}

static struct box *volatile current;
static sem_t box_ready, box_done;

static void *handoff_partner(void *arg)
{
    long rounds = (long)arg;
    for (long i = 0; i < rounds; i++) {
        while (sem_wait(&box_ready) != 0)
            ;
        struct box *b = current;
        pthread_mutex_lock(&b->m);
        b->state = 1;
        pthread_cond_signal(&b->c);
        pthread_mutex_unlock(&b->m);
        while (sem_wait(&b->s) != 0)
            ;
        sem_post(&box_done);
    }
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    pthread_create(&a, NULL, heap_worker, (void *)0L);
    pthread_create(&b, NULL, heap_worker, (void *)1L);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("heap mutexes: 2000000, sum %ld\n", heap_sum);

    for (long i = 0; i < 100000; i++)
        stack_sum += on_stack(9, i);
    printf("stack mutexes: 1000000, sum %ld\n", stack_sum);

    enum { ROUNDS = 100000 };
    sem_init(&box_ready, 0, 0);
    sem_init(&box_done, 0, 0);
    pthread_create(&a, NULL, handoff_partner, (void *)(long)ROUNDS);
    for (long i = 0; i < ROUNDS; i++) {
        struct box *bx = malloc(sizeof *bx);
        pthread_mutex_init(&bx->m, NULL);
        pthread_cond_init(&bx->c, NULL);
        sem_init(&bx->s, 0, 0);
        bx->state = 0;
        current = bx;
        pthread_mutex_lock(&bx->m);
        sem_post(&box_ready);
        while (bx->state == 0)
            pthread_cond_wait(&bx->c, &bx->m);
        pthread_mutex_unlock(&bx->m);
        sem_post(&bx->s);
        while (sem_wait(&box_done) != 0)
            ;
        handoffs++;
        pthread_cond_destroy(&bx->c);
        pthread_mutex_destroy(&bx->m);
        sem_destroy(&bx->s);
        free(bx);
    }
    pthread_join(a, NULL);
    printf("hand-offs through fresh objects: %ld\n", handoffs);
    rel_print_mem();
    return 0;
}
