/*
 * libc's syscall() hook, for futex waits made outside pthreads: C++ std::future, std::atomic::wait,
 * std::latch and GLib call syscall(SYS_futex, ...) directly. syscall() is variadic and the callee
 * cannot know how many arguments were passed, so the hook forwards six, as every syscall takes at
 * most six; extra register arguments are harmless. Only untimed FUTEX_WAIT and FUTEX_WAIT_BITSET are
 * published as waits; everything else, futex or not, goes straight through, errno and all.
 */
#include "pg.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <sys/syscall.h>

PG_EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    if (PG_UNLIKELY(!pg_real.syscall))
        pg_real_resolve();
    if (nr != SYS_futex)
        return pg_real.syscall(nr, a1, a2, a3, a4, a5, a6);
    int op = (int)a2 & FUTEX_CMD_MASK;
    if (op == FUTEX_WAKE || op == FUTEX_WAKE_BITSET) {
        long r = pg_real.syscall(nr, a1, a2, a3, a4, a5, a6);
        if (r == 0) {
            /* Nobody woken. Inside a condition signal (an adapter says so) that is work queued
             * while every waiter was busy; anywhere else it is an unlock nobody waited for. */
            int e = errno;
            struct pg_thread *t = pg_cur;
            if ((uintptr_t)t > 1 && t->wake_is_signal)
                pg_lost_note(t, (uintptr_t)a1, PG_W_FUTEX, 1);
            errno = e;
        }
        return r;
    }
    if (op != FUTEX_WAIT && op != FUTEX_WAIT_BITSET)
        return pg_real.syscall(nr, a1, a2, a3, a4, a5, a6);
    struct pg_thread *t = pg_self();
    if (!t)
        return pg_real.syscall(nr, a1, a2, a3, a4, a5, a6);
    struct pg_waitscope ws __attribute__((cleanup(pg_wait_end)));
    PG_WAIT_BEGIN(ws, t, PG_W_FUTEX, a1, a4 != 0,
                  (uintptr_t)a2 | (t->futex_is_lock ? PG_FUTEX_LOCK_WAIT : 0));
    pg_watchdog_ensure();
    long r = pg_real.syscall(nr, a1, a2, a3, a4, a5, a6);
    int e = errno;
    pg_wait_end(&ws);
    errno = e;
    return r;
}
