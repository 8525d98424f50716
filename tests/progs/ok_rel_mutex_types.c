/*
 * Healthy: every mutex type, contended, with waits long enough to be seen by the watchdog.
 *   - recursive, error-checking, priority-inheritance (PTHREAD_PRIO_INHERIT), recursive with
 *     priority inheritance, and robust mutexes hammered by four threads, each holding the lock
 *     for a while now and then;
 *   - error numbers: EDEADLK on an error-checking relock, EPERM on unlocking a lock not held,
 *     EOWNERDEAD when a robust mutex's owner thread exits holding it, then consistent, then reuse;
 *   - process-shared mutex, condition variable and semaphore in a MAP_SHARED mapping: a forked
 *     child holds the mutex for 400 ms while the parent blocks on it (its owner is in another
 *     process: no "owner has exited" finding), then the parent waits on the shared condvar and
 *     semaphore until the child signals; finally the child dies holding a robust process-shared
 *     mutex and the parent gets EOWNERDEAD.
 * Same output with and without the shim, and no finding.
 */
#include "rel_common.h"

#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define ITERS 3000

static pthread_mutex_t locks[5];
static const char *names[5] = { "recursive", "errorcheck", "prio-inherit", "recursive-prio-inherit", "robust" };
static long counters[5];

static void init_lock(int k)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    switch (k) {
    case 0: pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE); break;
    case 1: pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK); break;
    case 2: pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT); break;
    case 3:
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
        pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
        break;
    case 4: pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST); break;
    }
    REL_CHECK(pthread_mutex_init(&locks[k], &a) == 0);
    pthread_mutexattr_destroy(&a);
}

static void *hammer(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < ITERS; i++) {
        int k = (int)((i + id) % 5);
        REL_CHECK(pthread_mutex_lock(&locks[k]) == 0);
        if (k == 0 || k == 3)
            REL_CHECK(pthread_mutex_lock(&locks[k]) == 0);
        counters[k]++;
        if (i % 1000 == (int)id)
            rel_sleep_ms(150);   /* others block on it for more than a scan */
        if (k == 0 || k == 3)
            pthread_mutex_unlock(&locks[k]);
        REL_CHECK(pthread_mutex_unlock(&locks[k]) == 0);
    }
    return NULL;
}

static void *dies_holding(void *arg)
{
    pthread_mutex_lock(arg);
    return NULL;
}

struct shared {
    pthread_mutex_t m, robust;
    pthread_cond_t c;
    sem_t s;
    int phase;
};

static void shared_objects(void)
{
    struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REL_CHECK(sh != MAP_FAILED);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&sh->m, &ma);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&sh->robust, &ma);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    pthread_cond_init(&sh->c, &ca);
    sem_init(&sh->s, 1, 0);

    pthread_barrier_t *go = mmap(NULL, sizeof *go, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_barrierattr_t ba;
    pthread_barrierattr_init(&ba);
    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(go, &ba, 2);

    fflush(stdout);
    pid_t pid = fork();
    REL_CHECK(pid >= 0);
    if (pid == 0) {
        pthread_mutex_lock(&sh->m);
        pthread_barrier_wait(go);
        rel_sleep_ms(400);
        sh->phase = 1;
        pthread_mutex_unlock(&sh->m);
        rel_sleep_ms(400);
        pthread_mutex_lock(&sh->m);
        sh->phase = 2;
        pthread_cond_signal(&sh->c);
        pthread_mutex_unlock(&sh->m);
        rel_sleep_ms(400);
        sem_post(&sh->s);
        pthread_mutex_lock(&sh->robust);
        _exit(0);   /* dies holding the robust mutex */
    }
    pthread_barrier_wait(go);
    pthread_mutex_lock(&sh->m);           /* held by the child for 400 ms */
    int phase_seen = sh->phase;
    while (sh->phase < 2)
        pthread_cond_wait(&sh->c, &sh->m);   /* signalled by the child */
    pthread_mutex_unlock(&sh->m);
    while (sem_wait(&sh->s) != 0)
        REL_CHECK(errno == EINTR);
    int status;
    waitpid(pid, &status, 0);
    int r = pthread_mutex_lock(&sh->robust);
    if (r == EOWNERDEAD)
        pthread_mutex_consistent(&sh->robust);
    pthread_mutex_unlock(&sh->robust);
    printf("process-shared: locked after the child (phase %d), condvar and semaphore woken, robust "
           "lock %s, child status %d\n", phase_seen, r == EOWNERDEAD ? "EOWNERDEAD" : "other",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(void)
{
    for (int k = 0; k < 5; k++)
        init_lock(k);
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, hammer, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int k = 0; k < 5; k++)
        printf("%s: %ld\n", names[k], counters[k]);

    pthread_mutex_lock(&locks[1]);
    printf("errorcheck relock: %s\n", pthread_mutex_lock(&locks[1]) == EDEADLK ? "EDEADLK" : "other");
    pthread_mutex_unlock(&locks[1]);
    printf("errorcheck unlock not held: %s\n", pthread_mutex_unlock(&locks[1]) == EPERM ? "EPERM" : "other");

    pthread_t d;
    pthread_create(&d, NULL, dies_holding, &locks[4]);
    pthread_join(d, NULL);
    int r = pthread_mutex_lock(&locks[4]);
    printf("robust after owner exit: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : "other");
    if (r == EOWNERDEAD)
        pthread_mutex_consistent(&locks[4]);
    pthread_mutex_unlock(&locks[4]);
    printf("robust reuse: %d\n", pthread_mutex_lock(&locks[4]));
    pthread_mutex_unlock(&locks[4]);

    shared_objects();
    return 0;
}
