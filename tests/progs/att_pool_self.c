/*
 * A fixed pool of worker threads stuck on itself, started without the shim: every task submits
 * a subtask to the same pool and waits for it, so once all workers run a parent task none is
 * left to run the subtasks. main waits for the first result. For `poolguard attach`
 * (tests/e2e/check_attach.c). Prints "ready" when every worker is waiting, then hangs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { WORKERS = 3, QCAP = 64 };

struct task {
    void (*fn)(struct task *);
    int done;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static struct task *queue[QCAP];
static int head, tail, waiting_parents;

static void submit(struct task *t)
{
    pthread_mutex_lock(&lock);
    queue[tail++ % QCAP] = t;
    pthread_cond_signal(&work);
    pthread_mutex_unlock(&lock);
}

static void wait_task(struct task *t)
{
    pthread_mutex_lock(&lock);
    while (!t->done)
        pthread_cond_wait(&done, &lock);
    pthread_mutex_unlock(&lock);
}

static void leaf_task(struct task *t)
{
    (void)t;
}

static void parent_task(struct task *t)
{
    (void)t;
    struct task *child = calloc(1, sizeof *child);
    child->fn = leaf_task;
    submit(child);
    pthread_mutex_lock(&lock);
    if (++waiting_parents == WORKERS) {
        printf("ready\n");
        fflush(stdout);
    }
    pthread_mutex_unlock(&lock);
    wait_task(child);
}

static void *pool_worker(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (head == tail)
            pthread_cond_wait(&work, &lock);
        struct task *t = queue[head++ % QCAP];
        pthread_mutex_unlock(&lock);
        t->fn(t);
        pthread_mutex_lock(&lock);
        t->done = 1;
        pthread_cond_broadcast(&done);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(void)
{
    pthread_t w[WORKERS];
    struct task parents[WORKERS] = {{0}};
    /* The parents are queued before any worker starts, so each worker takes one. */
    for (int i = 0; i < WORKERS; i++) {
        parents[i].fn = parent_task;
        queue[tail++] = &parents[i];
    }
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&w[i], NULL, pool_worker, NULL);
    wait_task(&parents[0]);
    return 0;
}
