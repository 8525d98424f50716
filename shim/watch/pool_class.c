/*
 * Which inferred pool a thread belongs to, for the pool analysis (pool.c): its class (a language
 * runtime's thread, a std::thread, a plain one), found with dladdr from its start routine and the
 * caller of pthread_create, and its group key. Runs in the watchdog thread only: no allocation
 * (pool.c maps the per-slot cache at start-up), the program's memory read with pg_peek.
 */
#include "pool_int.h"
#include "poolinfer.h"

#include <dlfcn.h>

/* Per slot (index into pg_table): the thread's class, with the module list's generation in the
 * bits above 8, and the slot's gen + 1 it was worked out for (pg_pool_thread_class). */
struct pg_pool_class *pg_pool_slot_class;

/* Language runtimes whose threads are never an inferred pool: the module exporting one of these
 * names is the runtime. Looked up again while not found, since a JVM is loaded late. */
static const char *const runtime_syms[] = {
    "PyThread_start_new_thread", /* CPython: its threads belong to the Python layer */
    "JNI_CreateJavaVM",          /* HotSpot */
    "coreclr_initialize",        /* .NET */
};
#define NRUNTIMES (sizeof runtime_syms / sizeof runtime_syms[0])
static void *runtime_base[NRUNTIMES];
static void *libstdcxx_base;
static int bases_tries;
static uint32_t bases_gen; /* bumped whenever a module above is found */

static void *module_of(uintptr_t pc)
{
    Dl_info info;
    if (!pc || !dladdr((void *)pc, &info))
        return NULL;
    return info.dli_fbase;
}

void pg_pool_find_bases(void)
{
    /* Every 50th scan at most: dlsym walks every loaded module. */
    if (bases_tries++ % 50 != 0)
        return;
    for (size_t k = 0; k < NRUNTIMES; k++)
        if (!runtime_base[k] &&
            (runtime_base[k] = module_of((uintptr_t)dlsym(RTLD_DEFAULT, runtime_syms[k]))))
            bases_gen++;
    if (!libstdcxx_base &&
        (libstdcxx_base = module_of((uintptr_t)dlsym(RTLD_DEFAULT, "_ZNSt6thread4joinEv"))))
        bases_gen++;
}

/* What kind of thread t is, worked out once per thread and again when a runtime's module turns up
 * (cached per slot: the generation of the slot and of the module list, and the class). */
uint32_t pg_pool_thread_class(struct pg_thread *t, uint32_t gen)
{
    uint32_t *cached = &pg_pool_slot_class[t - pg_table].cls,
             *cached_gen = &pg_pool_slot_class[t - pg_table].gen;
    if (*cached_gen == gen + 1 && *cached >> 8 == bases_gen)
        return *cached & 0xff;
    uint32_t c = PG_PI_CLASS_PLAIN;
    void *m = module_of(t->start_routine);
    void *caller = t->ncreate > 1 ? module_of(t->create_stack[1]) : NULL;
    for (size_t k = 0; k < NRUNTIMES; k++)
        if (runtime_base[k] && (m == runtime_base[k] || caller == runtime_base[k]))
            c = PG_PI_CLASS_RUNTIME;
    if (c == PG_PI_CLASS_PLAIN && m && m == libstdcxx_base)
        c = PG_PI_CLASS_STDTHREAD;
    *cached = c | bases_gen << 8;
    *cached_gen = gen + 1;
    return c;
}

/* Threads started by the same routine are one inferred pool. For std::thread the routine is the
 * C++ library's, and the callable's type (the vtable of the state it was handed) tells pools
 * apart. The creating call stack is left out on purpose: one pool's workers can be created from
 * different stacks (a vector that reallocates while they are created, a pool that grows on
 * demand), and splitting a pool invents an exhausted part of it, while merging two pools of one
 * kind can only hide a finding. 0 when nothing identifies the routine. */
uint64_t pg_pool_group_key(struct pg_thread *t, uint32_t cls)
{
    if (!t->start_routine || cls == PG_PI_CLASS_RUNTIME)
        return t->start_routine ? pg_pi_mix(0xcbf29ce484222325ull, t->start_routine) : 0;
    uint64_t h = pg_pi_mix(0xcbf29ce484222325ull, t->start_routine);
    if (cls == PG_PI_CLASS_STDTHREAD) {
        uintptr_t vt = 0;
        if (!t->arg || pg_peek(&vt, (uintptr_t)t->arg, sizeof vt) < 0)
            return 0;
        h = pg_pi_mix(h, vt);
    }
    return h ? h : 1;
}
