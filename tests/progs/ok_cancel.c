/*
 * Healthy: threads cancelled while blocked inside pthread_cond_wait, sem_wait and pthread_join
 * (all cancellation points). A cleanup handler unlocks the condvar's mutex; afterwards main uses
 * the same mutex, condvar and semaphore again. Under the shim: same output, no finding, and the
 * shim's idea of who holds and waits on what stays right (a stale "waiting" or "holds" entry
 * would show up as a false deadlock in the final blocked phase, where main waits for a live thread).
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static sem_t s;
static int ready;

static void unlock_m(void *arg)
{
    (void)arg;
    pthread_mutex_unlock(&m);
}

static void *cancelled_in_cond_wait(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    pthread_cleanup_push(unlock_m, NULL);
    ready = 1;
    for (;;)
        pthread_cond_wait(&c, &m);
    pthread_cleanup_pop(1);
    return NULL;
}

static void *cancelled_in_sem_wait(void *arg)
{
    (void)arg;
    for (;;)
        sem_wait(&s);
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    struct timespec nap = { 5, 0 };
    nanosleep(&nap, NULL);
    return NULL;
}

static void *cancelled_in_join(void *arg)
{
    pthread_join(*(pthread_t *)arg, NULL);
    return NULL;
}

static void *late_signaller(void *arg)
{
    (void)arg;
    struct timespec nap = { 0, 600 * 1000000L };
    nanosleep(&nap, NULL);
    pthread_mutex_lock(&m);
    ready = 2;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
    sem_post(&s);
    return NULL;
}

static void pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

int main(void)
{
    pthread_t t1, t2, t3, t4, sl;
    void *ret;

    printf("ok_cancel: start\n");
    sem_init(&s, 0, 0);

    pthread_create(&t1, NULL, cancelled_in_cond_wait, NULL);
    for (;;) {
        pthread_mutex_lock(&m);
        int r = ready;
        pthread_mutex_unlock(&m);
        if (r)
            break;
        pause_ms(5);
    }
    pause_ms(50);
    pthread_cancel(t1);
    pthread_join(t1, &ret);
    printf("cond_wait thread cancelled: %s\n", ret == PTHREAD_CANCELED ? "yes" : "no");

    pthread_create(&t2, NULL, cancelled_in_sem_wait, NULL);
    pause_ms(50);
    pthread_cancel(t2);
    pthread_join(t2, &ret);
    printf("sem_wait thread cancelled: %s\n", ret == PTHREAD_CANCELED ? "yes" : "no");

    pthread_create(&sl, NULL, sleeper, NULL);
    pthread_create(&t3, NULL, cancelled_in_join, &sl);
    pause_ms(50);
    pthread_cancel(t3);
    pthread_join(t3, &ret);
    printf("join thread cancelled: %s\n", ret == PTHREAD_CANCELED ? "yes" : "no");
    pthread_cancel(sl);
    pthread_join(sl, NULL);

    /* Main now blocks, untimed, on the same condvar and semaphore; a live thread ends both. */
    pthread_create(&t4, NULL, late_signaller, NULL);
    pthread_mutex_lock(&m);
    while (ready != 2)
        pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
    sem_wait(&s);
    pthread_join(t4, NULL);
    printf("ok_cancel: done\n");
    return 0;
}
