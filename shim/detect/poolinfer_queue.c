/*
 * The pool rules (poolinfer_int.h says which file does what): an inferred pool's idle wait and
 * its queue. The idle wait is the object the workers wait on between tasks: learned from where
 * they waited before (the object most members waited on, most often), confirmed or replaced when
 * a worker queued work on an object nobody waited on and blocked right after ("submit, then
 * wait"). The queue is the signals and posts on that object that found no worker waiting since
 * one last waited there; for a semaphore, its count, but never more than those posts. Workers
 * that never went idle are fed through an object only outsiders signal (pg_pi_feed_of), for queue
 * growth only.
 *
 * Pure: no globals, no allocation, no system calls; a semaphore's value is read through the
 * caller's callback the first time it is needed and kept in the input.
 */
#include "poolinfer_int.h"

/* A semaphore's value, -1 if it cannot be read. */
static long sem_value(struct ctx *c, uintptr_t sem)
{
    struct pg_pi_in *in = c->in;
    for (int k = 0; k < in->nsems; k++)
        if (in->sems[k].obj == sem)
            return in->sems[k].value;
    long v = in->sem_value ? in->sem_value(in->ctx, sem) : -1;
    if (in->sem_value && in->nsems < PG_PI_MAX_SEMS) {
        in->sems[in->nsems].obj = sem;
        in->sems[in->nsems].value = v;
        in->nsems++;
    }
    return v;
}

/* Signals and posts that found no waiter on obj, by every thread. */
uint64_t pg_pi_lost_total(struct ctx *c, uintptr_t obj)
{
    uint64_t sum = 0;
    for (int i = 0; i < c->in->nthreads; i++) {
        const struct pg_pi_thread *t = &c->in->threads[i];
        for (int k = 0; k < PG_PI_LOST; k++)
            if (t->lost[k].obj == obj)
                sum += t->lost[k].count;
    }
    return sum;
}

static int in_hist(const struct pg_pi_thread *t, uintptr_t obj)
{
    for (int k = 0; k < PG_PI_HIST; k++)
        if (t->hist[k].obj == obj && t->hist[k].count > 0)
            return 1;
    return 0;
}

/* Has a thread outside the group waited on obj? Then obj is not this pool's queue. */
static int waited_by_others(struct ctx *c, int g, uintptr_t obj)
{
    for (int i = 0; i < c->in->nthreads; i++)
        if (c->in->threads[i].group != g && in_hist(&c->in->threads[i], obj))
            return 1;
    return 0;
}

/* Has a thread outside the group queued work on obj while nobody waited? */
int pg_pi_lost_by_others(struct ctx *c, int g, uintptr_t obj)
{
    for (int i = 0; i < c->in->nthreads; i++) {
        const struct pg_pi_thread *t = &c->in->threads[i];
        if (t->group == g)
            continue;
        for (int k = 0; k < PG_PI_LOST; k++)
            if (t->lost[k].obj == obj && t->lost[k].count)
                return 1;
    }
    return 0;
}

/* Member i's current wait began right after it queued work on an object nobody waited on: the
 * object, or 0. */
static uintptr_t submitted_then_waited(const struct pg_pi_thread *t, uint32_t *kind)
{
    if (!t->waiting)
        return 0;
    for (int k = 0; k < PG_PI_LOST; k++) {
        uintptr_t obj = t->lost[k].obj;
        if (obj && obj != t->wobj && t->lost[k].seq + 1 == t->seq && t->lost[k].count) {
            *kind = t->lost[k].kind;
            return obj;
        }
    }
    return 0;
}

/* The object work reaches a pool through when its workers never went idle: the object threads
 * outside the pool signalled or posted most often with nobody waiting, which no thread has ever
 * waited on. Used for queue growth only (a warning, and one that needs the process to grow):
 * nothing ties the object to this pool but that it is the only pool whose workers are all busy
 * (busy_group). */
uintptr_t pg_pi_feed_of(struct ctx *c, int g, uint32_t *kind)
{
    uintptr_t best = 0;
    uint64_t best_count = 0;
    for (int i = 0; i < c->in->nthreads; i++) {
        const struct pg_pi_thread *t = &c->in->threads[i];
        if (t->group == g)
            continue;
        for (int k = 0; k < PG_PI_LOST; k++) {
            uintptr_t obj = t->lost[k].obj;
            if (!obj || t->lost[k].count <= best_count)
                continue;
            int waited = 0;
            for (int j = 0; j < c->in->nthreads && !waited; j++)
                waited = in_hist(&c->in->threads[j], obj);
            if (!waited) {
                best = obj;
                best_count = t->lost[k].count;
                *kind = t->lost[k].kind;
            }
        }
    }
    return best;
}

static int in_members_hist(struct ctx *c, int g, uintptr_t obj)
{
    FOR_MEMBERS (c, g, i)
        if (in_hist(&c->in->threads[i], obj))
            return 1;
    return 0;
}

/* Has obj been waited on like a pool's idle wait: by two members, or twice? A task's wait for its
 * subtask is on a fresh object (a future, a latch); a worker back in its idle wait after signalling
 * a task's completion waits on the same object as always. */
static int idle_like(struct ctx *c, int g, uintptr_t obj)
{
    int members = 0;
    uint64_t count = 0;
    FOR_MEMBERS (c, g, i) {
        const struct pg_pi_thread *t = &c->in->threads[i];
        for (int k = 0; k < PG_PI_HIST; k++)
            if (t->hist[k].obj == obj && t->hist[k].count) {
                members++;
                count += t->hist[k].count;
            }
    }
    return members >= 2 || count >= 2;
}

/* The idle object: learned from the members' wait history (the object most members waited on,
 * most often), confirmed or replaced by "submit then wait" evidence. */
void pg_pi_learn_idle(struct ctx *c, int g, struct pg_pi_pstate *ps, int *submit_wait)
{
    *submit_wait = 0;
    FOR_MEMBERS (c, g, i) {
        uint32_t kind = 0;
        uintptr_t obj = submitted_then_waited(&c->in->threads[i], &kind);
        /* A pool's queue: its own workers wait on it, or (workers that never went idle) work
         * arrives on it from outside too. Threads that merely announce they are ready, on an
         * object nobody else waits for, are not submitting work. */
        if (obj && !waited_by_others(c, g, obj) && !idle_like(c, g, c->in->threads[i].wobj) &&
            (in_members_hist(c, g, obj) || pg_pi_lost_by_others(c, g, obj))) {
            if (ps->idle_obj != obj) {
                ps->idle_obj = obj;
                ps->idle_kind = kind;
                ps->lost_base = 0;
            }
            *submit_wait = 1;
            return;
        }
    }
    /* Count, for each object in the members' histories, how many members used it and how often. */
    enum { MAXOBJ = 64 };
    struct {
        uintptr_t obj;
        uint32_t kind;
        int members;
        uint64_t count;
    } objs[MAXOBJ];
    int nobjs = 0;
    FOR_MEMBERS (c, g, i) {
        const struct pg_pi_thread *t = &c->in->threads[i];
        for (int k = 0; k < PG_PI_HIST; k++) {
            uintptr_t obj = t->hist[k].obj;
            uint32_t n = t->hist[k].count;
            if (!obj || !n)
                continue;
            int j;
            for (j = 0; j < nobjs && objs[j].obj != obj; j++)
                ;
            if (j == nobjs) {
                if (nobjs == MAXOBJ)
                    continue;
                objs[nobjs].obj = obj;
                objs[nobjs].kind = t->hist[k].kind;
                objs[nobjs].members = 0;
                objs[nobjs].count = 0;
                nobjs++;
            }
            objs[j].members++;
            objs[j].count += n;
        }
    }
    uintptr_t best = 0;
    uint32_t best_kind = 0;
    int best_members = 0;
    uint64_t best_count = 0;
    for (int j = 0; j < nobjs; j++) {
        if (objs[j].members > best_members ||
            (objs[j].members == best_members && objs[j].count > best_count)) {
            best = objs[j].obj;
            best_kind = objs[j].kind;
            best_members = objs[j].members;
            best_count = objs[j].count;
        }
    }
    /* One waiter once proves nothing: it may be the task's own wait. Unless others have been
     * signalling that object while nobody waited on it: that is how work reaches a busy pool. */
    if (best && best_members < 2 && best_count < 2) {
        uintptr_t queue = 0;
        FOR_MEMBERS (c, g, i) {
            const struct pg_pi_thread *t = &c->in->threads[i];
            for (int k = 0; k < PG_PI_HIST && !queue; k++) {
                uintptr_t obj = t->hist[k].obj;
                if (obj && pg_pi_lost_by_others(c, g, obj) && !waited_by_others(c, g, obj)) {
                    queue = obj;
                    best_kind = t->hist[k].kind;
                }
            }
        }
        best = queue;
        best_count = 2;
    }
    if (best && (best_members >= 2 || best_count >= 2) && best != ps->idle_obj) {
        ps->idle_obj = best;
        ps->idle_kind = best_kind;
        ps->lost_base = 0;
    }
}

/* The queue of a semaphore-counted pool: the semaphore's value, but never more than the posts
 * that found no waiter (each queued task is one), so memory that is no longer the semaphore (it
 * was destroyed, its stack frame reused) cannot make up a queue. */
long pg_pi_sem_queue(struct ctx *c, uintptr_t sem, uint64_t lost_since_idle)
{
    long v = sem_value(c, sem);
    if (v < 0)
        return -1;
    return v < (long)lost_since_idle ? v : (long)lost_since_idle;
}
