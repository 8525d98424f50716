/*
 * A minimal C thread pool of the kind poolguard is meant for: N workers, one mutex, one "work
 * available" condvar, a growable ring of tasks; and a latch (mutex + condvar + count) for a task
 * to wait on its children. Used by the pool benchmarks and by the pool-exhaustion latency program.
 */
#ifndef POOLGUARD_BENCH_POOL_H
#define POOLGUARD_BENCH_POOL_H

#include "bench.h"

#include <pthread.h>
#include <string.h>

struct task {
    void (*fn)(void *);
    void *arg;
};

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct task *ring;
    size_t cap, head, len;
    int stopping;
    int nworkers;
    pthread_t *workers;
};

static inline void *pool_worker(void *arg)
{
    struct pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->len == 0 && !p->stopping)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->len == 0)
            break;
        struct task t = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        pthread_mutex_unlock(&p->lock);
        t.fn(t.arg);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static inline void pool_start(struct pool *p, int nworkers)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    p->cap = 64;
    p->ring = malloc(p->cap * sizeof *p->ring);
    p->nworkers = nworkers;
    p->workers = malloc((size_t)nworkers * sizeof *p->workers);
    if (!p->ring || !p->workers)
        bench_die("malloc", 0);
    for (int i = 0; i < nworkers; i++) {
        int r = pthread_create(&p->workers[i], NULL, pool_worker, p);
        if (r)
            bench_die("pthread_create", r);
    }
}

static inline void pool_submit(struct pool *p, void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&p->lock);
    if (p->len == p->cap) {
        struct task *ring = malloc(2 * p->cap * sizeof *ring);
        if (!ring)
            bench_die("malloc", 0);
        for (size_t i = 0; i < p->len; i++)
            ring[i] = p->ring[(p->head + i) % p->cap];
        free(p->ring);
        p->ring = ring;
        p->head = 0;
        p->cap *= 2;
    }
    p->ring[(p->head + p->len) % p->cap] = (struct task){fn, arg};
    p->len++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
}

static inline void pool_stop(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->workers[i], NULL);
    free(p->workers);
    free(p->ring);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
}

struct latch {
    pthread_mutex_t lock;
    pthread_cond_t done;
    long left;
};

static inline void latch_init(struct latch *l, long count)
{
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->done, NULL);
    l->left = count;
}

static inline void latch_count_down(struct latch *l)
{
    pthread_mutex_lock(&l->lock);
    if (--l->left == 0)
        pthread_cond_broadcast(&l->done);
    pthread_mutex_unlock(&l->lock);
}

static inline void latch_wait(struct latch *l)
{
    pthread_mutex_lock(&l->lock);
    while (l->left > 0)
        pthread_cond_wait(&l->done, &l->lock);
    pthread_mutex_unlock(&l->lock);
}

static inline void latch_destroy(struct latch *l)
{
    pthread_cond_destroy(&l->done);
    pthread_mutex_destroy(&l->lock);
}

#endif
