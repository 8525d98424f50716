/*
 * Symbolizer (see symbolize.h). Each distinct module file gets its own offline Dwfl session with
 * the file placed at address 0, so a module's offset (pc - load bias) is the address looked up and
 * one cache entry serves every process that loaded the file, wherever it was mapped. Lock
 * addresses are looked up the same way among data: the ELF symbol tables' objects, and DWARF's
 * variables (read once per file into a table of address ranges) for the definition's file:line
 * and the member of a struct or element of an array the lock is.
 */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* From libstdc++ (linked for this one function): names in DWARF linkage attributes and in ELF
 * symbol tables are mangled for C++. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

enum { MAX_CACHED = 4096, MAX_INLINE_DEPTH = 32, MAX_TYPE_DEPTH = 8, MAX_VARS = 1 << 20 };

/* A variable with a fixed address, as DWARF defines it. */
typedef struct dvar {
    Dwarf_Addr addr;       /* in the session's addresses (offset + bias) */
    Dwarf_Word size;
    Dwarf_Off die;         /* its DIE in .debug_info */
} dvar;

typedef struct modfile {
    char *path;
    char *build_id;        /* as the process recorded it; NULL when it did not */
    Dwfl *dwfl;            /* NULL: the file cannot be used */
    Dwfl_Module *mod;
    Dwarf_Addr bias;
    bool vars_read;        /* vars holds every variable of the file's DWARF (maybe none) */
    dvar *vars;
    size_t nvars;
} modfile;

struct symbolizer {
    FILE *diag;
    unsigned warnings;
    modfile *files;
    size_t nfiles, cap;
};

static char *debuginfo_path;
static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

symbolizer *symbolizer_new(FILE *diag)
{
    symbolizer *s = calloc(1, sizeof *s);
    if (s)
        s->diag = diag;
    return s;
}

void symbolizer_free(symbolizer *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nfiles; i++) {
        free(s->files[i].path);
        free(s->files[i].build_id);
        if (s->files[i].dwfl)
            dwfl_end(s->files[i].dwfl);
        free(s->files[i].vars);
    }
    free(s->files);
    free(s);
}

unsigned symbolizer_warnings(const symbolizer *s)
{
    return s->warnings;
}

static void warn(symbolizer *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(symbolizer *s, const char *fmt, ...)
{
    s->warnings++;
    if (!s->diag)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("poolguard: warning: ", s->diag);
    vfprintf(s->diag, fmt, ap);
    fputc('\n', s->diag);
    va_end(ap);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void hex(const unsigned char *bits, int len, char *out)
{
    for (int i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", bits[i]);
    out[2 * len] = '\0';
}

static void open_modfile(symbolizer *s, modfile *mf)
{
    int fd = open(mf->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        warn(s, "cannot open '%s' (%s); its frames are shown as module+offset", mf->path,
             strerror(errno));
        return;
    }
    Dwfl *dwfl = dwfl_begin(&offline_callbacks);
    if (!dwfl) {
        close(fd);
        return;
    }
    /* On success the fd belongs to the session. */
    Dwfl_Module *mod = dwfl_report_elf(dwfl, mf->path, mf->path, fd, 0, false);
    if (!mod) {
        close(fd);
        dwfl_end(dwfl);
        warn(s, "'%s' is not a readable ELF file (%s); its frames are shown as module+offset",
             mf->path, dwfl_errmsg(-1));
        return;
    }
    dwfl_report_end(dwfl, NULL, NULL);
    if (mf->build_id) {
        const unsigned char *bits;
        GElf_Addr vaddr;
        int len = dwfl_module_build_id(mod, &bits, &vaddr);
        char file_id[2 * 256 + 1] = "";
        if (len > 0 && len <= 256)
            hex(bits, len, file_id);
        if (strcasecmp(file_id, mf->build_id) != 0) {
            warn(s, "'%s' has changed since the program ran (build-id %s, recorded %s); its "
                 "frames are shown as module+offset", mf->path, *file_id ? file_id : "none",
                 mf->build_id);
            dwfl_end(dwfl);
            return;
        }
    }
    Dwarf_Addr bias = 0;
    dwfl_module_getelf(mod, &bias);
    mf->dwfl = dwfl;
    mf->mod = mod;
    mf->bias = bias;
}

static modfile *get_modfile(symbolizer *s, const pg_module *m)
{
    for (size_t i = 0; i < s->nfiles; i++)
        if (strcmp(s->files[i].path, m->path) == 0 && same_str(s->files[i].build_id, m->build_id))
            return &s->files[i];
    if (s->nfiles >= MAX_CACHED)
        return NULL;
    if (s->nfiles == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        modfile *f = realloc(s->files, ncap * sizeof *f);
        if (!f)
            return NULL;
        s->files = f;
        s->cap = ncap;
    }
    modfile *mf = &s->files[s->nfiles];
    memset(mf, 0, sizeof *mf);
    mf->path = strdup(m->path);
    mf->build_id = m->build_id ? strdup(m->build_id) : NULL;
    if (!mf->path)
        return NULL;
    s->nfiles++;
    open_modfile(s, mf);
    return mf;
}

const pg_module *module_for_pc(const pg_process *p, uint64_t pc)
{
    if (!p)
        return NULL;
    /* Later module lines win: after dlclose/dlopen an address range can be reused. */
    for (size_t i = p->nmodules; i-- > 0;)
        if (pc >= p->modules[i].start && pc < p->modules[i].end)
            return &p->modules[i];
    return NULL;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

bool module_is_folded(const char *path)
{
    if (!path)
        return false;
    const char *b = base_name(path);
    static const char *const prefixes[] = {
        "libpoolguard", "libc.so", "libc-", "libpthread", "ld-linux", "ld64.so", "ld-musl",
        "libc.musl", "libunwind",
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (strncmp(b, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* System libraries are not "the program's own code"; the executable always is. */
static bool is_own(const pg_process *p, const char *path)
{
    if (!path || module_is_folded(path))
        return false;
    if (p && p->exe && strcmp(p->exe, path) == 0)
        return true;
    static const char *const system_dirs[] = { "/lib/", "/lib32/", "/lib64/", "/usr/lib/",
                                               "/usr/lib32/", "/usr/lib64/", "/usr/libexec/" };
    for (size_t i = 0; i < sizeof system_dirs / sizeof *system_dirs; i++)
        if (strncmp(path, system_dirs[i], strlen(system_dirs[i])) == 0)
            return false;
    return true;
}

static char *demangle(const char *name)
{
    if (!name)
        return NULL;
    if (name[0] == '_' && name[1] == 'Z') {
        int status = 0;
        char *d = __cxa_demangle(name, NULL, NULL, &status);
        if (d && status == 0)
            return d;
        free(d);
    }
    return strndup(name, PG_MAX_STRING);
}

static char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name = NULL;
    /* The linkage name carries C++ scopes and parameters; DW_AT_name alone does not. */
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
        name = dwarf_formstring(&attr);
    if (!name && dwarf_attr_integrate(die, DW_AT_name, &attr))
        name = dwarf_formstring(&attr);
    return demangle(name);
}

static pg_frame *push(pg_frame **frames, size_t *n)
{
    pg_frame *f = realloc(*frames, (*n + 1) * sizeof **frames);
    if (!f)
        return NULL;
    *frames = f;
    memset(&f[*n], 0, sizeof **frames);
    return &f[(*n)++];
}

/* Frames from DWARF: the innermost function (maybe inlined) at the line table's file:line, then
 * each enclosing function at the call site of the one inside it. Returns the number added. */
static int dwarf_frames(modfile *mf, Dwarf_Addr addr, const pg_frame *tmpl, pg_frame **frames,
                        size_t *n)
{
    Dwarf_Addr cubias;
    Dwarf_Die *cu = dwfl_module_addrdie(mf->mod, addr, &cubias);
    if (!cu)
        return 0;
    Dwarf_Die *found = NULL;
    int nfound = dwarf_getscopes(cu, addr - cubias, &found);
    int inner = -1;
    for (int i = 0; i < nfound && inner < 0; i++)
        if (dwarf_tag(&found[i]) == DW_TAG_inlined_subroutine || dwarf_tag(&found[i]) == DW_TAG_subprogram)
            inner = i;
    /* dwarf_getscopes continues past an inlined call into the inlined function's abstract
     * definition; the functions it was inlined into are its containers in the DIE tree. */
    Dwarf_Die *scopes = NULL;
    int nscopes = inner >= 0 ? dwarf_getscopes_die(&found[inner], &scopes) : 0;
    free(found);
    if (nscopes <= 0) {
        free(scopes);
        return 0;
    }
    const char *file = NULL;
    int line = 0;
    Dwfl_Line *ln = dwfl_module_getsrc(mf->mod, addr);
    if (ln)
        file = dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL);
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
        files = NULL;
    int added = 0;
    for (int i = 0; i < nscopes && added < MAX_INLINE_DEPTH; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
            continue;
        pg_frame *f = push(frames, n);
        if (!f)
            break;
        *f = *tmpl;
        f->function = die_name(&scopes[i]);
        f->file = file ? strndup(file, PG_MAX_STRING) : NULL;
        f->line = line > 0 ? (unsigned)line : 0;
        f->inlined = tag == DW_TAG_inlined_subroutine;
        added++;
        if (tag == DW_TAG_subprogram)
            break;
        /* The enclosing function is "at" the place this inlined call was written. */
        Dwarf_Attribute attr;
        Dwarf_Word w;
        file = NULL;
        line = 0;
        if (dwarf_attr(&scopes[i], DW_AT_call_file, &attr) && dwarf_formudata(&attr, &w) == 0 &&
            files && w < nfiles)
            file = dwarf_filesrc(files, w, NULL, NULL);
        if (dwarf_attr(&scopes[i], DW_AT_call_line, &attr) && dwarf_formudata(&attr, &w) == 0)
            line = (int)w;
    }
    free(scopes);
    return added;
}

/* Code inlined from system headers (the C++ standard library, mostly) is not the user's. */
static bool is_system_source(const char *file)
{
    static const char *const dirs[] = { "/usr/include/", "/usr/lib/gcc/", "/usr/local/include/" };
    for (size_t i = 0; file && i < sizeof dirs / sizeof *dirs; i++)
        if (strncmp(file, dirs[i], strlen(dirs[i])) == 0)
            return true;
    return false;
}

static int lookup(symbolizer *s, const pg_process *p, uint64_t pc, bool is_return,
                  pg_frame **frames, size_t *nframes);

int symbolizer_lookup(symbolizer *s, const pg_process *p, uint64_t pc, bool is_return,
                      pg_frame **frames, size_t *nframes)
{
    size_t first = *nframes;
    int r = lookup(s, p, pc, is_return, frames, nframes);
    for (size_t i = first; i < *nframes; i++)
        if ((*frames)[i].own && is_system_source((*frames)[i].file))
            (*frames)[i].own = false;
    return r;
}

static int lookup(symbolizer *s, const pg_process *p, uint64_t pc, bool is_return,
                  pg_frame **frames, size_t *nframes)
{
    pg_frame tmpl = { .pc = pc };
    const pg_module *m = module_for_pc(p, pc);
    modfile *mf = NULL;
    if (m) {
        tmpl.module = m->path;
        tmpl.offset = pc - m->base;
        tmpl.folded = module_is_folded(m->path);
        tmpl.own = is_own(p, m->path);
        mf = get_modfile(s, m);
    }
    if (mf && mf->dwfl && pc > 0) {
        Dwarf_Addr addr = tmpl.offset + mf->bias - (is_return ? 1 : 0);
        if (dwarf_frames(mf, addr, &tmpl, frames, nframes) > 0)
            return 0;
        /* No DWARF for this address: the ELF symbol tables still name the function. */
        GElf_Off off;
        GElf_Sym sym;
        const char *name = dwfl_module_addrinfo(mf->mod, addr, &off, &sym, NULL, NULL, NULL);
        pg_frame *f = push(frames, nframes);
        if (!f)
            return -ENOMEM;
        *f = tmpl;
        f->function = demangle(name);
        Dwfl_Line *ln = dwfl_module_getsrc(mf->mod, addr);
        int line = 0;
        const char *file = ln ? dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL) : NULL;
        if (file) {
            f->file = strndup(file, PG_MAX_STRING);
            f->line = line > 0 ? (unsigned)line : 0;
        }
        return 0;
    }
    pg_frame *f = push(frames, nframes);
    if (!f)
        return -ENOMEM;
    *f = tmpl;
    return 0;
}

static int symbolize_stack(symbolizer *s, const pg_process *p, pg_stack *st, bool is_return)
{
    if (st->frames)
        return 0;
    for (size_t i = 0; i < st->npcs; i++) {
        int r = symbolizer_lookup(s, p, st->pcs[i], is_return, &st->frames, &st->nframes);
        if (r < 0)
            return r;
    }
    return 0;
}

/* A task function is an exact function address, like a start routine: no -1. */
static int symbolize_fn(symbolizer *s, const pg_process *p, pg_fn *fn)
{
    if (!fn->present || fn->sym.frames)
        return 0;
    return symbolizer_lookup(s, p, fn->address, false, &fn->sym.frames, &fn->sym.nframes);
}

static int symbolize_threads(symbolizer *s, const pg_process *p, pg_mthread *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int r = symbolize_stack(s, p, &t[i].stack, true);
        if (!r)
            r = symbolize_fn(s, p, &t[i].task_function);
        if (!r)
            r = symbolize_fn(s, p, &t[i].waits_for_task.function);
        if (!r)
            r = symbolize_fn(s, p, &t[i].submitted_task.function);
        if (!r)
            r = symbolize_stack(s, p, &t[i].create_stack, true);
        if (!r && t[i].has_start && !t[i].start.frames)
            r = symbolizer_lookup(s, p, t[i].start_routine, false, &t[i].start.frames,
                                  &t[i].start.nframes);
        for (size_t h = 0; !r && h < t[i].nholds; h++)
            if (t[i].holds[h].has_pc && !t[i].holds[h].where.frames)
                r = symbolizer_lookup(s, p, t[i].holds[h].pc, true, &t[i].holds[h].where.frames,
                                      &t[i].holds[h].where.nframes);
        if (r)
            return r;
    }
    return 0;
}

int symbolizer_run(symbolizer *s, pg_report *r)
{
    size_t n;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++) {
        int e = symbolize_threads(s, f[i]->proc, f[i]->threads, f[i]->nthreads);
        pg_pool *pl = &f[i]->pool_info;
        if (!e)
            e = symbolize_stack(s, f[i]->proc, &pl->create_stack, true);
        if (!e && pl->has_start && !pl->start.frames)
            e = symbolizer_lookup(s, f[i]->proc, pl->start_routine, false, &pl->start.frames,
                                  &pl->start.nframes);
        for (size_t k = 0; !e && k < pl->nqueued_tasks; k++)
            e = symbolize_fn(s, f[i]->proc, &pl->queued_tasks[k].function);
        if (!e)
            e = symbolizer_name_locks(s, f[i]->proc, &f[i]->locks);
        for (size_t k = 0; !e && k < f[i]->norder; k++) {
            pg_order_edge *ed = &f[i]->order[k];
            e = symbolize_stack(s, f[i]->proc, &ed->stack, true);
            if (!e && ed->has_first_pc && !ed->first_at.frames)
                e = symbolizer_lookup(s, f[i]->proc, ed->first_pc, true, &ed->first_at.frames,
                                      &ed->first_at.nframes);
        }
        if (e)
            return e;
    }
    pg_snapshot **sn = report_snapshots(r, &n);
    for (size_t i = 0; i < n; i++) {
        int e = symbolize_threads(s, sn[i]->proc, sn[i]->threads, sn[i]->nthreads);
        if (!e)
            e = symbolizer_name_locks(s, sn[i]->proc, &sn[i]->locks);
        if (e)
            return e;
    }
    return 0;
}

/* ----- Data: the variables locks live in ----- */

/* The smallest object of the ELF symbol tables (.symtab, else .dynsym) whose [value, value+size)
 * holds addr; its name demangled, or NULL. */
static char *symtab_object(modfile *mf, Dwarf_Addr addr, Dwarf_Addr *start)
{
    int n = dwfl_module_getsymtab(mf->mod);
    const char *best = NULL;
    GElf_Xword best_size = 0;
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr value;
        const char *name = dwfl_module_getsym_info(mf->mod, i, &sym, &value, NULL, NULL, NULL);
        if (!name || !*name || GELF_ST_TYPE(sym.st_info) != STT_OBJECT || sym.st_shndx == SHN_UNDEF ||
            sym.st_size == 0 || addr < value || addr - value >= sym.st_size)
            continue;
        if (!best || sym.st_size < best_size) {
            best = name;
            best_size = sym.st_size;
            *start = value;
        }
    }
    return best ? demangle(best) : NULL;
}

static bool die_type(Dwarf_Die *die, Dwarf_Die *type)
{
    Dwarf_Attribute attr;
    return dwarf_attr_integrate(die, DW_AT_type, &attr) && dwarf_formref_die(&attr, type);
}

static void collect_vars(modfile *mf, Dwarf_Die *parent, Dwarf_Addr cubias, size_t *cap, int depth)
{
    Dwarf_Die die;
    if (depth > MAX_TYPE_DEPTH || dwarf_child(parent, &die) != 0)
        return;
    do {
        int tag = dwarf_tag(&die);
        if (tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block || tag == DW_TAG_namespace) {
            collect_vars(mf, &die, cubias, cap, depth + 1);
            continue;
        }
        Dwarf_Attribute attr;
        Dwarf_Op *ops;
        size_t nops;
        Dwarf_Die type;
        if (tag != DW_TAG_variable || !dwarf_attr(&die, DW_AT_location, &attr) ||
            dwarf_getlocation(&attr, &ops, &nops) != 0 || nops != 1 || ops[0].atom != DW_OP_addr ||
            !die_type(&die, &type))
            continue;
        Dwarf_Word size;
        if (dwarf_aggregate_size(&type, &size) != 0 || size == 0 || mf->nvars >= MAX_VARS)
            continue;
        if (mf->nvars == *cap) {
            size_t ncap = *cap ? *cap * 2 : 64;
            dvar *v = realloc(mf->vars, ncap * sizeof *v);
            if (!v)
                return;
            mf->vars = v;
            *cap = ncap;
        }
        mf->vars[mf->nvars++] = (dvar){ .addr = ops[0].number + cubias, .size = size,
                                        .die = dwarf_dieoffset(&die) };
    } while (dwarf_siblingof(&die, &die) == 0);
}

/* The variable whose storage holds addr, from DWARF; false when there is none (or no DWARF). */
static bool dwarf_variable(modfile *mf, Dwarf_Addr addr, Dwarf_Die *var, Dwarf_Addr *start)
{
    if (!mf->vars_read) {
        mf->vars_read = true;
        size_t cap = 0;
        Dwarf_Die *cu = NULL;
        Dwarf_Addr cubias;
        while ((cu = dwfl_module_nextcu(mf->mod, cu, &cubias)))
            collect_vars(mf, cu, cubias, &cap, 0);
    }
    Dwarf_Addr bias;
    Dwarf *dw = mf->nvars ? dwfl_module_getdwarf(mf->mod, &bias) : NULL;
    const dvar *best = NULL;
    for (size_t i = 0; dw && i < mf->nvars; i++)
        if (addr >= mf->vars[i].addr && addr - mf->vars[i].addr < mf->vars[i].size &&
            (!best || mf->vars[i].size < best->size))
            best = &mf->vars[i];
    if (!best || !dwarf_offdie(dw, best->die, var))
        return false;
    *start = best->addr;
    return true;
}

/* Names the implementation reserves (__data, _M_mutex): the inside of a library's lock type,
 * not the program's member. */
static bool reserved_name(const char *name)
{
    return name[0] == '_' && (name[1] == '_' || (name[1] >= 'A' && name[1] <= 'Z'));
}

static void append_path(char *buf, size_t len, const char *fmt, const char *name, Dwarf_Word idx)
{
    size_t used = strlen(buf);
    if (used < len)
        snprintf(buf + used, len - used, fmt, name ? name : "", (unsigned long long)idx);
}

/* The path to offset off inside an object of type type: ".lock", "[2].mu", "" at a lock type's
 * own members or an offset nothing more precise holds. */
static void member_path(Dwarf_Die *type, Dwarf_Word off, char *buf, size_t len, int depth)
{
    Dwarf_Die t;
    if (depth > MAX_TYPE_DEPTH || dwarf_peel_type(type, &t) != 0)
        return;
    int tag = dwarf_tag(&t);
    if (tag == DW_TAG_array_type) {
        Dwarf_Die elem;
        Dwarf_Word esize;
        if (!die_type(&t, &elem) || dwarf_aggregate_size(&elem, &esize) != 0 || esize == 0)
            return;
        append_path(buf, len, "%s[%llu]", NULL, off / esize);
        member_path(&elem, off % esize, buf, len, depth + 1);
        return;
    }
    if (tag != DW_TAG_structure_type && tag != DW_TAG_class_type && tag != DW_TAG_union_type)
        return;
    Dwarf_Die m;
    if (dwarf_child(&t, &m) != 0)
        return;
    do {
        int mtag = dwarf_tag(&m);
        if (mtag != DW_TAG_member && mtag != DW_TAG_inheritance)
            continue;
        Dwarf_Attribute attr;
        Dwarf_Word loc = 0, size;
        Dwarf_Die mtype;
        if (dwarf_attr(&m, DW_AT_data_member_location, &attr) && dwarf_formudata(&attr, &loc) != 0)
            continue;
        if (!die_type(&m, &mtype) || dwarf_aggregate_size(&mtype, &size) != 0 || off < loc ||
            off - loc >= size)
            continue;
        const char *name = mtag == DW_TAG_member ? dwarf_diename(&m) : NULL;
        if (name && reserved_name(name))
            return;
        if (name)
            append_path(buf, len, ".%s", name, 0);
        member_path(&mtype, off - loc, buf, len, depth + 1);
        return;
    } while (dwarf_siblingof(&m, &m) == 0);
}

/* Names one lock: the variable holding it, else its site. */
static int name_lock(symbolizer *s, const pg_process *p, pg_lockname *ln)
{
    if (ln->looked_up)
        return 0;
    ln->looked_up = true;
    const pg_module *m = module_for_pc(p, ln->address);
    modfile *mf = m ? get_modfile(s, m) : NULL;
    if (m)
        ln->module = m->path;
    if (mf && mf->dwfl) {
        Dwarf_Addr addr = ln->address - m->base + mf->bias, start = 0;
        Dwarf_Die var;
        if (dwarf_variable(mf, addr, &var, &start)) {
            ln->symbol = die_name(&var);
            ln->sym_offset = addr - start;
            const char *file = dwarf_decl_file(&var);
            int line = 0;
            if (file && dwarf_decl_line(&var, &line) == 0 && line > 0) {
                ln->decl_file = strndup(file, PG_MAX_STRING);
                ln->decl_line = (unsigned)line;
            }
            char path[512] = "";
            Dwarf_Die type;
            if (ln->sym_offset && die_type(&var, &type))
                member_path(&type, ln->sym_offset, path, sizeof path, 0);
            if (*path)
                ln->member = strdup(path);
        }
        if (!ln->symbol && (ln->symbol = symtab_object(mf, addr, &start)))
            ln->sym_offset = addr - start;
        if (ln->symbol)
            return 0;
    }
    uint64_t pc = ln->init_pc ? ln->init_pc : ln->first_taken_pc;
    if (!pc)
        return 0;
    ln->site_kind = ln->init_pc ? PG_SITE_INIT : PG_SITE_FIRST_TAKEN;
    return symbolizer_lookup(s, p, pc, true, &ln->site.frames, &ln->site.nframes);
}

int symbolizer_name_locks(symbolizer *s, const pg_process *p, pg_locknames *t)
{
    for (size_t i = 0; i < t->n; i++) {
        int r = name_lock(s, p, &t->v[i]);
        if (r)
            return r;
    }
    return 0;
}
