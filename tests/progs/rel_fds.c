/*
 * Descriptors, for the test that the shim holds none while the program runs (tests/e2e/check_real.c).
 * Threads first contend on a mutex and wait on a condition variable with time-outs for a while, so
 * the shim has tracked them, unwound their stacks and run its watchdog; then the program looks at
 * its descriptors.
 *
 *   rel_fds list          prints the numbers of its open descriptors (3 and up)
 *   rel_fds limit N       sets its soft descriptor limit to N, opens /dev/null until EMFILE and
 *                         prints how many it could open
 *   rel_fds limit N dl    the same, then, with every descriptor used, deadlocks (a two-thread
 *                         lock inversion: fds_thread_a/fds_thread_b in fds_lock_second); prints
 *                         "rel_fds: deadlock" first
 */
#include "rel_common.h"

#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER, a = PTHREAD_MUTEX_INITIALIZER,
                       b = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t both;

static void *busy(void *arg)
{
    (void)arg;
    long end = rel_now_ms() + 400;
    while (rel_now_ms() < end) {
        pthread_mutex_lock(&m);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5 * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&c, &m, &ts);
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

static void warm_up(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, busy, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
}

__attribute__((noinline)) static void fds_lock_second(pthread_mutex_t *x)
{
    pthread_mutex_lock(x);
}

static void *fds_thread_a(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&a);
    pthread_barrier_wait(&both);
    fds_lock_second(&b);
    return NULL;
}

static void *fds_thread_b(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&b);
    pthread_barrier_wait(&both);
    fds_lock_second(&a);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "list";
    if (!strcmp(mode, "list")) {
        warm_up();
        DIR *d = opendir("/proc/self/fd");
        int self = d ? dirfd(d) : -1;
        struct dirent *e;
        printf("rel_fds:");
        while (d && (e = readdir(d))) {
            int fd = atoi(e->d_name);
            if (e->d_name[0] != '.' && fd > 2 && fd != self)
                printf(" %d", fd);
        }
        printf("\n");
        if (d)
            closedir(d);
        return 0;
    }
    if (!strcmp(mode, "limit") && argc > 2) {
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = strtoul(argv[2], NULL, 10);
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            perror("setrlimit");
            return 1;
        }
        warm_up();
        pthread_barrier_init(&both, NULL, 2);
        pthread_t ta, tb;
        bool dl = argc > 3 && !strcmp(argv[3], "dl");
        if (dl) {
            /* The threads exist before the descriptors run out (creating them needs none). */
            printf("rel_fds: deadlock\n");
            fflush(stdout);
        }
        int n = 0;
        while (open("/dev/null", O_RDONLY) >= 0)
            n++;
        printf("rel_fds: opened %d more before %s\n", n, strerror(errno));
        fflush(stdout);
        if (!dl)
            return 0;
        pthread_create(&ta, NULL, fds_thread_a, NULL);
        pthread_create(&tb, NULL, fds_thread_b, NULL);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        return 0;
    }
    fprintf(stderr, "usage: rel_fds list | limit N [dl]\n");
    return 2;
}
