/*
 * Many live threads at once, for the thread table's default size
 * (tests/e2e/check_real_workloads.c).
 *
 *   rel_many N [MS]  starts N-1 threads with 16 KiB stacks, each blocked in read() on a pipe, so
 *                    that N threads (main included) are alive together; prints "rel_many: N live",
 *                    keeps them so until SIGUSR1 comes or MS milliseconds have passed (default 0;
 *                    meanwhile the watchdog's scans of the full table can be watched), prints its
 *                    peak memory on stderr ("rel_mem: ..."), closes the pipe (every read returns),
 *                    joins them all and prints "rel_many: done"
 *
 * A thread that cannot be created ends the program with status 3 and a line on stderr saying how
 * many were running: the machine's limit, not the shim's.
 */
#include "rel_common.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static int pipefd[2];

static void *sleeper(void *arg)
{
    (void)arg;
    char c;
    while (read(pipefd[0], &c, 1) > 0)
        ;
    return NULL;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    long hold_ms = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
    if (n < 1 || hold_ms < 0 || pipe(pipefd) != 0)
        return 2;
    /* Blocked before the first thread starts, so that only sigtimedwait below takes it. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    pthread_t *t = calloc((size_t)n, sizeof *t);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 16 * 1024);
    long made = 0;
    for (long i = 0; i + 1 < n; i++, made++) {
        int r = pthread_create(&t[i], &attr, sleeper, NULL);
        if (r != 0) {
            fprintf(stderr, "rel_many: thread %ld of %ld: %s\n", i + 1, n - 1, strerror(r));
            close(pipefd[1]);
            for (long k = 0; k < made; k++)
                pthread_join(t[k], NULL);
            return 3;
        }
    }
    printf("rel_many: %ld live\n", made + 1);
    fflush(stdout);
    long until = rel_now_ms() + hold_ms;
    for (long left = hold_ms; left > 0; left = until - rel_now_ms()) {
        struct timespec ts = { left / 1000, (left % 1000) * 1000000L };
        if (sigtimedwait(&usr1, NULL, &ts) == SIGUSR1)
            break;
    }
    rel_print_mem();
    close(pipefd[1]);
    for (long i = 0; i < made; i++)
        pthread_join(t[i], NULL);
    printf("rel_many: done\n");
    return 0;
}
