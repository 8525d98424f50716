/*
 * What the kernel says about the process's threads, from /proc: how many there are, which are
 * runnable or zombies, and whether the program catches a signal that could wake a sleeping thread.
 * The shim's own threads (the watchdog, the Python inspector) are never counted.
 *
 * Runs in the watchdog thread only: raw system calls into static buffers, no allocation, no stdio
 * streams.
 */
#include "python.h"
#include "scan.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Calls keep(tid) for each thread of the process but the shim's own, without allocating, and
 * counts those it keeps; -1 if the list cannot be read. */
static int count_threads(int (*keep)(pid_t tid))
{
    static char buf[8192];
    int d = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0)
        return -1;
    pid_t me = (pid_t)syscall(SYS_gettid), inspector = pg_py_inspector_tid();
    int count = 0;
    for (;;) {
        long nread = syscall(SYS_getdents64, d, buf, sizeof buf);
        if (nread <= 0)
            break;
        for (long off = 0; off < nread;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *e = (void *)(buf + off);
            off += e->reclen;
            if (e->name[0] < '1' || e->name[0] > '9')
                continue;
            pid_t tid = atoi(e->name);
            if (tid != me && tid != inspector && keep(tid))
                count++;
        }
    }
    close(d);
    return count;
}

static int any_thread(pid_t tid)
{
    (void)tid;
    return 1;
}

/* The process's threads other than the shim's own. */
int pg_count_tasks(void)
{
    return count_threads(any_thread);
}

/* True when a signal handler could still wake a thread: the program catches a signal that can
 * arrive from outside (SIGINT, SIGTERM, SIGALRM, SIGCHLD, SIGUSR1, real-time signals...). */
int pg_async_handlers_installed(void)
{
    static char buf[4096];
    ssize_t n;
    int f = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return 1;
    n = read(f, buf, sizeof buf - 1);
    close(f);
    if (n <= 0)
        return 1;
    buf[n] = 0;
    char *p = strstr(buf, "SigCgt:");
    if (!p)
        return 1;
    unsigned long long caught = strtoull(p + 7, NULL, 16);
    /* Synchronous faults, and signals nothing can raise while every thread sleeps; 32 and 33 are
     * the C library's own. Bit k-1 is signal k. */
    static const int sync_sigs[] = { SIGILL,  SIGTRAP, SIGABRT,   SIGBUS,  SIGFPE, SIGSEGV, SIGPIPE,
                                     SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGSYS, 32,      33 };
    for (size_t k = 0; k < sizeof sync_sigs / sizeof sync_sigs[0]; k++)
        caught &= ~(1ull << (sync_sigs[k] - 1));
    return caught != 0;
}

/* The thread's state letter from /proc (R, S, D, Z, ...); 0 when the line cannot be parsed, -1
 * when it cannot be read (the thread is gone). */
static int thread_state(pid_t tid)
{
    char p[64], st[256];
    snprintf(p, sizeof p, "/proc/self/task/%d/stat", (int)tid);
    int f = open(p, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -1;
    ssize_t r = read(f, st, sizeof st - 1);
    close(f);
    if (r <= 0)
        return -1;
    st[r] = 0;
    const char *paren = strrchr(st, ')'); /* the thread's name may hold anything */
    return paren && paren[1] == ' ' ? (unsigned char)paren[2] : 0;
}

/* Is the thread runnable (woken, or running) as the kernel sees it? A thread that was signalled,
 * posted or handed a lock is runnable from that moment, however long the scheduler takes to run
 * it, so a finding whose threads include a runnable one is not proven yet. -1 if unknown. */
int pg_thread_runnable(pid_t tid)
{
    int state = thread_state(tid);
    return state > 0 ? state == 'R' : -1;
}

static int not_zombie(pid_t tid)
{
    int state = thread_state(tid);
    return state >= 0 && state != 'Z' && state != 'X';
}

/* Threads of the program still alive (not zombies), ours left out; -1 if unknown. Reads every
 * thread's state: call it only when the table says few threads are left. */
int pg_live_program_threads(void)
{
    return count_threads(not_zombie);
}
