/*
 * Healthy: the hooks keep errno and EINTR behaviour. errno set before successful lock, unlock,
 * signal, post and join calls must be unchanged after them (the shim's own work must not leak into
 * errno). A signal whose handler is installed without SA_RESTART must interrupt sem_wait and
 * sem_timedwait with -1 / EINTR exactly as without the shim, while pthread_cond_wait and
 * pthread_mutex_lock are never interrupted.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static sem_t never_posted;
static volatile sig_atomic_t signals_seen;
static pthread_barrier_t ready;

static void on_usr1(int sig)
{
    (void)sig;
    signals_seen++;
}

static void *interrupted_sem_wait(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&ready);
    errno = 0;
    int rc = sem_wait(&never_posted);
    return (void *)(long)(rc == -1 ? errno : 0);
}

static void *interrupted_sem_timedwait(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 3;
    pthread_barrier_wait(&ready);
    errno = 0;
    int rc = sem_timedwait(&never_posted, &ts);
    return (void *)(long)(rc == -1 ? errno : 0);
}

static const char *errname(long e)
{
    return e == EINTR ? "EINTR" : e == 0 ? "none" : e == ETIMEDOUT ? "ETIMEDOUT" : strerror((int)e);
}

static void interrupt(void *(*fn)(void *), const char *what)
{
    pthread_t t;
    void *ret;
    pthread_create(&t, NULL, fn, NULL);
    pthread_barrier_wait(&ready);
    struct timespec nap = { 0, 100 * 1000000L };
    nanosleep(&nap, NULL);
    pthread_kill(t, SIGUSR1);
    pthread_join(t, &ret);
    printf("%s interrupted by a signal: %s\n", what, errname((long)ret));
}

static void *noop(void *arg)
{
    return arg;
}

int main(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    sem_t s;
    pthread_t t;
    int kept = 0, total = 0;

    printf("ok_errno: start\n");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;     /* no SA_RESTART: blocking calls that can return EINTR do */
    sigaction(SIGUSR1, &sa, NULL);
    sem_init(&never_posted, 0, 0);
    sem_init(&s, 0, 0);
    pthread_barrier_init(&ready, NULL, 2);

#define KEEPS_ERRNO(call)                                                               \
    do {                                                                                \
        errno = ENOTTY;                                                                 \
        (void)(call);                                                                   \
        total++;                                                                        \
        if (errno == ENOTTY)                                                            \
            kept++;                                                                     \
        else                                                                            \
            printf("errno changed from ENOTTY to %d (%s) by %s\n", errno, strerror(errno), #call); \
    } while (0)
    KEEPS_ERRNO(pthread_mutex_lock(&m));
    KEEPS_ERRNO(pthread_mutex_unlock(&m));
    KEEPS_ERRNO(pthread_mutex_trylock(&m));
    KEEPS_ERRNO(pthread_mutex_unlock(&m));
    KEEPS_ERRNO(pthread_cond_signal(&c));
    KEEPS_ERRNO(pthread_cond_broadcast(&c));
    KEEPS_ERRNO(sem_post(&s));
    KEEPS_ERRNO(sem_wait(&s));
    KEEPS_ERRNO(pthread_create(&t, NULL, noop, NULL));
    KEEPS_ERRNO(pthread_join(t, NULL));
#undef KEEPS_ERRNO
    printf("errno kept across %d of %d successful calls\n", kept, total);

    errno = 0;
    int rc = sem_trywait(&s);
    printf("sem_trywait on empty semaphore: %d %s\n", rc, rc == -1 && errno == EAGAIN ? "EAGAIN" :
           strerror(errno));

    interrupt(interrupted_sem_wait, "sem_wait");
    interrupt(interrupted_sem_timedwait, "sem_timedwait");
    printf("signals handled: %d\n", (int)signals_seen);
    printf("ok_errno: done\n");
    return 0;
}
