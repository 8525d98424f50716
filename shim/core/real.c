/*
 * The one place where the shim looks up the functions it wraps, as hooks.def lists them (each
 * entry's symbol version and how it is resolved are said there). Resolution happens in the
 * constructor, or earlier, on the first hooked call from another library's constructor.
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

/* version 0: the default version. Otherwise that version, or the default one where the C library
 * has no such version (one that predates it, or another architecture's base version). */
static void *next(const char *name, const char *version)
{
    void *p = version ? dlvsym(RTLD_NEXT, name, version) : NULL;
    return p ? p : dlsym(RTLD_NEXT, name);
}

/* hooks.def's "how" of each entry. */
enum { PG_FIRST, PG_NEXT, PG_MAYBE };
#define RESOLVE_FIRST(name, version) must(next(name, version), name)
#define RESOLVE_NEXT(name, version) must(next(name, version), name)
/* Absent from older C libraries: the hook then reports ENOSYS like a missing symbol. */
#define RESOLVE_MAYBE(name, version) next(name, version)

void pg_real_resolve(void)
{
    static _Atomic int done;
    if (atomic_load_explicit(&done, memory_order_acquire))
        return;
    struct pg_real r;
    /* Locks first (FIRST in hooks.def), published at once: if dlsym itself reaches a hooked lock,
     * those are the ones it needs. */
#define PG_ADAPTER(lib, name)
#define PG_HOOK(field, ret, name, params, version, how)                                            \
    if (PG_##how == PG_FIRST)                                                                      \
        r.field = RESOLVE_##how(#name, version);
#include "hooks.def"
#undef PG_HOOK
#define PG_HOOK(field, ret, name, params, version, how)                                            \
    if (PG_##how == PG_FIRST && !pg_real.field)                                                    \
        pg_real.field = r.field;
#include "hooks.def"
#undef PG_HOOK
#define PG_HOOK(field, ret, name, params, version, how)                                            \
    if (PG_##how != PG_FIRST)                                                                      \
        r.field = RESOLVE_##how(#name, version);
#include "hooks.def"
#undef PG_HOOK
#undef PG_ADAPTER
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
