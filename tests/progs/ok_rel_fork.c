/*
 * Healthy: a multithreaded parent forks 40 children (no exec) while its own threads keep locking,
 * signalling and posting. Each child starts threads of its own, uses fresh locks, a condition
 * variable, a semaphore and a join, and exits with a status of its own; the parent checks each
 * status. Under the shim: the fork handlers must leave parent and child working (no hang, no
 * crash), each child gets its own watchdog, and nothing is reported.
 */
#include "rel_common.h"

#include <pthread.h>
#include <semaphore.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 40

static pthread_mutex_t work_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cond = PTHREAD_COND_INITIALIZER;
static sem_t work_sem;
static long work_done;
static volatile int stop;

static void *parent_worker(void *arg)
{
    (void)arg;
    while (!stop) {
        pthread_mutex_lock(&work_lock);
        work_done++;
        pthread_cond_broadcast(&work_cond);
        pthread_mutex_unlock(&work_lock);
        sem_post(&work_sem);
        sem_wait(&work_sem);
    }
    return NULL;
}

struct child_state {
    pthread_mutex_t m;
    pthread_cond_t c;
    sem_t s;
    int turn;
    long sum;
};

static void *child_thread(void *arg)
{
    struct child_state *cs = arg;
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&cs->m);
        while (cs->turn != 1)
            pthread_cond_wait(&cs->c, &cs->m);
        cs->sum += i;
        cs->turn = 0;
        pthread_cond_signal(&cs->c);
        pthread_mutex_unlock(&cs->m);
    }
    sem_post(&cs->s);
    return (void *)cs->sum;
}

static int child_main(int k)
{
    struct child_state cs = { .turn = 0 };
    pthread_mutex_init(&cs.m, NULL);
    pthread_cond_init(&cs.c, NULL);
    sem_init(&cs.s, 0, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, child_thread, &cs) != 0)
        return 90;
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&cs.m);
        cs.turn = 1;
        pthread_cond_signal(&cs.c);
        while (cs.turn != 0)
            pthread_cond_wait(&cs.c, &cs.m);
        pthread_mutex_unlock(&cs.m);
    }
    sem_wait(&cs.s);
    void *ret;
    pthread_join(t, &ret);
    if ((long)ret != 199 * 200 / 2)
        return 91;
    return 10 + k % 50;
}

int main(void)
{
    sem_init(&work_sem, 0, 0);
    pthread_t w[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&w[i], NULL, parent_worker, NULL);
    int good = 0;
    for (int k = 0; k < CHILDREN; k++) {
        fflush(stdout);
        pid_t pid = fork();
        REL_CHECK(pid >= 0);
        if (pid == 0)
            _exit(child_main(k));
        int status;
        REL_CHECK(waitpid(pid, &status, 0) == pid);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 10 + k % 50)
            good++;
        else
            printf("child %d: status 0x%x\n", k, status);
    }
    stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(w[i], NULL);
    printf("ok_rel_fork: %d of %d children exited as expected, parent work %s\n", good, CHILDREN,
           work_done > 0 ? "done" : "missing");
    return good == CHILDREN ? 0 : 1;
}
