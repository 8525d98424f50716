/*
 * Reading the program's objects without running any of its code: type checks, attribute reads
 * and conversions used by the rest of the reading (python_read.c, python_executor.c).
 *
 * Attributes are read with PyObject_GetAttrString only of objects whose exact type was checked
 * first (frames, code objects, functions, and the standard library's own classes); instances of
 * subclasses are read through their __dict__, and classes only when their metaclass is exactly
 * type, so no descriptor, __getattr__ or __repr__ of the program can run. Every function returns
 * with no Python exception pending. Runs in the inspector thread, with the GIL held.
 */
#include "python_int.h"

#include <string.h>

PyObject *pg_py_keep(struct pg_py_ctx *c, PyObject *o)
{
    if (!o)
        return NULL;
    if (c->nkept == PG_PY_MAX_KEPT) {
        pg_py_api.DecRef(o);
        return NULL;
    }
    c->kept[c->nkept++] = o;
    return o;
}

static PyObject *type_of(PyObject *o)
{
    PyObject *t = pg_py_api.Object_Type(o);
    pg_py_api.DecRef(t); /* the object holds its type alive */
    return t;
}

int pg_py_is(PyObject *o, PyObject *type)
{
    return o && type && type_of(o) == type;
}

int pg_py_is_sub(PyObject *o, PyObject *type)
{
    return o && type && pg_py_api.Type_IsSubtype(type_of(o), type);
}

/* A new reference or NULL, never a pending exception. Only for objects of checked exact type. */
PyObject *pg_py_attr(PyObject *o, const char *name)
{
    PyObject *r = pg_py_api.GetAttrString(o, name);
    if (!r)
        pg_py_api.Err_Clear();
    return r;
}

/* An instance attribute read from the object's __dict__, consulting no descriptor of its type. */
static PyObject *dict_attr(PyObject *o, const char *name)
{
    PyObject *d = pg_py_api.GenericGetDict(o, NULL);
    if (!d) {
        pg_py_api.Err_Clear();
        return NULL;
    }
    PyObject *r = pg_py_is(d, pg_py_api.t_dict) ? pg_py_api.Dict_GetItemString(d, name) : NULL;
    if (r)
        pg_py_api.IncRef(r);
    pg_py_api.DecRef(d);
    return r;
}

/* An instance attribute of an object whose exact type is `exact`, or of a subclass of it: a
 * subclass is the program's and may override anything, so it is read from the __dict__. */
PyObject *pg_py_iattr(PyObject *o, PyObject *exact, const char *name)
{
    if (pg_py_is(o, exact))
        return pg_py_attr(o, name);
    return pg_py_is_sub(o, exact) ? dict_attr(o, name) : NULL;
}

/* The same for threads: threading's own three classes, or the program's subclasses. */
PyObject *pg_py_tattr(struct pg_py_ctx *c, PyObject *t, const char *name)
{
    PyObject *tt = type_of(t);
    if (tt == c->thread_cls || (c->mainthread_cls && tt == c->mainthread_cls) ||
        (c->dummythread_cls && tt == c->dummythread_cls))
        return pg_py_attr(t, name);
    return pg_py_is_sub(t, c->thread_cls) ? dict_attr(t, name) : NULL;
}

/* An attribute of a class, when its metaclass is exactly type (no descriptor of the program's). */
PyObject *pg_py_cattr(PyObject *cls, const char *name)
{
    return pg_py_is(cls, pg_py_api.t_type) ? pg_py_attr(cls, name) : NULL;
}

PyObject *pg_py_module_dict(const char *name)
{
    PyObject *mods = pg_py_api.Import_GetModuleDict();
    PyObject *m =
        mods && pg_py_is(mods, pg_py_api.t_dict) ? pg_py_api.Dict_GetItemString(mods, name) : NULL;
    return m && pg_py_is(m, pg_py_api.t_module) ? pg_py_api.Module_GetDict(m) : NULL;
}

/* Borrowed; the module holds it. */
PyObject *pg_py_dget(PyObject *dict, const char *name)
{
    return dict ? pg_py_api.Dict_GetItemString(dict, name) : NULL;
}

/* Copies a str; a too long one keeps its end when tail is set (paths), its start otherwise. */
void pg_py_copy_str(char *dst, size_t cap, PyObject *s, int tail)
{
    dst[0] = 0;
    if (!pg_py_is(s, pg_py_api.t_str))
        return;
    Py_ssize_t n = 0;
    const char *u = pg_py_api.Unicode_AsUTF8AndSize(s, &n);
    if (!u) {
        pg_py_api.Err_Clear();
        return;
    }
    size_t len = (size_t)n;
    if (len < cap) {
        memcpy(dst, u, len + 1);
        return;
    }
    if (tail) {
        const char *from = u + len - (cap - 4);
        while ((*from & 0xc0) == 0x80)
            from++;
        memcpy(dst, "...", 3);
        memcpy(dst + 3, from, strlen(from) + 1);
    } else {
        size_t k = cap - 1;
        while (k > 0 && (u[k] & 0xc0) == 0x80)
            k--;
        memcpy(dst, u, k);
        dst[k] = 0;
    }
}

long pg_py_long_of(PyObject *o, long dflt)
{
    if (!pg_py_is(o, pg_py_api.t_int))
        return dflt;
    long v = pg_py_api.Long_AsLong(o);
    if (v == -1)
        pg_py_api.Err_Clear();
    return v;
}

void pg_py_code_names(PyObject *code, struct pg_py_func *f)
{
    PyObject *n = pg_py_attr(code, pg_py_hexversion >= 0x030b0000 ? "co_qualname" : "co_name");
    PyObject *file = pg_py_attr(code, "co_filename");
    pg_py_copy_str(f->name, sizeof f->name, n, 0);
    pg_py_copy_str(f->file, sizeof f->file, file, 1);
    if (n)
        pg_py_api.DecRef(n);
    if (file)
        pg_py_api.DecRef(file);
}

/* What a callable is, without calling anything of it: functions, bound methods and partials are
 * followed to their function; anything else is named by its type. */
int pg_py_describe(struct pg_py_ctx *c, PyObject *fn, struct pg_py_func *out, int depth)
{
    memset(out, 0, sizeof *out);
    if (!fn || depth > 4)
        return 0;
    PyObject *t = type_of(fn);
    if (t == pg_py_api.t_function) {
        PyObject *code = pg_py_attr(fn, "__code__");
        PyObject *qn = pg_py_attr(fn, "__qualname__");
        if (pg_py_is(code, pg_py_api.t_code)) {
            pg_py_code_names(code, out);
            PyObject *first = pg_py_attr(code, "co_firstlineno");
            out->line = (int)pg_py_long_of(first, 0);
            if (first)
                pg_py_api.DecRef(first);
        }
        if (qn)
            pg_py_copy_str(out->name, sizeof out->name, qn, 0), pg_py_api.DecRef(qn);
        if (code)
            pg_py_api.DecRef(code);
        return 1;
    }
    if (t == pg_py_api.t_method || (c->partial_cls && t == c->partial_cls)) {
        PyObject *inner = pg_py_attr(fn, t == pg_py_api.t_method ? "__func__" : "func");
        int r = pg_py_describe(c, inner, out, depth + 1);
        if (inner)
            pg_py_api.DecRef(inner);
        return r;
    }
    PyObject *n = NULL;
    if (t == pg_py_api.t_cfunction)
        n = pg_py_attr(fn, "__name__");
    else
        n = pg_py_cattr(t, "__qualname__");
    pg_py_copy_str(out->name, sizeof out->name, n, 0);
    if (n)
        pg_py_api.DecRef(n);
    if (t != pg_py_api.t_cfunction && out->name[0] && strlen(out->name) + 8 < sizeof out->name)
        strcat(out->name, " object");
    return out->name[0] != 0;
}
