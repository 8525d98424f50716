/*
 * Healthy: pthread functions called before the shim's constructor. The executable's
 * .preinit_array runs before any shared object's constructor, the preloaded shim's included; from
 * there this program creates and joins a thread, takes mutexes, waits on a condition variable and a
 * semaphore, and starts a thread that outlives start-up and is joined by main. Hooks called that
 * early must go straight to the C library; threads started then are tracked lazily later.
 */
#include "rel_common.h"

#include <pthread.h>
#include <semaphore.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static sem_t s;
static int flag;
static long work;
static pthread_t survivor;

static void *early_helper(void *arg)
{
    pthread_mutex_lock(&m);
    work += (long)arg;
    flag = 1;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
    sem_post(&s);
    return NULL;
}

/* Started before the shim is ready; still running (and locking) when main runs. */
static void *early_survivor(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&m);
        work++;
        pthread_mutex_unlock(&m);
    }
    sem_wait(&s);     /* posted by main */
    return (void *)7L;
}

static void preinit(int argc, char **argv, char **envp)
{
    (void)argc, (void)argv, (void)envp;
    sem_init(&s, 0, 0);
    pthread_t t;
    pthread_create(&t, NULL, early_helper, (void *)10L);
    pthread_mutex_lock(&m);
    while (!flag)
        pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
    sem_wait(&s);
    pthread_join(t, NULL);
    pthread_create(&survivor, NULL, early_survivor, NULL);
}

__attribute__((section(".preinit_array"), used)) static void (*preinit_entry)(int, char **, char **) = preinit;

int main(void)
{
    pthread_mutex_lock(&m);
    printf("ok_rel_preinit: early work %ld\n", work >= 10 ? 10L : work);
    pthread_mutex_unlock(&m);
    sem_post(&s);
    void *ret;
    pthread_join(survivor, &ret);
    printf("ok_rel_preinit: survivor returned %ld, work %ld\n", (long)ret, work);
    return 0;
}
