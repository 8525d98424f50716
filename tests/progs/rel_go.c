/*
 * Deadlocks on purpose when told to: prints "rel_go: waiting", waits (polling, up to 20 s) until
 * the file argv[1] exists, prints "rel_go: start" and runs a two-thread lock inversion (go_thread_a
 * / go_thread_b, blocking in go_lock_second). The security tests use the pause to plant files and
 * symlinks where the report will be created, once they know the pid.
 */
#include "rel_common.h"

#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;

void go_lock_second(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
}

void *go_thread_a(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_a);
    pthread_barrier_wait(&both_hold);
    go_lock_second(&lock_b);
    pthread_mutex_unlock(&lock_a);
    return NULL;
}

void *go_thread_b(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_b);
    pthread_barrier_wait(&both_hold);
    go_lock_second(&lock_a);
    pthread_mutex_unlock(&lock_b);
    return NULL;
}

int main(int argc, char **argv)
{
    printf("rel_go: waiting\n");
    fflush(stdout);
    long deadline = rel_now_ms() + 20000;
    while (argc > 1 && access(argv[1], F_OK) != 0 && rel_now_ms() < deadline)
        rel_sleep_ms(10);
    printf("rel_go: start\n");
    fflush(stdout);
    pthread_t a, b;
    pthread_barrier_init(&both_hold, NULL, 2);
    pthread_create(&a, NULL, go_thread_a, NULL);
    pthread_create(&b, NULL, go_thread_b, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
