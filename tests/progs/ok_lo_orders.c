/*
 * Lock orders that look inconsistent but cannot deadlock, each in its own phase; the program
 * exits 0 and must get no finding:
 *  - gate: A then B and B then A, but always while holding G;
 *  - trylock: A then trylock(B), and B then A: the trylock cannot block;
 *  - one thread: A then B and B then A, both in the same thread;
 *  - reuse: A then B in one thread, then both destroyed and their memory reused for new locks
 *    taken in the opposite order by another thread.
 */
#include <pthread.h>
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

static void run(void *(*fn)(void *))
{
    pthread_t t;
    pthread_create(&t, NULL, fn, NULL);
    pthread_join(t, NULL);
}

int main(void)
{
    run(gated_ab);
    run(gated_ba);
    run(try_cd);
    run(lock_dc);
    run(one_thread_both_orders);

    struct pair *p = malloc(sizeof *p);
    pthread_mutex_init(&p->x, NULL);
    pthread_mutex_init(&p->y, NULL);
    shared_pair = p;
    run(pair_xy);
    pthread_mutex_destroy(&p->x);
    pthread_mutex_destroy(&p->y);
    free(p);
    /* Same size, most likely the same memory: new locks, unrelated to the old ones. */
    struct pair *q = malloc(sizeof *q);
    pthread_mutex_init(&q->y, NULL);
    pthread_mutex_init(&q->x, NULL);
    shared_pair = q;
    run(pair_yx);
    pthread_mutex_destroy(&q->x);
    pthread_mutex_destroy(&q->y);
    free(q);
    printf("ok_lo_orders: %s\n", p == q ? "memory reused" : "memory not reused");
    return 0;
}
