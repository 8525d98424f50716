/*
 * `poolguard core [options] FILE [EXECUTABLE]`: the same proof as attach (attach.c), read from a
 * core dump instead of a live process: threads and their registers from the NT_PRSTATUS notes
 * (on x86_64 orig_rax and the argument registers name the blocking call), modules from the
 * NT_FILE note (libdw's core reporting), memory from the core's PT_LOAD segments, stacks unwound
 * by libdw. A core keeps no thread names and no signal dispositions, so threads are unnamed and
 * no whole-program hang is claimed (a signal handler might have woken it); cycles and abandoned
 * locks are proven as from a live process.
 */
#include "attach.h"
#include "pyremote.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <sys/reg.h>
#include <unistd.h>

static const char usage[] =
    "usage: poolguard core [options] FILE [EXECUTABLE]\n"
    "\n"
    "Reads a core dump (the kernel's, or gdb's gcore of a hung process) and proves deadlocks in\n"
    "it as `poolguard attach` does in a live process. EXECUTABLE is the program that dumped, if\n"
    "it cannot be found from the paths the core records. See docs/attach.md.\n"
    "\n"
    "Options:\n" CLI_COMMON_HELP
    "      --all-threads       also show every thread's stack (a snapshot)\n"
    "      --raw FILE          keep the raw report (docs/report-format.md) in FILE\n"
    "  -h, --help              show this help\n"
    "\n" CLI_EXIT_HELP;

typedef struct segment {
    uint64_t vaddr, filesz;
    off_t offset;
} segment;

typedef struct core_mem {
    int fd;
    segment *segs;
    size_t nsegs;
} core_mem;

static int read_core(void *ctx, uint64_t addr, void *buf, size_t len)
{
    core_mem *m = ctx;
    char *out = buf;
    while (len > 0) {
        const segment *s = NULL;
        for (size_t i = 0; i < m->nsegs && !s; i++)
            if (addr >= m->segs[i].vaddr && addr < m->segs[i].vaddr + m->segs[i].filesz)
                s = &m->segs[i];
        if (!s)
            return -EFAULT; /* not in the core (or a read-only file mapping left out) */
        uint64_t chunk = s->vaddr + s->filesz - addr;
        if (chunk > len)
            chunk = len;
        if (pread(m->fd, out, chunk, s->offset + (off_t)(addr - s->vaddr)) != (ssize_t)chunk)
            return -EIO;
        out += chunk, addr += chunk, len -= chunk;
    }
    return 0;
}

static int add_thread(ext_proc *p, size_t *cap, const struct elf_prstatus *st)
{
    if (p->nthreads == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        ext_thread *t = realloc(p->threads, ncap * sizeof *t);
        if (!t)
            return -ENOMEM;
        p->threads = t;
        *cap = ncap;
    }
    ext_thread *t = &p->threads[p->nthreads++];
    memset(t, 0, sizeof *t);
    t->tid = st->pr_pid;
#if defined(__x86_64__)
    t->have_regs = true;
    t->sysno = (long)st->pr_reg[ORIG_RAX];
    t->sysret = (long)st->pr_reg[RAX];
    uint64_t args[6] = { st->pr_reg[RDI], st->pr_reg[RSI], st->pr_reg[RDX],
                         st->pr_reg[R10], st->pr_reg[R8],  st->pr_reg[R9] };
    memcpy(t->args, args, sizeof args);
    t->fs_base = st->pr_reg[FS_BASE];
#endif
    return 0;
}

/* Threads and the process's identity from the notes, memory segments from PT_LOAD. */
static int read_notes(Elf *elf, ext_proc *p, core_mem *m, char *fname, size_t fcap)
{
    size_t phnum, tcap = 0, scap = 0;
    if (elf_getphdrnum(elf, &phnum) != 0)
        return -EINVAL;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph))
            continue;
        if (ph.p_type == PT_LOAD && ph.p_filesz > 0) {
            if (m->nsegs == scap) {
                scap = scap ? scap * 2 : 64;
                segment *s = realloc(m->segs, scap * sizeof *s);
                if (!s)
                    return -ENOMEM;
                m->segs = s;
            }
            m->segs[m->nsegs++] = (segment){ ph.p_vaddr, ph.p_filesz, (off_t)ph.p_offset };
            continue;
        }
        if (ph.p_type != PT_NOTE)
            continue;
        Elf_Data *data = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
        if (!data)
            continue;
        GElf_Nhdr nh;
        size_t off = 0, name_off, desc_off;
        while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
            const char *desc = (const char *)data->d_buf + desc_off;
            const char *name = (const char *)data->d_buf + name_off;
            if (nh.n_namesz != 5 || memcmp(name, "CORE", 4) != 0)
                continue;
            if (nh.n_type == NT_PRSTATUS && nh.n_descsz >= sizeof(struct elf_prstatus)) {
                struct elf_prstatus st;
                memcpy(&st, desc, sizeof st);
                if (add_thread(p, &tcap, &st) < 0)
                    return -ENOMEM;
            } else if (nh.n_type == NT_PRPSINFO && !p->argv &&
                       nh.n_descsz >= sizeof(struct elf_prpsinfo)) {
                struct elf_prpsinfo ps;
                memcpy(&ps, desc, sizeof ps);
                p->ppid = ps.pr_ppid;
                snprintf(fname, fcap, "%.*s", (int)sizeof ps.pr_fname, ps.pr_fname);
                char args[sizeof ps.pr_psargs + 1];
                snprintf(args, sizeof args, "%.*s", (int)sizeof ps.pr_psargs, ps.pr_psargs);
                size_t n = 0;
                p->argv = calloc(sizeof args / 2 + 2, sizeof *p->argv);
                for (char *save, *w = strtok_r(args, " ", &save); p->argv && w;
                     w = strtok_r(NULL, " ", &save))
                    p->argv[n++] = strdup(w);
            }
        }
    }
    return 0;
}

struct exe_search {
    const char *fname;
    char *found;
};

static int find_exe_cb(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
    (void)mod, (void)ud, (void)start;
    struct exe_search *s = arg;
    if (!name || name[0] != '/')
        return DWARF_CB_OK;
    const char *base = strrchr(name, '/') + 1;
    /* The kernel keeps the first 15 bytes of the executable's name. */
    if (s->fname[0] && strncmp(base, s->fname, 15) == 0) {
        s->found = strdup(name);
        return DWARF_CB_ABORT;
    }
    return DWARF_CB_OK;
}

static char *debuginfo_path;
static const Dwfl_Callbacks core_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

int cmd_core(int argc, char **argv)
{
    ext_cli c;
    int code;
    int first = ext_cli_parse(&c, "core", usage, argc, argv, &code);
    if (first < 0)
        return code;
    if (first >= argc || argc - first > 2) {
        cli_error("core: %s (usage: poolguard core [options] FILE [EXECUTABLE])",
                  first >= argc ? "no core file given" : "too many operands");
        return PG_EXIT_ERROR;
    }
    const char *file = argv[first], *exe = first + 1 < argc ? argv[first + 1] : NULL;
#if !defined(__x86_64__)
    cli_error("core: only x86_64 is supported");
    return PG_EXIT_ERROR;
#endif
    if (!getenv("POOLGUARD_DEBUGINFOD"))
        unsetenv("DEBUGINFOD_URLS");
    /* Absolute, because it becomes the module's path that symbolizing opens later. */
    char *exe_abs = exe ? realpath(exe, NULL) : NULL;
    if (exe && (!exe_abs || access(exe_abs, R_OK) != 0)) {
        cli_error("core: cannot read the executable '%s': %s", exe, strerror(errno));
        free(exe_abs);
        return PG_EXIT_ERROR;
    }
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("core: cannot read '%s': %s", file, strerror(errno));
        free(exe_abs);
        return PG_EXIT_ERROR;
    }
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    GElf_Ehdr eh;
    if (!elf || !gelf_getehdr(elf, &eh) || eh.e_type != ET_CORE) {
        cli_error("core: '%s' is not a core dump", file);
        if (elf)
            elf_end(elf);
        close(fd);
        free(exe_abs);
        return PG_EXIT_ERROR;
    }
    ext_proc p = { .source = "core", .read = read_core };
    core_mem mem = { .fd = fd };
    p.read_ctx = &mem;
    char fname[32] = "";
    int status = 0;
    if (read_notes(elf, &p, &mem, fname, sizeof fname) < 0 || p.nthreads == 0) {
        cli_error("core: '%s' holds no threads (a truncated core?)", file);
        status = PG_EXIT_ERROR;
    }
    if (!status) {
        p.dwfl = dwfl_begin(&core_callbacks);
        dwfl_report_begin(p.dwfl);
        int nmod = dwfl_core_file_report(p.dwfl, elf, exe_abs);
        dwfl_report_end(p.dwfl, NULL, NULL);
        if (nmod < 0) {
            cli_error("core: cannot read the modules of '%s': %s", file, dwfl_errmsg(-1));
            status = PG_EXIT_ERROR;
        } else {
            int pid = dwfl_core_file_attach(p.dwfl, elf);
            if (pid < 0) {
                cli_error("core: cannot read the threads of '%s': %s", file, dwfl_errmsg(-1));
                status = PG_EXIT_ERROR;
            }
            p.pid = pid;
        }
    }
    if (!status) {
        struct exe_search s = { .fname = fname };
        if (exe_abs)
            s.found = exe_abs, exe_abs = NULL;
        else
            dwfl_getmodules(p.dwfl, find_exe_cb, &s, 0);
        p.exe = s.found;
        /* A core says nothing of signal handlers: no whole-program hang is claimed. */
        p.can_prove_hang = false;
        if (ext_unwind(&p) < 0 || ext_analyze(&p) < 0) {
            cli_error("out of memory");
            status = PG_EXIT_ERROR;
        }
        if (!status)
            ext_python(&p);
    }
    if (!status)
        status = ext_cli_finish(&c, &p);
    ext_proc_release(&p);
    if (p.dwfl)
        dwfl_end(p.dwfl);
    elf_end(elf);
    close(fd);
    free(mem.segs);
    free(p.threads);
    free(p.exe);
    free(exe_abs);
    for (char **a = p.argv; a && *a; a++)
        free(*a);
    free(p.argv);
    return status;
}
