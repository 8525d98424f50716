/*
 * A semaphore-counted work queue: workers sleep on sem_wait(&items) and every submission posts it.
 * Results are handed back through one semaphore per task. Each parent task queues a child on its
 * own pool and waits for it: with both workers inside parents, the children wait in the queue.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct job {
    void (*fn)(struct job *);
    long arg, result;
    sem_t done;
};

static struct job *queue[64];
static int qhead, qtail;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static sem_t items;
static pthread_barrier_t parents_running;

static struct job *submit(void (*fn)(struct job *), long arg)
{
    struct job *j = calloc(1, sizeof *j);
    j->fn = fn;
    j->arg = arg;
    sem_init(&j->done, 0, 0);
    pthread_mutex_lock(&qlock);
    queue[qtail++ % 64] = j;
    pthread_mutex_unlock(&qlock);
    sem_post(&items);
    return j;
}

static void *sem_worker(void *arg)
{
    (void)arg;
    for (;;) {
        sem_wait(&items);
        pthread_mutex_lock(&qlock);
        struct job *j = queue[qhead++ % 64];
        pthread_mutex_unlock(&qlock);
        j->fn(j);
        sem_post(&j->done);
    }
    return NULL;
}

void child_job(struct job *j)
{
    j->result = j->arg + 1;
}

void parent_job(struct job *j)
{
    pthread_barrier_wait(&parents_running);
    struct job *c = submit(child_job, j->arg);
    sem_wait(&c->done);
    j->result = c->result;
}

int main(void)
{
    printf("pool_sem: start\n");
    fflush(stdout);
    sem_init(&items, 0, 0);
    pthread_barrier_init(&parents_running, NULL, 2);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, sem_worker, NULL);
    usleep(50 * 1000);
    submit(parent_job, 1);
    submit(parent_job, 2);
    for (;;)
        sleep(1);
}
