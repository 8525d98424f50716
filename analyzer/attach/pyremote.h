/*
 * A CPython interpreter read from outside (attach, core): the same facts the shim's Python layer
 * gathers from inside through the C API (shim/python/python.h), read here from raw memory with
 * the layouts of pyoffsets.h, so that the shim's own Python rules can judge them.
 */
#ifndef POOLGUARD_PYREMOTE_H
#define POOLGUARD_PYREMOTE_H

#include "attach.h"
#include "python.h"

/*
 * Reads the interpreter of p into *out (zeroed first). Returns 0 when a CPython interpreter was
 * read; -ENOENT when the process has none; -ENOTSUP for a version the table does not cover (its
 * version in out->version); another -errno when its memory cannot be read. Must run while p's
 * memory is readable (attach: before detaching). Only reads; every read is bounded.
 */
int ext_read_python(ext_proc *p, struct pg_py_state *out);

/* Reads the interpreter (if any) and keeps the result in p->py (NULL when there is none or it
 * cannot be read); p->py_status says why (ext_read_python's return). */
void ext_python(ext_proc *p);

#endif
