/*
 * Healthy: libc's syscall() is interposed (for futexes), so every other use of it must pass its
 * arguments and result through untouched, and futex calls must keep their exact results. Checks
 * plain system calls (getpid, gettid, write to stdout), futex waits that fail at once (EAGAIN), time
 * out (ETIMEDOUT, relative and absolute six-argument FUTEX_WAIT_BITSET), wakes with no waiter, and a
 * thread that waits on a futex word until main wakes it. Exits with status 5 on purpose.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint32_t word;

static const char *res(long rc, int err)
{
    static char buf[64];
    if (rc == -1)
        snprintf(buf, sizeof buf, "-1 %s", err == EAGAIN ? "EAGAIN" : err == ETIMEDOUT ? "ETIMEDOUT" :
                 err == EINTR ? "EINTR" : strerror(err));
    else
        snprintf(buf, sizeof buf, "%ld", rc);
    return buf;
}

static void *futex_waiter(void *arg)
{
    (void)arg;
    while (__atomic_load_n(&word, __ATOMIC_ACQUIRE) == 0)
        syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

int main(void)
{
    printf("ok_syscall: start\n");
    fflush(stdout);

    printf("getpid matches: %s\n", syscall(SYS_getpid) == getpid() ? "yes" : "no");
    printf("gettid matches: %s\n", syscall(SYS_gettid) == gettid() ? "yes" : "no");
    static const char msg[] = "written with syscall(SYS_write)\n";
    fflush(stdout);
    long n = syscall(SYS_write, 1, msg, sizeof msg - 1);
    printf("write returned %ld\n", n);

    errno = 0;
    long rc = syscall(SYS_futex, &word, FUTEX_WAIT, 1, NULL, NULL, 0);
    printf("futex wait, value differs: %s\n", res(rc, errno));

    struct timespec rel = { 0, 50 * 1000000L };
    errno = 0;
    rc = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &rel, NULL, 0);
    printf("futex wait, 50 ms relative: %s\n", res(rc, errno));

    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_nsec += 50 * 1000000L;
    if (abs.tv_nsec >= 1000000000L) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000L;
    }
    errno = 0;
    rc = syscall(SYS_futex, &word, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, NULL, FUTEX_BITSET_MATCH_ANY);
    printf("futex wait_bitset, 50 ms absolute: %s\n", res(rc, errno));

    rc = syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    printf("futex wake, nobody waiting: %s\n", res(rc, errno));

    pthread_t t;
    pthread_create(&t, NULL, futex_waiter, NULL);
    struct timespec nap = { 0, 200 * 1000000L };
    nanosleep(&nap, NULL);
    __atomic_store_n(&word, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    pthread_join(t, NULL);
    printf("futex waiter woken and joined\n");

    printf("ok_syscall: done, exiting with 5\n");
    return 5;
}
