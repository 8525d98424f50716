/*
 * Python pool findings of a process read from outside (attach, core): the interpreter's reading
 * (pyremote.h, struct pg_py_state) is judged by the shim's own Python rules (shim/detect/pyrules.c)
 * and written with the shim's own words and members (shim/detect/pyfind.c), so `poolguard attach`
 * on a stuck ThreadPoolExecutor reports what the shim would have.
 *
 * One reading, no history: only what one reading proves is reported. Every worker of an executor
 * blocked without a time limit, in Python and natively, each waiting on a future whose work is
 * still queued on that executor: pool_exhaustion, error, exact. The rules' other verdicts need
 * time (a state that must last, a wait that must be old, a queue that must keep growing), which
 * one reading does not have: the threads are given as blocked "just now", so the rules ask for a
 * later reading instead, and attach reports nothing of them (docs/attach.md).
 */
#include "attach_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "pg_format.h"
#include "pyfind.h"
#include "pyrules.h"

enum { QUEUE_LIMIT = 10000, STALL_MS = 10000 };

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The index in p->threads of the native thread behind a Python thread, or -1. */
int ext_native_of(const ext_proc *p, const struct pg_py_thread *pt)
{
    for (size_t i = 0; i < p->nthreads; i++) {
        if (pt->ident && p->threads[i].fs_base == pt->ident)
            return (int)i;
        if (pt->native_id && p->threads[i].tid == (pid_t)pt->native_id)
            return (int)i;
    }
    return -1;
}

/* What the native reading says of each pool worker's thread, for the rules: blocked in a wait
 * without a time limit, "just now" (one reading knows no durations), never held stuck by the
 * graph (a Python lock is a semaphore: anyone may release it). */
static void gather_native(const ext_proc *p, uint64_t now, struct pg_pr_native *nat)
{
    const struct pg_py_state *st = p->py;
    memset(nat, 0, sizeof *nat * PG_PY_MAX_THREADS);
    for (int k = 0; k < st->nthreads; k++) {
        const struct pg_py_thread *pt = &st->threads[k];
        int i = pt->executor >= 0 ? ext_native_of(p, pt) : -1;
        if (i < 0)
            continue;
        const ext_thread *t = &p->threads[i];
        nat[k].found = 1;
        nat[k].blocked = t->have_regs && t->wait.kind && !t->wait.timed;
        nat[k].tid = t->tid;
        nat[k].seq = (uint64_t)k + 1;
        nat[k].since_ns = now;
        nat[k].blocked_ns = 0;
    }
}

/* The finding's "pool" and "python" members, written by the shim's own writer into a buffer and
 * added to o. */
static int add_pool_members(json_t *o, const struct pg_py_state *st, int ei, int proof)
{
    size_t cap = 1u << 20;
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    struct pg_jw w;
    pg_jw_init(&w, -1, buf, cap);
    pg_jw_obj(&w);
    pg_pf_write_pool(&w, st, ei, proof, 0);
    pg_jw_obj_end(&w);
    int r = -EOVERFLOW;
    if (!w.err) {
        json_error_t err;
        json_t *members = json_loadb(buf, w.len, 0, &err);
        if (members) {
            json_object_update(o, members);
            json_decref(members);
            r = 0;
        }
    }
    free(buf);
    return r;
}

int ext_write_python_findings(ext_proc *p, int fd, int seq)
{
    if (!p->py)
        return 0;
    const struct pg_py_state *st = p->py;
    uint64_t now = mono_ns();
    struct pg_pr_native nat[PG_PY_MAX_THREADS];
    gather_native(p, now, nat);
    /* One reading: the rules' memory starts empty and is dropped after. */
    struct pg_pr_memory mem;
    struct pg_pr_out out;
    memset(&mem, 0, sizeof mem);
    int written = 0, r = 0;
    struct pg_pr_in in = {
        .py = st, .native = nat, .now = now, .queue_limit = QUEUE_LIMIT, .stall_ms = STALL_MS
    };
    pg_pr_judge(&in, &mem, &out);
    for (int k = 0; k < out.n && r >= 0; k++) {
        const struct pg_pr_verdict *v = &out.v[k];
        /* Only what one reading proves: the rules give time-bound verdicts a later reading. */
        if (v->kind != PG_PR_EXHAUSTION || v->severity != PG_PR_ERROR)
            continue;
        char summary[1024];
        pg_pf_summary(st, v, summary, sizeof summary);
        json_t *o = json_object();
        json_object_set_new(o, PG_K_TYPE, json_string(pg_record_name(PG_REC_FINDING)));
        json_object_set_new(o, PG_K_SEQ, json_integer(seq + written + 1));
        json_object_set_new(o, PG_K_KIND, json_string(pg_pr_kind_name(v->kind)));
        json_object_set_new(o, PG_K_SEVERITY, json_string(pg_pr_severity_name(v->severity)));
        json_object_set_new(o, PG_K_TIME_UNIX_MS, json_integer((json_int_t)ext_unix_ms()));
        json_object_set_new(o, PG_K_SUMMARY, json_string(summary));
        if ((r = add_pool_members(o, st, v->executor, pg_pr_proof_format(v->proof))) < 0) {
            json_decref(o);
            break;
        }
        int idx[PG_PY_MAX_THREADS], role[PG_PY_MAX_THREADS];
        int m = pg_pf_finding_threads(st, v->executor, idx, role);
        json_t *threads = json_array();
        for (int j = 0; j < m; j++) {
            int i = ext_native_of(p, &st->threads[idx[j]]);
            if (i >= 0)
                json_array_append_new(threads,
                                      ext_thread_json(p, i, pg_role_name((pg_role)role[j])));
        }
        json_object_set_new(o, PG_K_THREADS, threads);
        r = ext_put_line(fd, o);
        written++;
    }
    return r < 0 ? r : written;
}
