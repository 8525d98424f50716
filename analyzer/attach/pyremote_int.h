/*
 * The outside reader of CPython (pyremote*.c): its reading context and the object readers the
 * thread, frame and executor readers share. Every read goes through pyr_read, which counts it
 * against a budget: a garbage pointer costs one failed read, a garbage graph at most the budget.
 */
#ifndef POOLGUARD_PYREMOTE_INT_H
#define POOLGUARD_PYREMOTE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "pyoffsets.h"
#include "pyremote.h"

#define PYR_READ_BUDGET 500000 /* reads per reading of the interpreter (about 1 s at most) */
#define PYR_MAX_PENDING (PG_PY_MAX_THREADS * PG_PY_MAX_WAITS)
#define PYR_QUEUE_SCAN_MAX 100000 /* queue entries looked at per executor */
#define PYR_MAX_STR 4096          /* characters read of one str */

struct pyr {
    ext_proc *p;
    const struct pyoffs *o;
    int minor;
    long budget;
    /* Type objects and singletons, from libpython's exported symbols. */
    uint64_t t_code, t_str, t_int, t_tuple, t_dict, t_set, t_list, t_weakref, t_function, t_method,
        t_partial;
    uint64_t none, py_true, py_false;
    struct pg_py_state *st;
    uint64_t ex_queue[PG_PY_MAX_EXECUTORS]; /* each executor's work queue */
    int npend;
    struct pg_py_wait *pend[PYR_MAX_PENDING];
    uint64_t pend_fut[PYR_MAX_PENDING];
};

int pyr_read(struct pyr *r, uint64_t addr, void *buf, size_t len);
uint64_t pyr_ptr(struct pyr *r, uint64_t addr); /* 0 when unreadable */
int64_t pyr_i64(struct pyr *r, uint64_t addr, int64_t dflt);
uint64_t pyr_type(struct pyr *r, uint64_t obj);
int pyr_is(struct pyr *r, uint64_t obj, uint64_t type);
/* tp_name of a type (a heap type's is its bare name). */
int pyr_type_name(struct pyr *r, uint64_t type, char *out, size_t cap);
/* The type or one of its bases (tp_mro) is named name. */
int pyr_is_sub_named(struct pyr *r, uint64_t obj, const char *name);
/* A str as UTF-8; tail keeps the end of a long one ("..." first), as the shim does. */
int pyr_str(struct pyr *r, uint64_t obj, char *out, size_t cap, int tail);
int pyr_str_eq(struct pyr *r, uint64_t obj, const char *s);
long pyr_long(struct pyr *r, uint64_t obj, long dflt);
/* An instance attribute (from its instance dict or inline values), 0 when absent. */
uint64_t pyr_attr(struct pyr *r, uint64_t obj, const char *name);
uint64_t pyr_dict_get(struct pyr *r, uint64_t dict, const char *name);
long pyr_seq_len(struct pyr *r, uint64_t obj); /* tuple or list: ob_size */
uint64_t pyr_seq_item(struct pyr *r, uint64_t obj, long i);
long pyr_set_len(struct pyr *r, uint64_t set);
/* Calls fn for each entry of a set (at most max). */
void pyr_set_each(struct pyr *r, uint64_t set, long max, void (*fn)(struct pyr *, uint64_t, void *),
                  void *arg);
/* A code object's name (co_qualname from 3.11, else co_name), file and first line. */
void pyr_code_names(struct pyr *r, uint64_t code, struct pg_py_func *f);
/* What a callable is: functions, bound methods and partials followed to their function. */
int pyr_describe(struct pyr *r, uint64_t fn, struct pg_py_func *out, int depth);
/* The line of code executing at instruction offset addr (bytes from the code's start). */
int pyr_code_line(struct pyr *r, uint64_t code, long addr);

/* pyremote.c: reads every interpreter from _PyRuntime at runtime, r set up (types, offsets,
 * budget, st zeroed). 0, or -EAGAIN when there is no interpreter yet, -E2BIG out of budget. */
int pyr_read_runtime(struct pyr *r, uint64_t runtime);

/* pyremote_exec.c */
int pyr_executor_index(struct pyr *r, uint64_t ex, uint64_t queue);
void pyr_read_executor(struct pyr *r, int i);
int pyr_future_state(struct pyr *r, uint64_t fut);
void pyr_add_wait(struct pyr *r, struct pg_py_thread *th, uint64_t fut);
void pyr_scan_queues(struct pyr *r);
void pyr_link_running(struct pyr *r);

#endif
