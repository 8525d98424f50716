/*
 * The Python layer's link to the interpreter: finds libpython in the process, looks up every
 * CPython function and data symbol the layer uses (pg_py_api), and refuses versions it has not
 * been verified on. Nothing links against libpython: the shim must load into every process.
 *
 * The look-ups live here, not in real.c, because they are of another kind: optional, repeated
 * until an interpreter appears, and never on the hook path. This file calls no CPython function
 * but Py_GetVersion, and loads nothing (dlopen only with RTLD_NOLOAD).
 */
#include "python_int.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <string.h>

struct pg_py_api pg_py_api;

static int py_resolved; /* 1 resolved, -ENOTSUP refused; 0 not yet */
char pg_py_version[16];
unsigned pg_py_hexversion;

static void *lib_handle;

static int find_libpython(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    const char *n = info->dlpi_name;
    const char *slash = n ? strrchr(n, '/') : NULL;
    const char *base = slash ? slash + 1 : n;
    if (base && strncmp(base, "libpython3.", 11) == 0) {
        *(void **)data = dlopen(n, RTLD_LAZY | RTLD_NOLOAD);
        return *(void **)data != NULL;
    }
    return 0;
}

static void *sym(const char *name)
{
    void *p = dlsym(RTLD_DEFAULT, name);
    if (!p && lib_handle)
        p = dlsym(lib_handle, name);
    return p;
}

/* "3.11.7 (main, ...)" -> 0x030b07f0; pre-releases get their level (a=0xa, b=0xb, rc=0xc). */
static unsigned parse_version(const char *v, char *out, size_t cap)
{
    unsigned part[3] = { 0, 0, 0 };
    int k = 0;
    const char *p = v;
    for (; *p && k < 3; p++) {
        if (*p >= '0' && *p <= '9')
            part[k] = part[k] * 10 + (unsigned)(*p - '0');
        else if (*p == '.')
            k++;
        else
            break;
    }
    unsigned level = 0xf, serial = 0;
    if (*p == 'a' || *p == 'b' || (*p == 'r' && p[1] == 'c')) {
        level = *p == 'a' ? 0xa : *p == 'b' ? 0xb : 0xc;
        p += *p == 'r' ? 2 : 1;
        while (*p >= '0' && *p <= '9')
            serial = serial * 10 + (unsigned)(*p++ - '0');
    }
    size_t n = (size_t)(p - v);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, v, n);
    out[n] = 0;
    return part[0] << 24 | (part[1] & 0xff) << 16 | (part[2] & 0xff) << 8 | level << 4 |
           (serial & 0xf);
}

/* Versions whose concurrent.futures, threading and frame APIs this module was checked against. */
#define PY_MIN_VERSION 0x03080000u
#define PY_MAX_VERSION 0x030dfffful

int pg_py_resolve(void)
{
    if (py_resolved)
        return py_resolved < 0 ? py_resolved : 0;
    if (!dlsym(RTLD_DEFAULT, "Py_IsInitialized") && !lib_handle) {
        /* A libpython loaded with RTLD_LOCAL (a plugin embedding Python) is not in the global
         * scope; find it among the loaded objects without loading anything. */
        dl_iterate_phdr(find_libpython, &lib_handle);
        if (!lib_handle)
            return -ENOENT;
    }
#define NEED(field, name)                                                                          \
    do {                                                                                           \
        *(void **)&pg_py_api.field = sym(name);                                                    \
        if (!pg_py_api.field)                                                                      \
            return -ENOENT;                                                                        \
    } while (0)
#define MAYBE(field, name) (*(void **)&pg_py_api.field = sym(name))
    NEED(IsInitialized, "Py_IsInitialized");
    NEED(GetVersion, "Py_GetVersion");
    pg_py_hexversion = parse_version(pg_py_api.GetVersion(), pg_py_version, sizeof pg_py_version);
    if (pg_py_hexversion < PY_MIN_VERSION || pg_py_hexversion > PY_MAX_VERSION) {
        py_resolved = -ENOTSUP;
        return py_resolved;
    }
    if (!MAYBE(IsFinalizing, "Py_IsFinalizing"))
        NEED(IsFinalizing, "_Py_IsFinalizing");
    NEED(GILState_Ensure, "PyGILState_Ensure");
    NEED(GILState_Release, "PyGILState_Release");
    NEED(Import_GetModuleDict, "PyImport_GetModuleDict");
    NEED(Module_GetDict, "PyModule_GetDict");
    NEED(Dict_GetItemString, "PyDict_GetItemString");
    NEED(Dict_GetItem, "PyDict_GetItem");
    NEED(Dict_Next, "PyDict_Next");
    NEED(GetAttrString, "PyObject_GetAttrString");
    NEED(CallObject, "PyObject_CallObject");
    NEED(CallFunctionObjArgs, "PyObject_CallFunctionObjArgs");
    NEED(Object_Type, "PyObject_Type");
    NEED(Type_IsSubtype, "PyType_IsSubtype");
    NEED(IncRef, "Py_IncRef");
    NEED(DecRef, "Py_DecRef");
    NEED(Err_Clear, "PyErr_Clear");
    NEED(Unicode_AsUTF8AndSize, "PyUnicode_AsUTF8AndSize");
    NEED(Long_AsUnsignedLong, "PyLong_AsUnsignedLong");
    NEED(Long_AsLong, "PyLong_AsLong");
    NEED(Frame_GetLineNumber, "PyFrame_GetLineNumber");
    MAYBE(Frame_GetVarString, "PyFrame_GetVarString");
    NEED(GenericGetDict, "PyObject_GenericGetDict");
    NEED(Weakref_GetObject, "PyWeakref_GetObject");
    NEED(Object_GetIter, "PyObject_GetIter");
    NEED(Iter_Next, "PyIter_Next");
    NEED(List_Size, "PyList_Size");
    NEED(List_GetItem, "PyList_GetItem");
    NEED(Tuple_Size, "PyTuple_Size");
    NEED(Tuple_GetItem, "PyTuple_GetItem");
    NEED(Set_Size, "PySet_Size");
    MAYBE(GC_Disable, "PyGC_Disable");
    MAYBE(GC_Enable, "PyGC_Enable");
    NEED(Type_GetSlot, "PyType_GetSlot");
    NEED(Tuple_Pack, "PyTuple_Pack");
    NEED(Init_gc, "PyInit_gc");
    NEED(Cell_Get, "PyCell_Get");
    NEED(CFunction_GetFunction, "PyCFunction_GetFunction");
    NEED(CFunction_GetFlags, "PyCFunction_GetFlags");
    NEED(t_frame, "PyFrame_Type");
    NEED(t_code, "PyCode_Type");
    NEED(t_function, "PyFunction_Type");
    NEED(t_method, "PyMethod_Type");
    NEED(t_cfunction, "PyCFunction_Type");
    NEED(t_str, "PyUnicode_Type");
    NEED(t_int, "PyLong_Type");
    NEED(t_dict, "PyDict_Type");
    NEED(t_set, "PySet_Type");
    NEED(t_list, "PyList_Type");
    NEED(t_tuple, "PyTuple_Type");
    NEED(t_weakref, "_PyWeakref_RefType");
    NEED(t_type, "PyType_Type");
    NEED(t_module, "PyModule_Type");
    NEED(t_cell, "PyCell_Type");
    NEED(t_gen, "PyGen_Type");
    NEED(t_coro, "PyCoro_Type");
    NEED(none, "_Py_NoneStruct");
    NEED(py_true, "_Py_TrueStruct");
    NEED(py_false, "_Py_FalseStruct");
#undef NEED
#undef MAYBE
    if (!pg_py_api.GC_Enable)
        pg_py_api.GC_Disable = NULL;
    py_resolved = 1;
    return 0;
}
