/*
 * The cyclic garbage collector during a reading: switched off before the inspector reads and
 * restored before it releases the GIL (no program thread can see the difference), because an
 * allocation could otherwise start a collection, and a collection runs finalizers, which are
 * program code.
 *
 * On 3.8 and 3.9 the switch goes through the gc module's own C functions; gc.get_referents's is
 * found with them, for python_executor.c to list queue entries with. Inspector thread only, with
 * the GIL held.
 */
#include "python_int.h"

/* 3.8 and 3.9 have neither PyGC_Disable nor PyType_GetSlot for static types: the C functions of
 * the gc module are taken from a module object made once by PyInit_gc (never put in sys.modules)
 * and called directly; they are static functions of libpython, valid for the process's life. */
static pg_py_cfunc gc_isenabled_c, gc_disable_c, gc_enable_c;
pg_py_cfunc pg_py_gc_referents;

static pg_py_cfunc gc_func(PyObject *dict, const char *name, int flags)
{
    PyObject *f = pg_py_dget(dict, name);
    if (!pg_py_is(f, pg_py_api.t_cfunction) || pg_py_api.CFunction_GetFlags(f) != flags)
        return NULL;
    return pg_py_api.CFunction_GetFunction(f);
}

static int gc_funcs_3_8(void)
{
    if (gc_isenabled_c)
        return 0;
    PyObject *m = pg_py_api.Init_gc();
    if (!m || !pg_py_is(m, pg_py_api.t_module)) {
        pg_py_api.Err_Clear();
        if (m)
            pg_py_api.DecRef(m);
        return -1;
    }
    PyObject *d = pg_py_api.Module_GetDict(m);
    enum { METH_VARARGS = 1, METH_NOARGS = 4 };
    pg_py_cfunc dis = gc_func(d, "disable", METH_NOARGS), en = gc_func(d, "enable", METH_NOARGS);
    pg_py_cfunc refs = gc_func(d, "get_referents", METH_VARARGS);
    pg_py_cfunc isen = gc_func(d, "isenabled", METH_NOARGS);
    pg_py_api.DecRef(m);
    if (!dis || !en || !refs || !isen)
        return -1;
    gc_disable_c = dis, gc_enable_c = en, pg_py_gc_referents = refs;
    gc_isenabled_c = isen;
    return 0;
}

/* Switches the cyclic collector off for the inspection; returns whether
 * it was on, or -1 if it cannot be switched off. */
int pg_py_gc_off(void)
{
    if (pg_py_api.GC_Disable)
        return pg_py_api.GC_Disable();
    /* 3.8, 3.9. The first time, making the gc module allocates a few dozen objects while the
     * collector is still on: the one moment a collection (and finalizers) could run here. */
    if (gc_funcs_3_8() < 0)
        return -1;
    PyObject *r = gc_isenabled_c(NULL, NULL);
    int was = r == pg_py_api.py_true;
    if (r)
        pg_py_api.DecRef(r);
    if (was && (r = gc_disable_c(NULL, NULL)))
        pg_py_api.DecRef(r);
    pg_py_api.Err_Clear();
    return was;
}

void pg_py_gc_restore(int was)
{
    if (was <= 0)
        return;
    if (pg_py_api.GC_Enable) {
        pg_py_api.GC_Enable();
        return;
    }
    PyObject *r = gc_enable_c(NULL, NULL);
    if (r)
        pg_py_api.DecRef(r);
    pg_py_api.Err_Clear();
}
