/*
 * A classic two-lock deadlock for the detection-latency measurement. Thread A holds m1 and blocks
 * on m2; thread B holds m2, writes the CLOCK_MONOTONIC time to the file named by BENCH_TS_FILE, and
 * then blocks on m1: the deadlock exists from that instant. The main thread joins A. Never exits
 * on its own; the latency harness kills it.
 */
#include "bench.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t m1 = PTHREAD_MUTEX_INITIALIZER, m2 = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;

static void write_stamp(void)
{
    const char *path = getenv("BENCH_TS_FILE");
    char buf[32];
    uint64_t now = bench_now_ns();
    int len = snprintf(buf, sizeof buf, "%llu\n", (unsigned long long)now);
    int fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : -1;
    if (fd >= 0) {
        (void)!write(fd, buf, (size_t)len);
        close(fd);
    }
}

static void *thread_a(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m1);
    pthread_barrier_wait(&both_hold);
    pthread_mutex_lock(&m2);
    return NULL;
}

static void *thread_b(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m2);
    pthread_barrier_wait(&both_hold);
    struct timespec ts = {0, 20 * 1000000L};   /* A is blocked on m2 by now */
    nanosleep(&ts, NULL);
    write_stamp();
    pthread_mutex_lock(&m1);
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    pthread_barrier_init(&both_hold, NULL, 2);
    pthread_create(&a, NULL, thread_a, NULL);
    pthread_create(&b, NULL, thread_b, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
