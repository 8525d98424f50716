/*
 * The end of a wait bracket. PG_WAIT_BEGIN (pg.h) is a macro because the register context it saves
 * must describe the hook's own frame; the end needs no such care. Runs inside hooks: no allocation,
 * no locks, errno preserved.
 */
#include "pg.h"

#include <errno.h>
#include <time.h>

uint64_t pg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void pg_wait_end(struct pg_waitscope *ws)
{
    struct pg_thread *t = ws->t;
    if (!t)
        return;
    ws->t = NULL;
    uint64_t s = atomic_load_explicit(&t->wait_seq, memory_order_relaxed);
    if (s & 1)
        atomic_store_explicit(&t->wait_seq, s + 1, memory_order_release);
}
