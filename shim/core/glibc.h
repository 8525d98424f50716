/*
 * glibc's lock words: the one place that knows how the C library lays out and uses them. The
 * shim's hooks (hook_mutex.c's inline fast path, hook_cond.c and hook_sem.c's "is anyone waiting"),
 * the watchdog (a mutex's owner, an rwlock's writer and readers, whether a condition variable or a
 * semaphore is process-shared, how many threads a condition variable counts) and the analyzer's
 * attach and core (the same, read from another process) all decode through these accessors.
 * Inline, no allocation, no lock, errno untouched: the hooks call them on the program's hot path.
 *
 * Two guards keep a different C library from being misread:
 *  - At compile time, _Static_assert on the size and offset of every field read, in the manner of
 *    compiler-rt's sanitizer_platform_limits_posix: against the public types where glibc exposes
 *    them (struct __pthread_mutex_s, __pthread_rwlock_arch_t, __pthread_cond_s in
 *    <bits/thread-shared-types.h>) and against glibc's documented private layout where it hides it
 *    (struct new_sem in sysdeps/nptl/internaltypes.h: a 64-bit word, value in the low half, waiter
 *    count in the high half, then the futex "private" flag). The numbers are those of x86_64, the
 *    one architecture verified. Elsewhere the checks are left out and the run-time gate below stays
 *    shut: the shim still records every wait and proves what needs no lock word (join cycles,
 *    lock order, pools), and the analyzer, which already refuses attach and core off x86_64,
 *    still builds. A C library that is not glibc has none of these fields: the build stops.
 *  - At run time (the shim only): pg_glibc_gate(), called once by the constructor, reads
 *    gnu_get_libc_version() and opens the gate only for the range whose layouts and protocols
 *    were checked against glibc's sources, PG_GLIBC_MIN..PG_GLIBC_MAX. Outside it every decoder
 *    answers "unknown": waits are still recorded but opaque (no owner or holder is read from the
 *    lock word, no proof rests on one), the mutex fast path is off (every call goes to the C
 *    library), and one warning on stderr names the version. Until the constructor has run the
 *    gate is shut too. POOLGUARD_GLIBC_VERSION replaces the version read (a test aid: it lets the
 *    tests see what a user of another glibc sees).
 *
 * What was checked, per glibc version (bminor/glibc tags):
 *  - mutex (__lock 0, __owner 8, __nusers 12, __kind 16; lock word 0 free, 1 taken, 2 taken with
 *    waiters; __kind bit 16 robust, bit 128 process-shared; owner 0x7fffffff not recoverable,
 *    0x7ffffffe inconsistent): unchanged 2.34..2.42.
 *  - rwlock (the 2.25 rewrite: __readers 0 with readers counted from bit 3, __wrphase_futex 8,
 *    __writers_futex 12, __cur_writer 24, __shared 28, __flags 48): unchanged 2.25..2.42.
 *  - condvar (the 2.25 rewrite: __wrefs counts waiters from bit 3, bit 0 process-shared;
 *    pthread_cond_destroy waits until it drops to the flags): __wrefs at 36 from 2.25 to 2.40;
 *    2.41 removed __g_refs and moved it to 28.
 *  - semaphore (the 2.21 rewrite, struct new_sem): unchanged since.
 * Hence PG_GLIBC_MIN 2.34 (the first with libpthread merged into libc, which the shim's
 * interposition assumes) and PG_GLIBC_MAX 2.40.
 */
#ifndef PG_GLIBC_H
#define PG_GLIBC_H

#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef __GLIBC__
#error "poolguard decodes glibc's lock words (shim/core/glibc.h); this C library is not glibc"
#endif

enum {
    PG_GLIBC_MIN_MAJOR = 2,
    PG_GLIBC_MIN_MINOR = 34,
    PG_GLIBC_MAX_MAJOR = 2,
    PG_GLIBC_MAX_MINOR = 40
};

#if defined(__x86_64__) && !defined(__ILP32__)
#define PG_GLIBC_ARCH_VERIFIED 1

/* struct __pthread_mutex_s (bits/struct_mutex.h) */
_Static_assert(sizeof(pthread_mutex_t) == 40, "glibc pthread_mutex_t size");
_Static_assert(offsetof(pthread_mutex_t, __data.__lock) == 0, "glibc mutex __lock");
_Static_assert(sizeof(((pthread_mutex_t *)0)->__data.__lock) == 4, "glibc mutex __lock size");
_Static_assert(offsetof(pthread_mutex_t, __data.__owner) == 8, "glibc mutex __owner");
_Static_assert(sizeof(((pthread_mutex_t *)0)->__data.__owner) == 4, "glibc mutex __owner size");
_Static_assert(offsetof(pthread_mutex_t, __data.__nusers) == 12, "glibc mutex __nusers");
_Static_assert(sizeof(((pthread_mutex_t *)0)->__data.__nusers) == 4, "glibc mutex __nusers size");
_Static_assert(offsetof(pthread_mutex_t, __data.__kind) == 16, "glibc mutex __kind");
_Static_assert(sizeof(((pthread_mutex_t *)0)->__data.__kind) == 4, "glibc mutex __kind size");

/* __pthread_rwlock_arch_t (bits/struct_rwlock.h, x86_64) */
_Static_assert(sizeof(pthread_rwlock_t) == 56, "glibc pthread_rwlock_t size");
_Static_assert(offsetof(pthread_rwlock_t, __data.__readers) == 0, "glibc rwlock __readers");
_Static_assert(sizeof(((pthread_rwlock_t *)0)->__data.__readers) == 4,
               "glibc rwlock __readers size");
_Static_assert(offsetof(pthread_rwlock_t, __data.__wrphase_futex) == 8,
               "glibc rwlock __wrphase_futex");
_Static_assert(offsetof(pthread_rwlock_t, __data.__writers_futex) == 12,
               "glibc rwlock __writers_futex");
_Static_assert(offsetof(pthread_rwlock_t, __data.__cur_writer) == 24, "glibc rwlock __cur_writer");
_Static_assert(sizeof(((pthread_rwlock_t *)0)->__data.__cur_writer) == 4,
               "glibc rwlock __cur_writer size");
_Static_assert(offsetof(pthread_rwlock_t, __data.__shared) == 28, "glibc rwlock __shared");
_Static_assert(sizeof(((pthread_rwlock_t *)0)->__data.__shared) == 4, "glibc rwlock __shared size");
_Static_assert(offsetof(pthread_rwlock_t, __data.__flags) == 48, "glibc rwlock __flags");
_Static_assert(sizeof(((pthread_rwlock_t *)0)->__data.__flags) == 4, "glibc rwlock __flags size");

/* struct __pthread_cond_s (bits/thread-shared-types.h): 2.25..2.40, not 2.41's */
_Static_assert(sizeof(pthread_cond_t) == 48, "glibc pthread_cond_t size");
_Static_assert(offsetof(pthread_cond_t, __data.__wrefs) == 36,
               "glibc cond __wrefs (moved in 2.41)");
_Static_assert(sizeof(((pthread_cond_t *)0)->__data.__wrefs) == 4, "glibc cond __wrefs size");
#else
#define PG_GLIBC_ARCH_VERIFIED 0
#endif

/* glibc's struct new_sem with 64-bit atomics (sysdeps/nptl/internaltypes.h), which sem_t hides. */
struct pg_glibc_sem {
    uint64_t data; /* value in bits 0..31, waiter count from bit 32 (SEM_NWAITERS_SHIFT) */
    int private;   /* 0 (FUTEX_PRIVATE) for a private semaphore, FUTEX_PRIVATE_FLAG if shared */
    int pad;
};
#if PG_GLIBC_ARCH_VERIFIED
_Static_assert(sizeof(sem_t) == 32, "glibc sem_t size");
_Static_assert(sizeof(struct pg_glibc_sem) <= sizeof(sem_t), "glibc new_sem fits in sem_t");
_Static_assert(offsetof(struct pg_glibc_sem, data) == 0, "glibc new_sem data");
_Static_assert(offsetof(struct pg_glibc_sem, private) == 8, "glibc new_sem private");
_Static_assert(_Alignof(sem_t) >= _Alignof(uint64_t), "glibc sem_t aligned for its 64-bit word");
#endif

/* Offsets another process's lock is read at (the watchdog, attach and core copy words out). */
#define PG_GLIBC_COND_WREFS_OFF offsetof(pthread_cond_t, __data.__wrefs)
#define PG_GLIBC_RWLOCK_WRPHASE_OFF offsetof(pthread_rwlock_t, __data.__wrphase_futex)
#define PG_GLIBC_RWLOCK_WRITERS_OFF offsetof(pthread_rwlock_t, __data.__writers_futex)
#define PG_GLIBC_SEM_PRIVATE_OFF offsetof(struct pg_glibc_sem, private)
/* struct pthread's tid word in 2.36 (x86_64), the first place attach looks; it searches if not. */
#define PG_GLIBC_236_PTHREAD_TID_OFF 0x2d0

/* ------------------------------------------------------------------------------------------ */
/* The version gate                                                                           */

/* "2.36", "2.36.9000", "2.40-13" -> major, minor; 0, or -1 if s does not start "N.N". Pure. */
static inline int pg_glibc_parse_version(const char *s, int *major, int *minor)
{
    int v[2] = { 0, 0 };
    for (int k = 0; k < 2; k++) {
        if (!s || *s < '0' || *s > '9')
            return -1;
        while (*s >= '0' && *s <= '9') {
            if (v[k] > 9999)
                return -1;
            v[k] = v[k] * 10 + (*s++ - '0');
        }
        if (k == 0 && *s++ != '.')
            return -1;
    }
    *major = v[0];
    *minor = v[1];
    return 0;
}

/* Is a glibc of this version (gnu_get_libc_version's string) one whose layouts were verified on
 * this architecture? Pure: the gate's whole decision. */
static inline int pg_glibc_version_verified(const char *version)
{
    int major, minor;
    if (!PG_GLIBC_ARCH_VERIFIED || pg_glibc_parse_version(version, &major, &minor) < 0)
        return 0;
    long v = major * 10000L + minor;
    return v >= PG_GLIBC_MIN_MAJOR * 10000L + PG_GLIBC_MIN_MINOR &&
           v <= PG_GLIBC_MAX_MAJOR * 10000L + PG_GLIBC_MAX_MINOR;
}

/* The shim's gate (glibc.c): 1 once the constructor found a verified glibc, 0 before and
 * otherwise. pg_glibc_gate() decides it, warning once when it stays shut. */
__attribute__((visibility("hidden"))) extern int pg_glibc_known;
__attribute__((visibility("hidden"))) void pg_glibc_gate(void);

/* Is the shim's gate open (the watchdog passes it to the decoders below)? */
static inline int pg_glibc_open(void)
{
    return __atomic_load_n(&pg_glibc_known, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------------------------------------ */
/* Mutex                                                                                      */

enum {
    PG_GLIBC_MUTEX_ROBUST = 16,   /* PTHREAD_MUTEX_ROBUST_NORMAL_NP */
    PG_GLIBC_MUTEX_PSHARED = 128, /* PTHREAD_MUTEX_PSHARED_BIT (robust ones have it too) */
    PG_GLIBC_MUTEX_INCONSISTENT = 0x7ffffffe,
    PG_GLIBC_MUTEX_NOTRECOVERABLE = 0x7fffffff,
};

/* The hooks' inline fast path: the default type (kind 0: not recursive, not error-checking, not
 * robust, not process-shared, no elision), whose lock glibc takes with a compare-and-swap of the
 * lock word and then records owner and user count. 0 when the gate is shut. */
static inline int pg_glibc_mutex_plain(const pthread_mutex_t *m)
{
    return __builtin_expect(__atomic_load_n(&pg_glibc_known, __ATOMIC_RELAXED), 1) &&
           __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) == 0;
}

/* The lock word: 0 free, 1 taken, 2 taken and waited for. Only after pg_glibc_mutex_plain. */
static inline int *pg_glibc_mutex_word(pthread_mutex_t *m)
{
    return &m->__data.__lock;
}

/* What glibc records after taking the lock word, and clears before releasing it. */
static inline void pg_glibc_mutex_took(pthread_mutex_t *m, pid_t tid)
{
    m->__data.__owner = tid;
    ++m->__data.__nusers;
}

static inline void pg_glibc_mutex_releasing(pthread_mutex_t *m)
{
    m->__data.__owner = 0;
    --m->__data.__nusers;
}

static inline int pg_glibc_mutex_owned_by(const pthread_mutex_t *m, pid_t tid)
{
    return m->__data.__owner == tid;
}

struct pg_glibc_mutex {
    pid_t owner; /* 0 free; a tid; or one of the robust states */
    int kind;
};

/* A copy of a mutex decoded; -1 when the layout is unknown (known: the caller's gate). */
static inline int pg_glibc_mutex_decode(const pthread_mutex_t *copy, int known,
                                        struct pg_glibc_mutex *out)
{
    if (!known)
        return -1;
    out->owner = copy->__data.__owner;
    out->kind = copy->__data.__kind;
    return 0;
}

/* Does the owner field name a thread holding the lock (not free, not a robust state)? */
static inline int pg_glibc_mutex_held(pid_t owner)
{
    return owner != 0 && owner != PG_GLIBC_MUTEX_NOTRECOVERABLE &&
           owner != PG_GLIBC_MUTEX_INCONSISTENT;
}

/* ------------------------------------------------------------------------------------------ */
/* Read-write lock                                                                            */

struct pg_glibc_rwlock {
    pid_t writer;     /* the thread holding the write lock, 0 if none */
    unsigned readers; /* read locks held (PTHREAD_RWLOCK_READER_SHIFT 3) */
    int shared;       /* process-shared */
    unsigned flags;   /* the kind: 0 prefer readers, 1 prefer writers, 2 writers nonrecursive */
};

static inline int pg_glibc_rwlock_decode(const pthread_rwlock_t *copy, int known,
                                         struct pg_glibc_rwlock *out)
{
    if (!known)
        return -1;
    out->writer = copy->__data.__cur_writer;
    out->readers = copy->__data.__readers >> 3;
    out->shared = copy->__data.__shared != 0;
    out->flags = copy->__data.__flags;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Condition variable: __wrefs counts waiters from bit 3; bit 0 marks a process-shared one.     */

static inline unsigned pg_glibc_cond_waiters_of(unsigned wrefs)
{
    return wrefs >> 3;
}

static inline int pg_glibc_cond_shared_of(unsigned wrefs)
{
    return wrefs & 1;
}

/* How many threads glibc counts in a wait on c now (the word it reads to decide whether a signal
 * wakes anyone); -1 when the gate is shut. */
static inline long pg_glibc_cond_waiters_now(const pthread_cond_t *c)
{
    if (!__atomic_load_n(&pg_glibc_known, __ATOMIC_RELAXED))
        return -1;
    return pg_glibc_cond_waiters_of(__atomic_load_n(&c->__data.__wrefs, __ATOMIC_RELAXED));
}

/* ------------------------------------------------------------------------------------------ */
/* Semaphore                                                                                  */

static inline long pg_glibc_sem_value_of(uint64_t data)
{
    return (long)(uint32_t)data;
}

static inline unsigned pg_glibc_sem_nwaiters_of(uint64_t data)
{
    return (unsigned)(data >> 32);
}

static inline int pg_glibc_sem_shared_of(int private_flag)
{
    return private_flag != 0;
}

/* How many threads wait on s now; -1 when the gate is shut. */
static inline long pg_glibc_sem_waiters_now(const sem_t *s)
{
    if (!__atomic_load_n(&pg_glibc_known, __ATOMIC_RELAXED))
        return -1;
    const struct pg_glibc_sem *n = (const struct pg_glibc_sem *)(const void *)s;
    return pg_glibc_sem_nwaiters_of(__atomic_load_n(&n->data, __ATOMIC_RELAXED));
}

#endif
