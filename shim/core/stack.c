/*
 * Stack capture with libunwind. Two uses: the creating thread's own stack in pthread_create (cheap
 * enough there: thread creation already costs tens of microseconds), and the watchdog unwinding a
 * blocked thread from the register context its hook saved. The second works because the hook's
 * frame and every frame above it stay untouched while the thread sleeps below them; the watchdog
 * re-checks the wait sequence afterwards and discards a stack that raced with a wake-up.
 *
 * No descriptor of the program's: libunwind 1.6 opens a pipe when it initializes (to check that an
 * address is readable by write(2)-ing one byte of it), keeps it for the life of the process, and
 * when a read of it fails, as after the program closed or dup2()ed over those numbers, "re-opens"
 * it by closing whatever the numbers then are. pg_stack_init replaces the local address space's
 * memory accessor with one that checks addresses without a descriptor, then closes that pipe, so
 * libunwind never touches it again (docs/security.md).
 */
#include "pg.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* fork() must not happen while a thread unwinds: libunwind's locks would stay locked in the child
 * and its first unwind would hang. Unwinders announce themselves; the fork handler raises
 * `forking` and waits for them to finish, and a thread that finds it raised takes no stack. */
static _Atomic int forking, unwinding;

static int enter(void)
{
    atomic_fetch_add(&unwinding, 1);
    if (atomic_load(&forking)) {
        atomic_fetch_sub(&unwinding, 1);
        return 0;
    }
    return 1;
}

static void leave(void)
{
    atomic_fetch_sub(&unwinding, 1);
}

void pg_stack_fork_prepare(void)
{
    atomic_store(&forking, 1);
    while (atomic_load(&unwinding))
        sched_yield();
}

void pg_stack_fork_done(void)
{
    atomic_store(&unwinding, 0);
    atomic_store(&forking, 0);
}

/* Inlined into pg_stack_here, so that the frames counted from here are the caller's. */
static inline __attribute__((always_inline)) int stack_here(uintptr_t *pcs, int max, int skip)
{
    unw_context_t ctx;
    unw_cursor_t cur;
    if (unw_getcontext(&ctx) != 0 || unw_init_local(&cur, &ctx) != 0)
        return 0;
    int n = 0;
    while (n < max && unw_step(&cur) > 0) {
        unw_word_t ip;
        if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip == 0)
            break;
        if (skip > 0) {
            skip--;
            continue;
        }
        pcs[n++] = (uintptr_t)ip;
    }
    return n;
}

int pg_stack_here(uintptr_t *pcs, int max, int skip)
{
    if (!enter())
        return 0;
    int n = stack_here(pcs, max, skip);
    leave();
    return n;
}

/* The same through unw_backtrace, libunwind's fast path: no signal masking per frame, but a trace
 * cache of 256 KiB mapped in each thread that uses it. Worth it for threads that create many
 * threads (see pthread_create), not for every thread. */
int pg_stack_here_fast(uintptr_t *pcs, int max, int skip)
{
    void *buf[PG_CREATE_DEPTH + 8];
    int want = max + skip + 1;
    if (want > (int)(sizeof buf / sizeof buf[0]))
        want = (int)(sizeof buf / sizeof buf[0]);
    if (!enter())
        return 0;
    int got = unw_backtrace(buf, want);
    leave();
    int n = 0;
    for (int i = 1 + skip; i < got && n < max; i++) /* buf[0] is this function's own frame */
        pcs[n++] = (uintptr_t)buf[i];
    return n;
}

/* Is the word at addr readable? rt_sigprocmask copies its 8-byte set from user memory before it
 * looks at `how`: an unreadable address gives EFAULT, a readable one EINVAL for the invalid `how`,
 * and nothing changes. No descriptor, no signal, allowed by every seccomp policy that lets a
 * program use signals. */
static int readable(unw_word_t addr)
{
    long r = syscall(SYS_rt_sigprocmask, -1, (void *)addr, (void *)0, (size_t)8);
    return !(r != 0 && errno == EFAULT);
}

/* libunwind 1.6's local access_mem (src/x86_64/Ginit.c) but for the check: it reads directly
 * unless the cursor asks for validation, which libunwind marks in bit 0 of the accessor's argument
 * (AS_ARG_GET_VALIDATE, include/libunwind_i.h) when it follows frame pointers or probes for a
 * signal frame. */
static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
    (void)as;
    if (write) {
        *(unw_word_t *)addr = *val;
        return 0;
    }
    if (((uintptr_t)arg & 1) && (addr < 4096 || !readable(addr)))
        return -UNW_EINVAL;
    *val = *(unw_word_t *)addr;
    return 0;
}

/* The lowest free descriptor from `from` on: where the next pipe2() puts an end. */
static int lowest_free(int from)
{
    int f = from;
    while (f < 65536 && (fcntl(f, F_GETFD) != -1 || errno != EBADF))
        f++;
    return f;
}

/* Per-thread caches: the default global cache blocks all signals around every look-up, a system
 * call pair per frame on the thread-creation path. (unw_backtrace is not used: its trace cache
 * costs 256 KiB of memory in every thread that unwinds.)
 *
 * libunwind initializes on its first call here and opens its pipe at the two lowest free numbers.
 * They are closed only if they are exactly that: both ends of one pipe, non-blocking and
 * close-on-exec, at the numbers that were free just before. If libunwind was initialized already
 * (the program uses it too), or another thread took a number meanwhile, nothing is closed. */
void pg_stack_init(void)
{
    int saved = errno;
    int a = lowest_free(0), b = lowest_free(a + 1);
    unw_accessors_t *acc = unw_get_accessors(unw_local_addr_space);
    struct stat sa, sb;
    if (fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && S_ISFIFO(sa.st_mode) && S_ISFIFO(sb.st_mode) &&
        sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev && (fcntl(a, F_GETFL) & O_NONBLOCK) &&
        (fcntl(b, F_GETFL) & O_ACCMODE) == O_WRONLY && (fcntl(a, F_GETFD) & FD_CLOEXEC) &&
        (fcntl(b, F_GETFD) & FD_CLOEXEC)) {
        /* From here libunwind reads memory only through this accessor, never through the pipe. */
        acc->access_mem = access_mem;
        close(a);
        close(b);
    } else if (acc) {
        acc->access_mem = access_mem;
    }
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    errno = saved;
}

int pg_stack_from(unw_context_t *ctx, uintptr_t *pcs, int max)
{
    unw_cursor_t cur;
    if (!enter())
        return 0;
    if (unw_init_local(&cur, ctx) != 0) {
        leave();
        return 0;
    }
    int n = 0;
    do {
        unw_word_t ip;
        if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip == 0)
            break;
        pcs[n++] = (uintptr_t)ip;
    } while (n < max && unw_step(&cur) > 0);
    leave();
    return n;
}
