/*
 * A semaphore-counted C pool: the queue's length is a POSIX semaphore, posted once per submitted
 * job; a worker takes a unit, then a job under the queue mutex. Stopping re-posts: each worker
 * that sees the stop flag posts the semaphore again for the next one. Futures are semaphores too,
 * and a waiter re-posts after it passes so that every waiter passes. Scenarios: lib_scen.h.
 */
#include <semaphore.h>

#include "lib_scen.h"

struct sjob {
    void (*fn)(void *);
    void *arg;
    struct sjob *next;
};

struct spool {
    pthread_mutex_t qlock;
    sem_t items;
    struct sjob *head, *tail;
    int stop;
    int n;
    pthread_t threads[SCEN_MAX_WORKERS];
};

static void *spool_worker(void *arg)
{
    struct spool *p = arg;
    for (;;) {
        while (sem_wait(&p->items) != 0)
            ;
        pthread_mutex_lock(&p->qlock);
        struct sjob *j = p->head;
        if (!j) {
            /* Only a stop posts without a job: pass it on to the next worker. */
            pthread_mutex_unlock(&p->qlock);
            sem_post(&p->items);
            return NULL;
        }
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->qlock);
        j->fn(j->arg);
        free(j);
    }
}

static void *spool_new(int n, int role)
{
    (void)role;
    struct spool *p = calloc(1, sizeof *p);
    pthread_mutex_init(&p->qlock, NULL);
    sem_init(&p->items, 0, 0);
    p->n = n;
    for (int i = 0; i < n; i++)
        pthread_create(&p->threads[i], NULL, spool_worker, p);
    return p;
}

static void spool_submit(void *pool, void (*fn)(void *), void *arg)
{
    struct spool *p = pool;
    struct sjob *j = malloc(sizeof *j);
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&p->qlock);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_mutex_unlock(&p->qlock);
    sem_post(&p->items);
}

static void spool_shutdown(void *pool)
{
    struct spool *p = pool;
    pthread_mutex_lock(&p->qlock);
    p->stop = 1;
    pthread_mutex_unlock(&p->qlock);
    sem_post(&p->items);
    for (int i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
}

static void *sevent_new(void)
{
    sem_t *s = malloc(sizeof *s);
    sem_init(s, 0, 0);
    return s;
}

static void sevent_set(void *ev)
{
    sem_post(ev);
}

static void sevent_wait(void *ev)
{
    while (sem_wait(ev) != 0)
        ;
    sem_post(ev);
}

static const struct scen_ops ops = {
    "lib_sempool", spool_new, spool_submit, scen_spawn_with_event, scen_join_with_event,
    sevent_new, sevent_set, sevent_wait, spool_shutdown,
};

int main(int argc, char **argv)
{
    return scen_main(&ops, argc, argv);
}
