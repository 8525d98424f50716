/*
 * Threads that exited holding locks. A thread that ends without releasing a lock leaves every
 * later taker waiting for ever (an "abandoned" deadlock); the report must say who that owner was,
 * but its slot in the thread table is free by then and may already belong to another thread. So
 * the exiting thread itself copies what the report needs (tid, name, start routine, the locks it
 * still holds and where it took each, where it was created) into a small ring, off every lock
 * path: only a thread that exits holding a lock writes here. The watchdog reads the ring; a record
 * is published by storing its tid last and is matched by tid and lock, so a record overwritten
 * meanwhile is simply not found.
 */
#include "exited.h"

#include <string.h>
#include <sys/prctl.h>

#define RING 64
#define HELD 8

struct exited {
    _Atomic pid_t tid;
    char name[16];
    uintptr_t start_routine;
    uint32_t nheld;
    struct pg_held held[HELD];
    uint32_t ncreate;
    uintptr_t create[PG_CREATE_DEPTH];
};

static struct exited ring[RING];
static _Atomic uint32_t next;

void pg_exited_note(struct pg_thread *t)
{
    uint32_t n = atomic_load_explicit(&t->nheld, memory_order_relaxed);
    pid_t tid = atomic_load_explicit(&t->tid, memory_order_relaxed);
    if (n == 0 || tid == 0)
        return;
    struct exited *e = &ring[atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) % RING];
    atomic_store_explicit(&e->tid, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    e->name[0] = 0;
    prctl(PR_GET_NAME, e->name, 0, 0, 0);
    e->name[15] = 0;
    e->start_routine = t->start_routine;
    e->nheld = n < HELD ? n : HELD;
    memcpy(e->held, t->held, e->nheld * sizeof e->held[0]);
    e->ncreate = t->ncreate < PG_CREATE_DEPTH ? t->ncreate : PG_CREATE_DEPTH;
    memcpy(e->create, t->create_stack, e->ncreate * sizeof e->create[0]);
    atomic_store_explicit(&e->tid, tid, memory_order_release);
}

void pg_exited_write_owner(struct pg_jw *w, pid_t tid, uintptr_t obj)
{
    for (uint32_t k = 0; k < RING; k++) {
        const struct exited *e = &ring[k];
        if (atomic_load_explicit(&e->tid, memory_order_acquire) != tid || tid == 0)
            continue;
        for (uint32_t i = 0; i < e->nheld; i++) {
            if (e->held[i].obj != obj)
                continue;
            pg_jw_key(w, "owner");
            pg_jw_obj(w);
            pg_jw_key(w, "tid"), pg_jw_int(w, tid);
            pg_jw_key(w, "name");
            if (e->name[0])
                pg_jw_str(w, e->name);
            else
                pg_jw_null(w);
            pg_jw_key(w, "exited"), pg_jw_bool(w, 1);
            if (e->start_routine)
                pg_jw_key(w, "start_routine"), pg_jw_hex(w, e->start_routine);
            /* Where it took the lock: the return address of its lock call (no stack is unwound
             * on a lock path), then where the thread was created. */
            pg_jw_key(w, "took_pc"), pg_jw_hex(w, e->held[i].pc);
            pg_jw_key(w, "stack");
            pg_jw_arr(w);
            pg_jw_hex(w, e->held[i].pc);
            pg_jw_arr_end(w);
            if (e->ncreate) {
                pg_jw_key(w, "create_stack");
                pg_jw_arr(w);
                for (uint32_t c = 0; c < e->ncreate; c++)
                    pg_jw_hex(w, e->create[c]);
                pg_jw_arr_end(w);
            }
            pg_jw_key(w, "holds");
            pg_jw_arr(w);
            for (uint32_t h = 0; h < e->nheld; h++) {
                pg_jw_obj(w);
                pg_jw_key(w, "address"), pg_jw_hex(w, e->held[h].obj);
                pg_jw_key(w, "pc"), pg_jw_hex(w, e->held[h].pc);
                pg_jw_obj_end(w);
            }
            pg_jw_arr_end(w);
            pg_jw_obj_end(w);
            return;
        }
    }
}
