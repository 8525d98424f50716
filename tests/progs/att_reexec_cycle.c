/*
 * Runs outside the shim although started under it: when LD_PRELOAD is set it clears it and
 * re-execs itself (as a setuid program or a static binary would end up), then two threads take two
 * mutexes in opposite orders and deadlock. For `poolguard run --timeout`, whose snapshot of a
 * program that does not answer comes from attach (tests/e2e/check_run_shim.c). Hangs until killed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_mutex_t orders = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t invoices = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;

static void *ship_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&orders);
    pthread_barrier_wait(&both_hold);
    pthread_mutex_lock(&invoices);
    return NULL;
}

static void *bill_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&invoices);
    pthread_barrier_wait(&both_hold);
    pthread_mutex_lock(&orders);
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    if (getenv("LD_PRELOAD")) {
        /* The path, not /proc/self/exe, so that the threads keep the program's name. */
        static char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return 1;
        self[n] = '\0';
        unsetenv("LD_PRELOAD");
        execv(self, argv);
        perror("execv");
        return 1;
    }
    pthread_t a, b;
    pthread_barrier_init(&both_hold, NULL, 3);
    pthread_create(&a, NULL, ship_worker, NULL);
    pthread_create(&b, NULL, bill_worker, NULL);
    pthread_barrier_wait(&both_hold);
    printf("ready\n");
    fflush(stdout);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
