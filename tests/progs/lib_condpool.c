/*
 * A C thread pool of the condition-variable kind most C code bases carry (the shape of
 * Pithikos/C-Thread-Pool and mbrossard/threadpool, written afresh): one mutex guards a FIFO of
 * jobs, submitting always signals "has jobs", workers wait on it while the queue is empty.
 * Futures are a mutex, a condition variable and a flag. Scenarios: tests/progs/lib_scen.h.
 */
#include "lib_scen.h"

struct job {
    void (*fn)(void *);
    void *arg;
    struct job *next;
};

struct cpool {
    pthread_mutex_t lock;
    pthread_cond_t has_jobs;
    struct job *front, *rear;
    int len;
    int stop;
    int nthreads;
    pthread_t threads[SCEN_MAX_WORKERS];
};

struct cevent {
    pthread_mutex_t m;
    pthread_cond_t c;
    int set;
};

static void *cpool_worker(void *arg)
{
    struct cpool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (p->len == 0 && !p->stop)
            pthread_cond_wait(&p->has_jobs, &p->lock);
        if (p->len == 0) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        struct job *j = p->front;
        p->front = j->next;
        if (!p->front)
            p->rear = NULL;
        p->len--;
        pthread_mutex_unlock(&p->lock);
        j->fn(j->arg);
        free(j);
    }
}

static void *cpool_new(int n, int role)
{
    (void)role;
    struct cpool *p = calloc(1, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->has_jobs, NULL);
    p->nthreads = n;
    for (int i = 0; i < n; i++)
        pthread_create(&p->threads[i], NULL, cpool_worker, p);
    return p;
}

static void cpool_add_work(void *pool, void (*fn)(void *), void *arg)
{
    struct cpool *p = pool;
    struct job *j = malloc(sizeof *j);
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->rear)
        p->rear->next = j;
    else
        p->front = j;
    p->rear = j;
    p->len++;
    pthread_cond_signal(&p->has_jobs);
    pthread_mutex_unlock(&p->lock);
}

static void cpool_destroy(void *pool)
{
    struct cpool *p = pool;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->has_jobs);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
}

static void *cevent_new(void)
{
    struct cevent *e = calloc(1, sizeof *e);
    pthread_mutex_init(&e->m, NULL);
    pthread_cond_init(&e->c, NULL);
    return e;
}

static void cevent_set(void *ev)
{
    struct cevent *e = ev;
    pthread_mutex_lock(&e->m);
    e->set = 1;
    pthread_cond_broadcast(&e->c);
    pthread_mutex_unlock(&e->m);
}

static void cevent_wait(void *ev)
{
    struct cevent *e = ev;
    pthread_mutex_lock(&e->m);
    while (!e->set)
        pthread_cond_wait(&e->c, &e->m);
    pthread_mutex_unlock(&e->m);
}

static const struct scen_ops ops = {
    "lib_condpool", cpool_new, cpool_add_work, scen_spawn_with_event, scen_join_with_event,
    cevent_new, cevent_set, cevent_wait, cpool_destroy,
};

int main(int argc, char **argv)
{
    return scen_main(&ops, argc, argv);
}
