/*
 * Pool exhaustion for the detection-latency measurement: a pool of two workers; each of two tasks
 * submits a child task to the same pool and waits for it. Both workers wait, both children sit in
 * the queue, nothing moves. The main thread keeps sleeping in short naps, as a server's main loop
 * does, so this is not a whole-program hang: only the pool model can prove it. The CLOCK_MONOTONIC
 * time at which the second worker starts waiting goes to the file named by BENCH_TS_FILE.
 */
#include "pool.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <unistd.h>

static struct pool p;
static _Atomic int waiting, started;

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

static void child(void *arg)
{
    latch_count_down(arg);
}

static void parent(void *arg)
{
    (void)arg;
    /* Both parents run before either submits its child; otherwise a worker may take a child
     * before the second parent and the program does not deadlock at all. */
    atomic_fetch_add(&started, 1);
    while (atomic_load(&started) < 2) {
        struct timespec nap = {0, 100000L};
        nanosleep(&nap, NULL);
    }
    struct latch l;
    latch_init(&l, 1);
    pool_submit(&p, child, &l);
    if (atomic_fetch_add(&waiting, 1) == 1)
        write_stamp();
    latch_wait(&l);
}

int main(void)
{
    pool_start(&p, 2);
    pool_submit(&p, parent, NULL);
    pool_submit(&p, parent, NULL);
    for (;;) {
        struct timespec nap = {0, 50 * 1000000L};
        nanosleep(&nap, NULL);
    }
}
