/*
 * Lock orders that look inconsistent but cannot deadlock, each in its own phase; the program
 * exits 0 and must get no finding:
 *  - gate: A then B and B then A, but always while holding G;
 *  - trylock: A then trylock(B), and B then A: the trylock cannot block;
 *  - one thread: A then B and B then A, both in the same thread;
 *  - reuse: A then B in one thread, then both destroyed and their memory reused for new locks
 *    taken in the opposite order by another thread.
 * Every phase's thread exists from the start and waits for its turn on a semaphore, so thread
 * creation and join order none of the phases: each is silenced by its own rule. The one-thread
 * phase is reported by default (as a one-thread finding); the test turns that off.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t c = PTHREAD_MUTEX_INITIALIZER, d = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t e = PTHREAD_MUTEX_INITIALIZER, f = PTHREAD_MUTEX_INITIALIZER;

static void nested(pthread_mutex_t *x, pthread_mutex_t *y)
{
    pthread_mutex_lock(x);
    pthread_mutex_lock(y);
    pthread_mutex_unlock(y);
    pthread_mutex_unlock(x);
}

static void *gated_ab(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate);
    nested(&a, &b);
    pthread_mutex_unlock(&gate);
    return NULL;
}

static void *gated_ba(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate);
    nested(&b, &a);
    pthread_mutex_unlock(&gate);
    return NULL;
}

static void *try_cd(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&c);
    if (pthread_mutex_trylock(&d) == 0)
        pthread_mutex_unlock(&d);
    pthread_mutex_unlock(&c);
    return NULL;
}

static void *lock_dc(void *arg)
{
    (void)arg;
    nested(&d, &c);
    return NULL;
}

static void *one_thread_both_orders(void *arg)
{
    (void)arg;
    nested(&e, &f);
    nested(&f, &e);
    return NULL;
}

struct pair {
    pthread_mutex_t x, y;
};

static struct pair *shared_pair;

static void *pair_xy(void *arg)
{
    (void)arg;
    nested(&shared_pair->x, &shared_pair->y);
    return NULL;
}

static void *pair_yx(void *arg)
{
    (void)arg;
    nested(&shared_pair->y, &shared_pair->x);
    return NULL;
}

enum { PHASES = 7 };
static void *(*const phase_fn[PHASES])(void *) = {gated_ab, gated_ba, try_cd, lock_dc,
                                                   one_thread_both_orders, pair_xy, pair_yx};
static sem_t turn[PHASES], done[PHASES];

static void *phase(void *arg)
{
    long k = (long)arg;
    sem_wait(&turn[k]);
    phase_fn[k](NULL);
    sem_post(&done[k]);
    return NULL;
}

static void run(int k)
{
    sem_post(&turn[k]);
    sem_wait(&done[k]);
}

int main(void)
{
    pthread_t t[PHASES];
    for (long k = 0; k < PHASES; k++) {
        sem_init(&turn[k], 0, 0);
        sem_init(&done[k], 0, 0);
        pthread_create(&t[k], NULL, phase, (void *)k);
    }
    for (int k = 0; k < 5; k++)
        run(k);

    struct pair *p = malloc(sizeof *p);
    pthread_mutex_init(&p->x, NULL);
    pthread_mutex_init(&p->y, NULL);
    shared_pair = p;
    run(5);
    pthread_mutex_destroy(&p->x);
    pthread_mutex_destroy(&p->y);
    free(p);
    /* Same size, most likely the same memory: new locks, unrelated to the old ones. */
    struct pair *q = malloc(sizeof *q);
    pthread_mutex_init(&q->y, NULL);
    pthread_mutex_init(&q->x, NULL);
    shared_pair = q;
    run(6);
    pthread_mutex_destroy(&q->x);
    pthread_mutex_destroy(&q->y);
    free(q);
    for (int k = 0; k < PHASES; k++)
        pthread_join(t[k], NULL);
    printf("ok_lo_orders: %s\n", p == q ? "memory reused" : "memory not reused");
    return 0;
}
