/*
 * Healthy: event_waiter blocks in an untimed pthread_cond_wait for about 1.5 s, for an event that
 * event_producer (alive, sleeping in nanosleep, which the shim does not interpose) produces after
 * its nap; main joins both. A long untimed wait is not a hang while some thread is not blocked in an
 * interposed wait: the shim must produce no finding.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static int ev_value;

static void *event_waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&ev_lock);
    while (ev_value == 0)
        pthread_cond_wait(&ev_cond, &ev_lock);
    printf("waiter got %d\n", ev_value);
    pthread_mutex_unlock(&ev_lock);
    return NULL;
}

static void *event_producer(void *arg)
{
    (void)arg;
    struct timespec nap = { 1, 500 * 1000000L };
    nanosleep(&nap, NULL);
    pthread_mutex_lock(&ev_lock);
    ev_value = 7;
    pthread_cond_signal(&ev_cond);
    pthread_mutex_unlock(&ev_lock);
    return NULL;
}

int main(void)
{
    pthread_t w, p;

    printf("ok_long_wait: start\n");
    fflush(stdout);
    pthread_create(&w, NULL, event_waiter, NULL);
    pthread_create(&p, NULL, event_producer, NULL);
    pthread_join(w, NULL);
    pthread_join(p, NULL);
    printf("ok_long_wait: done\n");
    return 0;
}
