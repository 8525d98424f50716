/*
 * Deadlocks on purpose in a child process: it tests that the shim writes one report per process
 * and keeps working after fork() (its watchdog thread does not survive fork, so the child needs a
 * fresh one). The parent (single-threaded, never blocked in an interposed wait) forks; the child
 * runs a two-thread lock inversion (child_thread_a / child_thread_b, both blocking in
 * child_lock_second). The parent waits for the child with a bounded wait (waitpid with WNOHANG in
 * a loop, 4 s deadline), then kills it and exits 1. The e2e test expects a deadlock finding in a
 * report whose header pid is the child's and whose ppid is the parent's.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold_first;
static volatile int progress;

void child_lock_second(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    progress++;
}

void *child_thread_a(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_a);
    pthread_barrier_wait(&both_hold_first);
    child_lock_second(&lock_b);
    pthread_mutex_unlock(&lock_b);
    pthread_mutex_unlock(&lock_a);
    return NULL;
}

void *child_thread_b(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_b);
    pthread_barrier_wait(&both_hold_first);
    child_lock_second(&lock_a);
    pthread_mutex_unlock(&lock_a);
    pthread_mutex_unlock(&lock_b);
    return NULL;
}

static void child_main(void)
{
    pthread_t a, b;

    pthread_barrier_init(&both_hold_first, NULL, 2);
    pthread_create(&a, NULL, child_thread_a, NULL);
    pthread_create(&b, NULL, child_thread_b, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    _exit(0);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(void)
{
    printf("dl_fork_child: start\n");
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 2;
    }
    if (child == 0)
        child_main();

    long deadline = now_ms() + 4000;
    while (now_ms() < deadline) {
        int status;
        if (waitpid(child, &status, WNOHANG) == child) {
            printf("dl_fork_child: child exited\n");
            return 0;
        }
        struct timespec pause = { 0, 20 * 1000000L };
        nanosleep(&pause, NULL);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    printf("dl_fork_child: child stuck, killed it\n");
    return 1;
}
