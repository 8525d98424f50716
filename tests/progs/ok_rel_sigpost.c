/*
 * Healthy: sem_post from signal handlers (it is async-signal-safe, so its hook must be too).
 *   1. main blocks in sem_wait with no other thread; only a SIGALRM handler (alarm(1)) posts. Every
 *      thread blocked, but a caught signal can still wake it: not a hang.
 *   2. a signaller thread sends 20000 SIGUSR1 to a worker that is busy in hooked calls (mutex
 *      lock/unlock, condvar signal, sem_post and sem_trywait), so that handlers run in the middle of
 *      the shim's own hook code; each handler posts a semaphore that main waits on, once per signal.
 */
#include "rel_common.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <unistd.h>

#define SIGNALS 20000

static sem_t alarm_sem, signal_sem, own_sem, handled_sem;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static volatile sig_atomic_t stop_worker;
static volatile long worker_loops;

static void on_alarm(int sig)
{
    (void)sig;
    sem_post(&alarm_sem);
}

static void on_usr1(int sig)
{
    (void)sig;
    int saved = errno;
    sem_post(&signal_sem);
    errno = saved;
}

static void *worker(void *arg)
{
    (void)arg;
    while (!stop_worker) {
        pthread_mutex_lock(&m);
        pthread_cond_signal(&c);
        pthread_mutex_unlock(&m);
        sem_post(&own_sem);
        while (sem_trywait(&own_sem) != 0 && errno == EINTR)
            ;
        worker_loops++;
    }
    return NULL;
}

int main(void)
{
    sem_init(&alarm_sem, 0, 0);
    sem_init(&signal_sem, 0, 0);
    sem_init(&own_sem, 0, 0);
    sem_init(&handled_sem, 0, 0);
    struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);

    alarm(1);
    while (sem_wait(&alarm_sem) != 0)
        REL_CHECK(errno == EINTR);
    printf("ok_rel_sigpost: woken by the alarm handler\n");

    pthread_t w;
    pthread_create(&w, NULL, worker, NULL);
    for (int i = 0; i < SIGNALS; i++) {
        pthread_kill(w, SIGUSR1);
        /* One handler run per signal: wait for it before sending the next (signals do not queue). */
        while (sem_wait(&signal_sem) != 0)
            REL_CHECK(errno == EINTR);
    }
    stop_worker = 1;
    pthread_join(w, NULL);
    int left;
    sem_getvalue(&signal_sem, &left);
    printf("ok_rel_sigpost: %d signals handled, %d posts left over, worker ran: %s\n", SIGNALS, left,
           worker_loops > 0 ? "yes" : "no");
    return 0;
}
