/*
 * Frees the model the parser builds (report_parse.c): findings, snapshots and processes, with
 * the threads, stacks, tasks and lock tables they own. A finding's process and the lock-name
 * pointers of its mentions are not owned: they point into the report's process list and the
 * finding's own lock table. The finding, snapshot and process free functions accept NULL.
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

static void task_ref_free(pg_task_ref *t)
{
    free(t->state);
    model_stack_free(&t->function.sym);
}

void model_stack_free(pg_stack *s)
{
    for (size_t i = 0; i < s->nframes; i++) {
        free(s->frames[i].function);
        free(s->frames[i].file);
    }
    free(s->frames);
    free(s->pcs);
    memset(s, 0, sizeof *s);
}

void model_thread_free(pg_mthread *t)
{
    free(t->name);
    free(t->role);
    free(t->blocked.kind);
    for (size_t i = 0; i < t->nholds; i++) {
        free(t->holds[i].kind);
        model_stack_free(&t->holds[i].where);
    }
    free(t->holds);
    model_stack_free(&t->stack);
    model_stack_free(&t->create_stack);
    model_stack_free(&t->start);
    model_stack_free(&t->python);
    json_decref(t->python_info);
    free(t->waits_for_task.state);
    model_stack_free(&t->waits_for_task.function.sym);
    model_stack_free(&t->task_function.sym);
    task_ref_free(&t->submitted_task);
}

static void py_func_free(pg_frame *f)
{
    free(f->function);
    free(f->file);
}

static void locknames_free(pg_locknames *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].symbol);
        free(t->v[i].member);
        free(t->v[i].decl_file);
        model_stack_free(&t->v[i].site);
    }
    free(t->v);
    memset(t, 0, sizeof *t);
}

void model_finding_free(pg_finding *f)
{
    if (!f)
        return;
    free(f->kind);
    free(f->severity);
    free(f->summary);
    for (size_t i = 0; i < f->ncycle; i++)
        free(f->cycle[i].kind);
    free(f->cycle);
    json_decref(f->pool);
    pg_pool *pl = &f->pool_info;
    free(pl->name);
    free(pl->idle_kind);
    free(pl->evidence);
    free(pl->library);
    for (size_t i = 0; i < pl->nqueued_tasks; i++)
        task_ref_free(&pl->queued_tasks[i]);
    free(pl->py_kind);
    free(pl->prefix);
    free(pl->global);
    free(pl->loop_thread);
    for (size_t i = 0; i < pl->npy_tasks; i++) {
        pg_py_task *t = &pl->py_tasks[i];
        free(t->thread);
        free(t->blocked);
        free(t->wait_kind);
        py_func_free(&t->task);
        py_func_free(&t->wait_fn);
        py_func_free(&t->coroutine);
    }
    free(pl->py_tasks);
    model_stack_free(&pl->start);
    model_stack_free(&pl->create_stack);
    for (size_t i = 0; i < f->norder; i++) {
        free(f->order[i].first_kind);
        free(f->order[i].then_kind);
        free(f->order[i].name);
        model_stack_free(&f->order[i].first_at);
        model_stack_free(&f->order[i].stack);
    }
    free(f->order);
    locknames_free(&f->locks);
    free(f->shim_summary);
    for (size_t i = 0; i < f->nthreads; i++)
        model_thread_free(&f->threads[i]);
    free(f->threads);
    free(f->signature);
    free(f->pids);
    free(f);
}

void model_snapshot_free(pg_snapshot *s)
{
    if (!s)
        return;
    free(s->reason);
    for (size_t i = 0; i < s->nthreads; i++)
        model_thread_free(&s->threads[i]);
    free(s->threads);
    locknames_free(&s->locks);
    free(s);
}

void model_process_free(pg_process *p)
{
    if (!p)
        return;
    free(p->source);
    free(p->exe);
    for (size_t i = 0; i < p->nargv; i++)
        free(p->argv[i]);
    free(p->argv);
    for (size_t i = 0; i < p->nmodules; i++) {
        free(p->modules[i].path);
        free(p->modules[i].build_id);
    }
    free(p->modules);
    free(p);
}
