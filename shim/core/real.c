/*
 * The one place where the shim looks up the functions it wraps. Resolution happens in the
 * constructor, or earlier, on the first hooked call from another library's constructor. The
 * condition-variable functions are taken at GLIBC_2.3.2, the version programs link against;
 * the default dlsym would hand back the old LinuxThreads-compatible ones.
 */
#include "pg.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct pg_real pg_real;

static void *must(void *p, const char *name)
{
    if (!p) {
        /* Without the real function there is nothing sensible to call: the program cannot run. */
        static const char pre[] = "poolguard: fatal: cannot find the real ";
        (void)!write(2, pre, sizeof pre - 1);
        (void)!write(2, name, __builtin_strlen(name));
        (void)!write(2, "\n", 1);
        abort();
    }
    return p;
}

static void *next(const char *name)
{
    return must(dlsym(RTLD_NEXT, name), name);
}

static void *next_v(const char *name, const char *version)
{
    void *p = dlvsym(RTLD_NEXT, name, version);
    return must(p ? p : dlsym(RTLD_NEXT, name), name);
}

/* Optional: absent from older C libraries; the hook then reports ENOSYS like a missing symbol. */
static void *maybe(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

void pg_real_resolve(void)
{
    static _Atomic int done;
    if (atomic_load_explicit(&done, memory_order_acquire))
        return;
    struct pg_real r;
    /* Locks first: if dlsym itself reaches a hooked lock, those are the ones it needs. */
    r.mutex_lock = next("pthread_mutex_lock");
    r.mutex_unlock = next("pthread_mutex_unlock");
    r.mutex_trylock = next("pthread_mutex_trylock");
    if (!pg_real.mutex_lock) {
        pg_real.mutex_lock = r.mutex_lock;
        pg_real.mutex_unlock = r.mutex_unlock;
        pg_real.mutex_trylock = r.mutex_trylock;
    }
    r.mutex_timedlock = next("pthread_mutex_timedlock");
    r.mutex_init = next("pthread_mutex_init");
    r.mutex_destroy = next("pthread_mutex_destroy");
    r.rw_init = next("pthread_rwlock_init");
    r.rw_destroy = next("pthread_rwlock_destroy");
    r.mutex_clocklock = maybe("pthread_mutex_clocklock");
    r.pthread_create = next("pthread_create");
    r.pthread_join = next("pthread_join");
    r.pthread_tryjoin_np = next("pthread_tryjoin_np");
    r.pthread_timedjoin_np = next("pthread_timedjoin_np");
    r.pthread_clockjoin_np = maybe("pthread_clockjoin_np");
    r.rw_rdlock = next("pthread_rwlock_rdlock");
    r.rw_wrlock = next("pthread_rwlock_wrlock");
    r.rw_tryrdlock = next("pthread_rwlock_tryrdlock");
    r.rw_trywrlock = next("pthread_rwlock_trywrlock");
    r.rw_timedrdlock = next("pthread_rwlock_timedrdlock");
    r.rw_timedwrlock = next("pthread_rwlock_timedwrlock");
    r.rw_clockrdlock = maybe("pthread_rwlock_clockrdlock");
    r.rw_clockwrlock = maybe("pthread_rwlock_clockwrlock");
    r.rw_unlock = next("pthread_rwlock_unlock");
    r.cond_wait = next_v("pthread_cond_wait", "GLIBC_2.3.2");
    r.cond_timedwait = next_v("pthread_cond_timedwait", "GLIBC_2.3.2");
    r.cond_clockwait = maybe("pthread_cond_clockwait");
    r.cond_signal = next_v("pthread_cond_signal", "GLIBC_2.3.2");
    r.cond_broadcast = next_v("pthread_cond_broadcast", "GLIBC_2.3.2");
    r.cond_destroy = next_v("pthread_cond_destroy", "GLIBC_2.3.2");
    r.once = next("pthread_once");
    r.sem_wait = next_v("sem_wait", "GLIBC_2.2.5");
    r.sem_trywait = next_v("sem_trywait", "GLIBC_2.2.5");
    r.sem_timedwait = next_v("sem_timedwait", "GLIBC_2.2.5");
    r.sem_clockwait = maybe("sem_clockwait");
    r.sem_post = next_v("sem_post", "GLIBC_2.2.5");
    r.barrier_wait = next("pthread_barrier_wait");
    r.spin_lock = next("pthread_spin_lock");
    r.spin_trylock = next("pthread_spin_trylock");
    r.spin_unlock = next("pthread_spin_unlock");
    r.syscall = next("syscall");
    pg_real = r;
    atomic_store_explicit(&done, 1, memory_order_release);
}

/* A library adapter's real function (adapt_*.c): the next definition after the shim's own, or
 * NULL when no loaded library defines it (the program does not use that library, or has not
 * loaded it yet). Never aborts: an adapter whose library is absent is simply never called. */
void *pg_real_optional(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}
