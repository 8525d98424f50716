/*
 * A small thread pool of the most common hand-written kind, shared by the pool test programs:
 * N workers, one mutex, one "work available" condition variable signalled on every submission, an
 * unbounded FIFO queue, and futures that a caller waits on with a mutex and a condition variable.
 * With MINIPOOL_ANNOTATE defined it also describes itself through poolguard.h.
 */
#ifndef MINIPOOL_H
#define MINIPOOL_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolguard.h"

/* Not every program uses every function. */
#define MP_FN static __attribute__((unused))

struct future {
    pthread_mutex_t m;
    pthread_cond_t c;
    int done;
    long value;
};

struct task {
    long (*fn)(void *pool, long arg);
    long arg;
    struct future *fut;
    struct task *next;
};

struct pool {
    pthread_mutex_t m;
    pthread_cond_t work;
    struct task *head, *tail;
    long queued;
    int stop;
    int nworkers;
    int idle;
    pthread_t threads[16];
};

MP_FN void future_init(struct future *f)
{
    pthread_mutex_init(&f->m, NULL);
    pthread_cond_init(&f->c, NULL);
    f->done = 0;
}

MP_FN void future_set(struct future *f, long v)
{
    pthread_mutex_lock(&f->m);
    f->value = v;
    f->done = 1;
    pthread_cond_broadcast(&f->c);
    pthread_mutex_unlock(&f->m);
}

__attribute__((noinline)) MP_FN long future_get(struct future *f)
{
#ifdef MINIPOOL_ANNOTATE
    POOLGUARD_TASK_WAIT(f);
#endif
    pthread_mutex_lock(&f->m);
    while (!f->done)
        pthread_cond_wait(&f->c, &f->m);
    long v = f->value;
    pthread_mutex_unlock(&f->m);
#ifdef MINIPOOL_ANNOTATE
    POOLGUARD_TASK_WAIT_DONE(f);
#endif
    return v;
}

/* The future is the task's handle for the annotations: it is what waiters know. */
MP_FN struct future *pool_submit(struct pool *p, long (*fn)(void *, long), long arg)
{
    struct task *t = calloc(1, sizeof *t);
    struct future *f = calloc(1, sizeof *f);
    future_init(f);
    t->fn = fn;
    t->arg = arg;
    t->fut = f;
    pthread_mutex_lock(&p->m);
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    p->queued++;
#ifdef MINIPOOL_ANNOTATE
    POOLGUARD_TASK_SUBMIT(p, f);
#endif
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->m);
    return f;
}

MP_FN void *pool_worker(void *arg)
{
    struct pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->m);
        while (!p->head && !p->stop) {
            p->idle++;
            pthread_cond_wait(&p->work, &p->m);
            p->idle--;
        }
        if (!p->head) {
            pthread_mutex_unlock(&p->m);
            return NULL;
        }
        struct task *t = p->head;
        p->head = t->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->m);
#ifdef MINIPOOL_ANNOTATE
        POOLGUARD_TASK_START(p, t->fut);
#endif
        long v = t->fn(p, t->arg);
#ifdef MINIPOOL_ANNOTATE
        POOLGUARD_TASK_DONE(p, t->fut);
#endif
        future_set(t->fut, v);
        free(t);
    }
}

/* Starts the workers; with wait_idle, returns once every worker waits for work (as pools that
 * are created at start-up are by the time the first task comes). */
__attribute__((noinline)) MP_FN void pool_start(struct pool *p, int n, int wait_idle)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->m, NULL);
    pthread_cond_init(&p->work, NULL);
    p->nworkers = n;
#ifdef MINIPOOL_ANNOTATE
    POOLGUARD_POOL_CREATE(p, "minipool", n);
#endif
    for (int i = 0; i < n; i++)
        pthread_create(&p->threads[i], NULL, pool_worker, p);
    while (wait_idle) {
        pthread_mutex_lock(&p->m);
        int idle = p->idle;
        pthread_mutex_unlock(&p->m);
        if (idle == n)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

MP_FN void pool_stop(struct pool *p)
{
    pthread_mutex_lock(&p->m);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->m);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->threads[i], NULL);
}

#endif
