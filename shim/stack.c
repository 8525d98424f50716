/*
 * Stack capture with libunwind. Two uses: the creating thread's own stack in pthread_create (cheap
 * enough there: thread creation already costs tens of microseconds), and the watchdog unwinding a
 * blocked thread from the register context its hook saved. The second works because the hook's
 * frame and every frame above it stay untouched while the thread sleeps below them; the watchdog
 * re-checks the wait sequence afterwards and discards a stack that raced with a wake-up.
 */
#include "pg.h"

#include <sched.h>

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
    for (int i = 1 + skip; i < got && n < max; i++)   /* buf[0] is this function's own frame */
        pcs[n++] = (uintptr_t)buf[i];
    return n;
}

/* Per-thread caches: the default global cache blocks all signals around every look-up, a system
 * call pair per frame on the thread-creation path. (unw_backtrace is not used: its trace cache
 * costs 256 KiB of memory in every thread that unwinds.) */
void pg_stack_init(void)
{
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
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
