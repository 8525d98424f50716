/*
 * Healthy: for about 1.2 s every thread but one polls with a timed wait that keeps timing out
 * (pthread_cond_timedwait, pthread_cond_clockwait, sem_timedwait, sem_clockwait,
 * pthread_mutex_timedlock, pthread_rwlock_timedrdlock, and main in pthread_timedjoin_np) while
 * holder_thread keeps the mutex and the rwlock and sleeps. Then everything is released and signalled
 * and the program finishes. Timed waits are retries, not hangs: the shim must produce no finding, and
 * each timed call must still return ETIMEDOUT / -1 with errno ETIMEDOUT as without the shim.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>

#define POLL_MS 50

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static int ev_happened;
static sem_t ev_sem;
static pthread_mutex_t held_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t held_rwlock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t holder_ready;
static int bad_returns;     /* a timed call that returned something other than success or timeout */

static struct timespec deadline_in(clockid_t clock, long ms)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

static void note_bad(int rc)
{
    __atomic_add_fetch(&bad_returns, 1, __ATOMIC_RELAXED);
    fprintf(stderr, "ok_timed_poll: unexpected return %d\n", rc);
}

static void *cond_poller(void *arg)
{
    int use_clockwait = arg != NULL;
    pthread_mutex_lock(&ev_lock);
    while (!ev_happened) {
        int rc;
        if (use_clockwait) {
            struct timespec ts = deadline_in(CLOCK_MONOTONIC, POLL_MS);
            rc = pthread_cond_clockwait(&ev_cond, &ev_lock, CLOCK_MONOTONIC, &ts);
        } else {
            struct timespec ts = deadline_in(CLOCK_REALTIME, POLL_MS);
            rc = pthread_cond_timedwait(&ev_cond, &ev_lock, &ts);
        }
        if (rc != 0 && rc != ETIMEDOUT)
            note_bad(rc);
    }
    pthread_mutex_unlock(&ev_lock);
    return NULL;
}

static void *sem_poller(void *arg)
{
    int use_clockwait = arg != NULL;
    for (;;) {
        int rc;
        if (use_clockwait) {
            struct timespec ts = deadline_in(CLOCK_MONOTONIC, POLL_MS);
            rc = sem_clockwait(&ev_sem, CLOCK_MONOTONIC, &ts);
        } else {
            struct timespec ts = deadline_in(CLOCK_REALTIME, POLL_MS);
            rc = sem_timedwait(&ev_sem, &ts);
        }
        if (rc == 0)
            return NULL;
        if (rc != -1 || (errno != ETIMEDOUT && errno != EINTR))
            note_bad(errno);
    }
}

static void *mutex_poller(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts = deadline_in(CLOCK_REALTIME, POLL_MS);
        int rc = pthread_mutex_timedlock(&held_mutex, &ts);
        if (rc == 0)
            break;
        if (rc != ETIMEDOUT)
            note_bad(rc);
    }
    pthread_mutex_unlock(&held_mutex);
    return NULL;
}

static void *rwlock_poller(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts = deadline_in(CLOCK_REALTIME, POLL_MS);
        int rc = pthread_rwlock_timedrdlock(&held_rwlock, &ts);
        if (rc == 0)
            break;
        if (rc != ETIMEDOUT)
            note_bad(rc);
    }
    pthread_rwlock_unlock(&held_rwlock);
    return NULL;
}

static void *holder_thread(void *arg)
{
    (void)arg;
    struct timespec nap = { 1, 200 * 1000000L };
    pthread_mutex_lock(&held_mutex);
    pthread_rwlock_wrlock(&held_rwlock);
    pthread_barrier_wait(&holder_ready);
    nanosleep(&nap, NULL);
    pthread_rwlock_unlock(&held_rwlock);
    pthread_mutex_unlock(&held_mutex);
    return NULL;
}

int main(void)
{
    pthread_t holder, pollers[6];
    int joins_timed_out = 0;

    printf("ok_timed_poll: start\n");
    sem_init(&ev_sem, 0, 0);
    pthread_barrier_init(&holder_ready, NULL, 2);
    pthread_create(&holder, NULL, holder_thread, NULL);
    pthread_barrier_wait(&holder_ready);

    pthread_create(&pollers[0], NULL, cond_poller, NULL);
    pthread_create(&pollers[1], NULL, cond_poller, (void *)1);
    pthread_create(&pollers[2], NULL, sem_poller, NULL);
    pthread_create(&pollers[3], NULL, sem_poller, (void *)1);
    pthread_create(&pollers[4], NULL, mutex_poller, NULL);
    pthread_create(&pollers[5], NULL, rwlock_poller, NULL);

    for (;;) {
        struct timespec ts = deadline_in(CLOCK_REALTIME, 100);
        int rc = pthread_timedjoin_np(holder, NULL, &ts);
        if (rc == 0)
            break;
        if (rc == ETIMEDOUT)
            joins_timed_out = 1;
        else
            note_bad(rc);
    }

    pthread_mutex_lock(&ev_lock);
    ev_happened = 1;
    pthread_cond_broadcast(&ev_cond);
    pthread_mutex_unlock(&ev_lock);
    sem_post(&ev_sem);
    sem_post(&ev_sem);
    for (int i = 0; i < 6; i++)
        pthread_join(pollers[i], NULL);

    printf("timedjoin timed out at least once: %s\n", joins_timed_out ? "yes" : "no");
    printf("unexpected returns: %d\n", bad_returns);
    printf("ok_timed_poll: done\n");
    return 0;
}
