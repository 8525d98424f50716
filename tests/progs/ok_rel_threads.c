/*
 * Healthy: many live threads at once. `ok_rel_threads N` (default 2000) starts N threads with
 * small stacks; each takes a shared mutex, then all wait at a barrier until every one exists (the
 * watchdog sees N live threads, most blocked, while main is still creating), then each waits on a
 * condition variable for main's go, adds to a counter, and exits; main joins them all. Prints
 * memory figures (rel_mem) on stderr at the end.
 */
#include "rel_common.h"

#include <pthread.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t all_up;
static int go;
static long total;

static void *member(void *arg)
{
    pthread_mutex_lock(&m);
    total += (long)arg;
    pthread_mutex_unlock(&m);
    pthread_barrier_wait(&all_up);
    pthread_mutex_lock(&m);
    while (!go)
        pthread_cond_wait(&go_cond, &m);
    total += 1;
    pthread_mutex_unlock(&m);
    return NULL;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000;
    REL_CHECK(n > 0 && n < 100000);
    pthread_t *t = calloc((size_t)n, sizeof *t);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    pthread_barrier_init(&all_up, NULL, (unsigned)n + 1);
    for (long i = 0; i < n; i++) {
        int r = pthread_create(&t[i], &a, member, (void *)i);
        if (r != 0) {
            printf("pthread_create %ld failed: %s\n", i, strerror(r));
            return 1;
        }
    }
    pthread_barrier_wait(&all_up);
    rel_sleep_ms(300);   /* the watchdog looks at all of them, every one blocked on main's go */
    pthread_mutex_lock(&m);
    go = 1;
    pthread_cond_broadcast(&go_cond);
    pthread_mutex_unlock(&m);
    for (long i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    printf("ok_rel_threads: %ld threads, total %ld\n", n, total);
    rel_print_mem();
    free(t);
    return 0;
}
