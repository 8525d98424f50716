/*
 * Symbolizer (see symbolize.h): the cache of module files and the frames of one code address.
 * Each distinct module file gets its own offline Dwfl session with the file placed at address 0,
 * so a module's offset (pc - load bias) is the address looked up and one cache entry serves every
 * process that loaded the file, wherever it was mapped. Lock addresses are named in
 * symbolize_locks.c, and a whole report is walked in symbolize_report.c.
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

#include "symbolize_int.h"

/* From libstdc++ (linked for this one function): names in DWARF linkage attributes and in ELF
 * symbol tables are mangled for C++. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

enum { MAX_CACHED = 4096, MAX_INLINE_DEPTH = 32 };

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
            warn(s,
                 "'%s' has changed since the program ran (build-id %s, recorded %s); its "
                 "frames are shown as module+offset",
                 mf->path, *file_id ? file_id : "none", mf->build_id);
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

modfile *sym_get_modfile(symbolizer *s, const pg_module *m)
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
        "libpoolguard", "libc.so", "libc-",     "libpthread", "ld-linux",
        "ld64.so",      "ld-musl", "libc.musl", "libunwind",
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
    static const char *const system_dirs[] = { "/lib/",        "/lib32/",     "/lib64/",
                                               "/usr/lib/",    "/usr/lib32/", "/usr/lib64/",
                                               "/usr/libexec/" };
    for (size_t i = 0; i < sizeof system_dirs / sizeof *system_dirs; i++)
        if (strncmp(path, system_dirs[i], strlen(system_dirs[i])) == 0)
            return false;
    return true;
}

char *sym_demangle(const char *name)
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

char *sym_die_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name = NULL;
    /* The linkage name carries C++ scopes and parameters; DW_AT_name alone does not. */
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
        name = dwarf_formstring(&attr);
    if (!name && dwarf_attr_integrate(die, DW_AT_name, &attr))
        name = dwarf_formstring(&attr);
    return sym_demangle(name);
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
        if (dwarf_tag(&found[i]) == DW_TAG_inlined_subroutine ||
            dwarf_tag(&found[i]) == DW_TAG_subprogram)
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
        f->function = sym_die_name(&scopes[i]);
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
        mf = sym_get_modfile(s, m);
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
        f->function = sym_demangle(name);
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
