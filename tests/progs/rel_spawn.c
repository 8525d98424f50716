/*
 * Deadlocks on purpose in a program started by exec, posix_spawn or vfork+exec from a process
 * running under the shim: LD_PRELOAD and POOLGUARD_DIR are inherited, so the new image is watched
 * too and writes a report of its own.
 *
 *   rel_spawn exec     starts a thread that holds a lock and waits on a condvar, then execs itself
 *                      as "rel_spawn deadlock" (same pid; the threads of the old image are gone).
 *   rel_spawn spawn    posix_spawn()s "rel_spawn deadlock" while two threads keep locking; polls
 *                      for the child for 20 s.
 *   rel_spawn vfork    the same with vfork() + execve().
 *   rel_spawn deadlock prints "rel_spawn: deadlock pid=<pid>", then a two-thread lock inversion:
 *                      spawn_thread_a and spawn_thread_b block in spawn_lock_second.
 *
 * Each parent mode prints "rel_spawn: <mode> pid=<pid>" first.
 */
#include "rel_common.h"

#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;

void spawn_lock_second(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
}

void *spawn_thread_a(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_a);
    pthread_barrier_wait(&both_hold);
    spawn_lock_second(&lock_b);
    pthread_mutex_unlock(&lock_a);
    return NULL;
}

void *spawn_thread_b(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_b);
    pthread_barrier_wait(&both_hold);
    spawn_lock_second(&lock_a);
    pthread_mutex_unlock(&lock_b);
    return NULL;
}

static int deadlock_main(void)
{
    printf("rel_spawn: deadlock pid=%d\n", (int)getpid());
    fflush(stdout);
    pthread_t a, b;
    pthread_barrier_init(&both_hold, NULL, 2);
    pthread_create(&a, NULL, spawn_thread_a, NULL);
    pthread_create(&b, NULL, spawn_thread_b, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}

/* --- parents ----------------------------------------------------------------------------------- */

static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t busy_cond = PTHREAD_COND_INITIALIZER;
static long busy_count;

static void *busy_thread(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&busy_lock);
        busy_count++;
        pthread_cond_broadcast(&busy_cond);
        pthread_mutex_unlock(&busy_lock);
    }
    return NULL;
}

static void *waiting_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&busy_lock);
    for (;;)
        pthread_cond_wait(&busy_cond, &busy_lock);
    return NULL;
}

static char self_path[4096];

static int wait_child(pid_t child)
{
    long deadline = rel_now_ms() + 20000;
    while (rel_now_ms() < deadline) {
        if (waitpid(child, NULL, WNOHANG) == child)
            return 0;
        rel_sleep_ms(20);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 1;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "deadlock";
    if (strcmp(mode, "deadlock") == 0)
        return deadlock_main();

    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    REL_CHECK(n > 0);
    self_path[n] = 0;
    char *child_argv[] = { "rel_spawn", "deadlock", NULL };
    printf("rel_spawn: %s pid=%d\n", mode, (int)getpid());
    fflush(stdout);

    pthread_t t;
    pthread_create(&t, NULL, busy_thread, NULL);
    pthread_create(&t, NULL, waiting_thread, NULL);
    rel_sleep_ms(20);

    if (strcmp(mode, "exec") == 0) {
        execve(self_path, child_argv, environ);
        perror("execve");
        return 2;
    }
    pid_t child;
    if (strcmp(mode, "spawn") == 0) {
        int r = posix_spawn(&child, self_path, NULL, NULL, child_argv, environ);
        REL_CHECK(r == 0);
    } else {
        child = vfork();
        if (child == 0) {
            execve(self_path, child_argv, environ);
            _exit(127);
        }
        REL_CHECK(child > 0);
    }
    return wait_child(child);
}
