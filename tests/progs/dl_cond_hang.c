/*
 * Hangs on purpose: a whole-program hang with no lock cycle. Every thread waits forever for an
 * event nobody is left to produce: two threads in wait_for_work on a condvar, one in
 * wait_for_token on a semaphore, and main in wait_for_shutdown on another condvar. The e2e test
 * expects a deadlock finding marked "hang" (no cycle) naming all four threads, blocked on cond,
 * cond, sem and cond.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t shutdown_done = PTHREAD_COND_INITIALIZER;
static int work_items;   /* never becomes non-zero: nobody submits work */
static int shut_down;    /* never set: nobody shuts down */
static sem_t tokens;     /* never posted */

void wait_for_work(void)
{
    pthread_mutex_lock(&queue_lock);
    while (work_items == 0)
        pthread_cond_wait(&work_ready, &queue_lock);
    work_items--;
    pthread_mutex_unlock(&queue_lock);
}

void wait_for_token(void)
{
    while (sem_wait(&tokens) != 0)
        ;
}

void wait_for_shutdown(void)
{
    pthread_mutex_lock(&queue_lock);
    while (!shut_down)
        pthread_cond_wait(&shutdown_done, &queue_lock);
    pthread_mutex_unlock(&queue_lock);
}

void *cond_waiter_thread(void *arg)
{
    (void)arg;
    wait_for_work();
    return NULL;
}

void *sem_waiter_thread(void *arg)
{
    (void)arg;
    wait_for_token();
    return NULL;
}

int main(void)
{
    pthread_t c1, c2, s;

    printf("dl_cond_hang: start\n");
    fflush(stdout);
    sem_init(&tokens, 0, 0);
    pthread_create(&c1, NULL, cond_waiter_thread, NULL);
    pthread_create(&c2, NULL, cond_waiter_thread, NULL);
    pthread_create(&s, NULL, sem_waiter_thread, NULL);
    wait_for_shutdown();
    printf("dl_cond_hang: unreachable\n");
    return 0;
}
