/*
 * What the report says of one thread (pg_report_thread): its name, role, wait, the locks it holds,
 * the tasks of its pool, its Python stack and its native stacks; and the format's names of the
 * shim's wait and lock kinds. Runs in the watchdog thread only, between pg_report_begin and
 * pg_report_end: like report.c, it allocates nothing and writes no stdio stream.
 */
#include "lockorder.h"
#include "pg_format.h"
#include "report_file.h"

#include <stdio.h>

/* The shim's wait and lock kinds are the format's, value for value. */
_Static_assert((int)PG_W_NONE == PG_WAIT_NONE && (int)PG_W_MUTEX == PG_WAIT_MUTEX &&
                   (int)PG_W_RWLOCK_READ == PG_WAIT_RWLOCK_READ &&
                   (int)PG_W_RWLOCK_WRITE == PG_WAIT_RWLOCK_WRITE &&
                   (int)PG_W_JOIN == PG_WAIT_JOIN && (int)PG_W_COND == PG_WAIT_COND &&
                   (int)PG_W_SEM == PG_WAIT_SEM && (int)PG_W_FUTEX == PG_WAIT_FUTEX &&
                   (int)PG_W_BARRIER == PG_WAIT_BARRIER &&
                   (int)PG_W_COND_DESTROY == PG_WAIT_COND_DESTROY && (int)PG_W_ONCE == PG_WAIT_ONCE,
               "enum pg_wait_kind and the format's wait kinds differ");
_Static_assert((int)PG_H_MUTEX == PG_LOCK_MUTEX && (int)PG_H_RWLOCK_READ == PG_LOCK_RWLOCK_READ &&
                   (int)PG_H_RWLOCK_WRITE == PG_LOCK_RWLOCK_WRITE &&
                   (int)PG_H_SPIN == PG_LOCK_SPINLOCK,
               "enum pg_held_kind and the format's lock kinds differ");

const char *pg_wait_kind_name(uint32_t kind)
{
    return kind <= PG_W_ONCE ? pg_wait_name((int)kind) : pg_wait_name(PG_WAIT_NONE);
}

const char *pg_held_kind_name(uint32_t kind)
{
    const char *n = pg_lock_name((int)kind);
    return n ? n : pg_lock_name(PG_LOCK_MUTEX);
}

static void stack_array(struct pg_jw *w, const char *key, const uintptr_t *pcs, int n)
{
    pg_jw_key(w, key);
    pg_jw_arr(w);
    for (int i = 0; i < n; i++)
        pg_jw_hex(w, pcs[i]);
    pg_jw_arr_end(w);
}

void pg_report_thread(struct pg_jw *w, const struct pg_rthread *rt)
{
    pg_jw_obj(w);
    pg_jw_key(w, "tid"), pg_jw_int(w, rt->tid);
    char p[64], name[32];
    snprintf(p, sizeof p, "/proc/self/task/%d/comm", (int)rt->tid);
    ssize_t n = pg_report_read_file(p, name, sizeof name - 1);
    while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == 0))
        n--;
    pg_jw_key(w, "name");
    if (rt->name_override)
        pg_jw_str(w, rt->name_override);
    else if (n > 0)
        pg_jw_strn(w, name, (size_t)n);
    else
        pg_jw_null(w);
    pg_jw_key(w, PG_K_ROLE), pg_jw_str(w, rt->role);
    pg_jw_key(w, "main"), pg_jw_bool(w, rt->is_main);
    if (rt->start_routine)
        pg_jw_key(w, "start_routine"), pg_jw_hex(w, rt->start_routine);
    pg_jw_key(w, "blocked_on");
    if (rt->blocked) {
        pg_jw_obj(w);
        pg_jw_key(w, "kind"), pg_jw_str(w, pg_wait_kind_name(rt->wkind));
        pg_jw_key(w, "address"), pg_jw_hex(w, rt->wobj);
        pg_jw_key(w, "timed"), pg_jw_bool(w, rt->timed);
        pg_jw_key(w, "since_ms"), pg_jw_int(w, (long long)rt->since_ms);
        if (rt->owner)
            pg_jw_key(w, "owner"), pg_jw_int(w, rt->owner);
        if (rt->target)
            pg_jw_key(w, "target"), pg_jw_int(w, rt->target);
        pg_jw_obj_end(w);
    } else {
        pg_jw_null(w);
    }
    pg_jw_key(w, "holds");
    pg_jw_arr(w);
    for (uint32_t i = 0; i < rt->nheld; i++) {
        pg_jw_obj(w);
        pg_jw_key(w, "kind"), pg_jw_str(w, pg_held_kind_name(rt->held[i].kind));
        pg_jw_key(w, "address"), pg_jw_hex(w, rt->held[i].obj);
        pg_jw_key(w, "pc"), pg_jw_hex(w, rt->held[i].pc);
        pg_lo_write_sites(w, rt->held[i].obj);
        pg_jw_obj_end(w);
    }
    pg_jw_arr_end(w);
    if (rt->task)
        pg_jw_key(w, "task"), pg_jw_hex(w, rt->task);
    if (rt->task_fn)
        pg_jw_key(w, "task_function"), pg_jw_hex(w, rt->task_fn);
    if (rt->sub_task) {
        pg_jw_key(w, "submitted_task");
        pg_jw_obj(w);
        pg_jw_key(w, "address"), pg_jw_hex(w, rt->sub_task);
        if (rt->sub_fn)
            pg_jw_key(w, "function"), pg_jw_hex(w, rt->sub_fn);
        pg_jw_key(w, "state"), pg_jw_str(w, "queued");
        if (rt->sub_pos > 0)
            pg_jw_key(w, "position"), pg_jw_int(w, rt->sub_pos);
        pg_jw_obj_end(w);
    }
    if (rt->wait_task) {
        pg_jw_key(w, "waits_for_task");
        pg_jw_obj(w);
        pg_jw_key(w, "address"), pg_jw_hex(w, rt->wait_task);
        pg_jw_key(w, "state");
        pg_jw_str(w, rt->wait_task_queued_in ? "queued"
                     : rt->wait_task_runner  ? "running"
                                             : "unknown");
        if (rt->wait_task_queued_in)
            pg_jw_key(w, "pool"), pg_jw_hex(w, rt->wait_task_queued_in);
        if (rt->wait_task_runner)
            pg_jw_key(w, "runner"), pg_jw_int(w, rt->wait_task_runner);
        if (rt->wait_task_fn)
            pg_jw_key(w, "function"), pg_jw_hex(w, rt->wait_task_fn);
        pg_jw_obj_end(w);
    }
    if (rt->py) {
        const struct pg_py_thread *pt = rt->py;
        pg_jw_key(w, "python_stack");
        pg_jw_arr(w);
        for (int k = 0; k < pt->nframes; k++) {
            pg_jw_obj(w);
            pg_jw_key(w, "function"), pg_jw_str(w, pt->frames[k].name);
            pg_jw_key(w, "file"), pg_jw_str(w, pt->frames[k].file);
            pg_jw_key(w, "line"), pg_jw_int(w, pt->frames[k].line);
            pg_jw_obj_end(w);
        }
        pg_jw_arr_end(w);
        pg_jw_key(w, "python_blocked"), pg_jw_str(w, pg_py_blocked_name(pt->blocked));
    }
    stack_array(w, "stack", rt->stack, rt->nstack);
    if (rt->ncreate > 0)
        stack_array(w, "create_stack", rt->create, rt->ncreate);
    pg_jw_obj_end(w);
}
