/*
 * Finding a CPython interpreter in a process read from outside (pyremote.h): _PyRuntime and the
 * interpreter's type objects among the exported symbols of the modules libdw knows
 * (libpython3.X.so, or the executable when it links libpython statically, as Debian's python3
 * does), the version from Py_Version (3.11+) or the module's file name, and on 3.13 a cross-check
 * of the table with the offsets the interpreter publishes. pyremote.c then reads it.
 */
#include "pyremote_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* --- finding the interpreter --- */

struct syms {
    uint64_t runtime, version, code, str, int_, tuple, dict, set, list, weakref, function, method,
        none, t, f;
    int minor_from_name;
};

static const struct {
    const char *name;
    size_t off;
} wanted[] = {
    { "_PyRuntime", offsetof(struct syms, runtime) },
    { "Py_Version", offsetof(struct syms, version) },
    { "PyCode_Type", offsetof(struct syms, code) },
    { "PyUnicode_Type", offsetof(struct syms, str) },
    { "PyLong_Type", offsetof(struct syms, int_) },
    { "PyTuple_Type", offsetof(struct syms, tuple) },
    { "PyDict_Type", offsetof(struct syms, dict) },
    { "PySet_Type", offsetof(struct syms, set) },
    { "PyList_Type", offsetof(struct syms, list) },
    { "_PyWeakref_RefType", offsetof(struct syms, weakref) },
    { "PyFunction_Type", offsetof(struct syms, function) },
    { "PyMethod_Type", offsetof(struct syms, method) },
    { "_Py_NoneStruct", offsetof(struct syms, none) },
    { "_Py_TrueStruct", offsetof(struct syms, t) },
    { "_Py_FalseStruct", offsetof(struct syms, f) },
};

static int minor_of_name(const char *path)
{
    const char *b = path ? strrchr(path, '/') : NULL;
    b = b ? b + 1 : path;
    int minor = 0;
    if (b && (sscanf(b, "libpython3.%d", &minor) == 1 || sscanf(b, "python3.%d", &minor) == 1))
        return minor;
    return 0;
}

static int sym_cb(Dwfl_Module *m, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
    (void)ud, (void)start;
    struct syms *s = arg;
    const char *file = NULL;
    dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, &file, NULL);
    int minor = minor_of_name(name);
    if (!minor)
        minor = minor_of_name(file);
    /* libpython, or an executable that may carry it: only those are searched. */
    const char *b = name ? strrchr(name, '/') : NULL;
    b = b ? b + 1 : name;
    if (!minor && !(b && strstr(b, "python")) && !(file && strstr(file, "python")))
        return DWARF_CB_OK;
    int n = dwfl_module_getsymtab(m);
    int found = 0;
    for (int i = 0; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        const char *sn = dwfl_module_getsym_info(m, i, &sym, &addr, NULL, NULL, NULL);
        if (!sn || sym.st_shndx == SHN_UNDEF || addr == 0 || (sn[0] != '_' && sn[0] != 'P'))
            continue;
        for (size_t k = 0; k < sizeof wanted / sizeof wanted[0]; k++)
            if (!strcmp(sn, wanted[k].name)) {
                uint64_t *slot = (uint64_t *)((char *)s + wanted[k].off);
                if (!*slot)
                    *slot = addr;
                found = 1;
            }
    }
    if (found && s->runtime && minor)
        s->minor_from_name = minor;
    return s->runtime ? DWARF_CB_ABORT : DWARF_CB_OK;
}

/* The start of 3.13's _Py_DebugOffsets, at the start of _PyRuntime (Include/internal/
 * pycore_runtime.h): offsets the interpreter publishes for outside readers. Every field is a
 * uint64_t, so the layout is the order. */
struct debug_offsets {
    char cookie[8]; /* "xdebugpy" */
    uint64_t version, free_threaded;
    uint64_t rt_size, rt_finalizing, rt_interpreters_head;
    uint64_t is_size, is_id, is_next, is_threads_head, is_rest[9];
    uint64_t ts_size, ts_prev, ts_next, ts_interp, ts_current_frame, ts_thread_id,
        ts_native_thread_id, ts_rest[2];
    uint64_t fr_size, fr_previous, fr_executable, fr_instr_ptr, fr_localsplus, fr_owner;
    uint64_t co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno;
};

/* 3.13+: the table's row agrees with what the interpreter publishes of itself, and the build
 * is not free-threaded (whose objects have another header). */
static int debug_offsets_agree(struct pyr *r, uint64_t runtime)
{
    struct debug_offsets d;
    const struct pyoffs *o = r->o;
    if (pyr_read(r, runtime, &d, sizeof d) < 0 || memcmp(d.cookie, "xdebugpy", 8) != 0)
        return 0;
    return !d.free_threaded && d.rt_interpreters_head == (uint64_t)o->runtime_interp_head &&
           d.is_next == (uint64_t)o->interp_next &&
           d.is_threads_head == (uint64_t)o->interp_threads_head &&
           d.ts_next == (uint64_t)o->ts_next && d.ts_current_frame == (uint64_t)o->ts_frame &&
           d.ts_thread_id == (uint64_t)o->ts_thread_id &&
           d.ts_native_thread_id == (uint64_t)o->ts_native_thread_id &&
           d.fr_previous == (uint64_t)o->fr_back && d.fr_executable == (uint64_t)o->fr_code &&
           d.fr_instr_ptr == (uint64_t)o->fr_lasti &&
           d.fr_localsplus == (uint64_t)o->fr_localsplus && d.fr_owner == (uint64_t)o->fr_owner &&
           d.co_filename == (uint64_t)o->co_filename && d.co_name == (uint64_t)o->co_name &&
           d.co_qualname == (uint64_t)o->co_qualname &&
           d.co_linetable == (uint64_t)o->co_linetable &&
           d.co_firstlineno == (uint64_t)o->co_firstlineno;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int ext_read_python(ext_proc *p, struct pg_py_state *out)
{
    memset(out, 0, sizeof *out);
    if (!p->dwfl || !p->read)
        return -ENOENT;
    uint64_t t0 = now_ns();
    struct syms s;
    memset(&s, 0, sizeof s);
    dwfl_getmodules(p->dwfl, sym_cb, &s, 0);
    if (!s.runtime)
        return -ENOENT;
    static struct pyr r;
    memset(&r, 0, sizeof r);
    r.p = p;
    r.budget = PYR_READ_BUDGET;
    r.st = out;
    int minor = s.minor_from_name, micro = -1;
    if (s.version) {
        uint64_t hex = 0;
        if (pyr_read(&r, s.version, &hex, 4) == 0 && (hex >> 24) == 3) {
            out->hexversion = (unsigned)hex;
            minor = (int)(hex >> 16 & 0xff);
            micro = (int)(hex >> 8 & 0xff);
        }
    }
    if (micro >= 0)
        snprintf(out->version, sizeof out->version, "3.%d.%d", minor, micro);
    else if (minor)
        snprintf(out->version, sizeof out->version, "3.%d", minor);
    if (!out->hexversion && minor)
        out->hexversion = 0x03000000u | (unsigned)minor << 16;
    r.o = pyoff_for_minor(minor);
    if (!r.o || !s.code || !s.str || !s.tuple || !s.dict)
        return -ENOTSUP;
    r.minor = minor;
    r.t_code = s.code, r.t_str = s.str, r.t_int = s.int_, r.t_tuple = s.tuple, r.t_dict = s.dict;
    r.t_set = s.set, r.t_list = s.list, r.t_weakref = s.weakref, r.t_function = s.function;
    r.t_method = s.method, r.none = s.none, r.py_true = s.t, r.py_false = s.f;
    if (minor >= 13 && !debug_offsets_agree(&r, s.runtime))
        return -ENOTSUP;
    int rc = pyr_read_runtime(&r, s.runtime);
    out->read_ns = now_ns() - t0;
    return rc == -E2BIG ? 0 : rc; /* out of budget: what was read stands */
}

/* A test aid: the whole reading as the shim's Python layer writes it (python_json.c), with the
 * reader's status, to the file $POOLGUARD_ATTACH_PYJSON names. */
static void dump_json(const char *path, int status, const struct pg_py_state *st)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    static char buf[1 << 16];
    struct pg_jw w;
    pg_jw_init(&w, fd, buf, sizeof buf);
    pg_jw_obj(&w);
    pg_jw_key(&w, "status"), pg_jw_int(&w, status);
    pg_jw_key(&w, "python");
    pg_py_write_json(&w, st);
    pg_jw_obj_end(&w);
    pg_jw_line(&w);
    close(fd);
}

void ext_python(ext_proc *p)
{
    free(p->py);
    p->py = calloc(1, sizeof *p->py);
    if (!p->py) {
        p->py_status = -ENOMEM;
        return;
    }
    p->py_status = ext_read_python(p, p->py);
    const char *dump = getenv("POOLGUARD_ATTACH_PYJSON");
    if (dump && dump[0])
        dump_json(dump, p->py_status, p->py);
    if (p->py_status == -ENOTSUP)
        fprintf(stderr,
                "poolguard: warning: %s: CPython %s is not read from outside (3.8 to 3.13 are): "
                "no Python threads in the report\n",
                p->source, p->py->version[0] ? p->py->version : "of an unknown version");
    else if (p->py_status < 0 && p->py_status != -ENOENT)
        fprintf(stderr, "poolguard: warning: %s: the CPython interpreter could not be read (%s)\n",
                p->source, strerror(-p->py_status));
    if (p->py_status < 0) {
        free(p->py);
        p->py = NULL;
    }
}
