/*
 * Writes the raw report (docs/report-format.md). Runs in the watchdog thread only, so it may take
 * its time, but it allocates nothing and uses no stdio: a finding must reach the disk even when the
 * program's heap or stdio locks are the thing that is stuck. Each line goes out with write(2) as
 * soon as it is complete.
 *
 * The file is created with O_EXCL | O_NOFOLLOW and mode 0600, so a planted file or symlink is never
 * followed or overwritten; it is reopened for every finding (and checked to be the same inode), so a
 * program that closes all descriptors or dup2()s over ours loses nothing and corrupts nothing. The
 * default directory, ${TMPDIR:-/tmp}/poolguard-<uid>, must be ours and closed to others.
 *
 * A finding is never lost silently: a write that fails (a full disk, a read-only directory, the
 * descriptor limit) is said on stderr once, with its reason, and the file is not written to again
 * nor named as a report (it may be cut short). The finding is still built, in the buffer only, so
 * that `poolguard run` can be told of it through its FIFO (POOLGUARD_NOTIFY): one line per finding,
 * written with one write(2) of less than PIPE_BUF bytes, on a descriptor opened and closed around
 * it. The shim keeps no descriptor open between findings.
 *
 * What a thread's record says is written by report_thread.c.
 */
#include "pg_format.h"
#include "report_file.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char path[PG_PATH_MAX + 128];
static int have_file;
static int broken;       /* gave up on the file: said so once */
static int write_failed; /* a write to the file failed: it may be cut short, never named */
static int sink;         /* this finding goes to the buffer only (no file) */
static const char *cur_kind, *cur_severity, *cur_proof;
static dev_t file_dev;
static ino_t file_ino;
static int fd = -1;
static char jbuf[64 * 1024];
static struct pg_jw jw;

#define MAX_MODULES 1024
static uintptr_t written_modules[MAX_MODULES];
static int nwritten_modules;

const char *pg_report_path(void)
{
    return have_file && !write_failed ? path : NULL;
}

/* open(2), and once more with the soft descriptor limit raised by a few when the program has used
 * up its own: a finding must not be lost because the program sits at its limit. The limit is put
 * back at once; the descriptor stays valid above it until it is closed. */
static int open_retry(const char *p, int flags, mode_t mode)
{
    int f = open(p, flags, mode);
    if (f >= 0 || errno != EMFILE)
        return f;
    struct rlimit rl, raised;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    raised = rl;
    raised.rlim_cur = rl.rlim_cur + 4;
    if (rl.rlim_max != RLIM_INFINITY && raised.rlim_cur > rl.rlim_max)
        raised.rlim_max = raised.rlim_cur; /* only with CAP_SYS_RESOURCE; else it fails */
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
        errno = EMFILE;
        return -1;
    }
    f = open(p, flags, mode);
    int e = errno;
    setrlimit(RLIMIT_NOFILE, &rl);
    errno = e;
    return f;
}

/* A write to the report failed: said once, with the reason, and the file is left alone from now. */
static void file_failed(int err)
{
    if (write_failed)
        return;
    write_failed = 1;
    broken = 1;
    pg_warn("cannot write to the report %s (%s); it is incomplete, and this and later findings "
            "are not in it",
            path, strerror(err > 0 ? err : EIO));
}

/* Tells `poolguard run` of a finding through the FIFO it named in POOLGUARD_NOTIFY. Best effort,
 * never blocking: no reader (the gate is gone) or a full pipe just loses the line. */
static void notify_gate(int written)
{
    if (!pg_cfg.notify[0] || !cur_kind)
        return;
    char line[PG_PATH_MAX + 256];
    int n = snprintf(line, sizeof line, PG_NOTICE_FMT, (int)getpid(), cur_kind, cur_severity,
                     cur_proof ? cur_proof : PG_NOTICE_NO_PROOF, written, have_file ? path : "-");
    if (n <= 0 || (size_t)n >= sizeof line)
        return;
    int f = open_retry(pg_cfg.notify, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0);
    if (f < 0)
        return;
    struct stat st;
    if (fstat(f, &st) == 0 && S_ISFIFO(st.st_mode))
        (void)!write(f, line, (size_t)n);
    close(f);
}

uint64_t pg_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

ssize_t pg_report_read_file(const char *p, char *buf, size_t cap)
{
    int f = open(p, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -1;
    size_t len = 0;
    while (len < cap) {
        ssize_t n = read(f, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(f);
    return (ssize_t)len;
}

/* The default directory must be a real directory owned by us and closed to group and others. */
static int check_private_dir(const char *d)
{
    struct stat st;
    if (lstat(d, &st) != 0)
        return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
        return -EPERM;
    return 0;
}

static int choose_dir(char *out, size_t cap)
{
    if (pg_cfg.dir[0]) {
        const char *d = pg_cfg.dir;
        if (d[0] != '/') {
            /* Made absolute once, so a later chdir() does not move the reports. */
            char cwd[PG_PATH_MAX];
            if (!getcwd(cwd, sizeof cwd))
                return -errno;
            if ((size_t)snprintf(out, cap, "%s/%s", cwd, d) >= cap)
                return -ENAMETOOLONG;
        } else {
            snprintf(out, cap, "%s", d);
        }
        if (mkdir(out, 0700) != 0 && errno != EEXIST)
            return -errno;
        struct stat st;
        if (stat(out, &st) != 0)
            return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
    }
    const char *tmp = getenv("TMPDIR");
    if (!tmp || tmp[0] != '/' || strlen(tmp) > 512)
        tmp = "/tmp";
    snprintf(out, cap, "%s/poolguard-%u", tmp, (unsigned)geteuid());
    if (mkdir(out, 0700) != 0 && errno != EEXIST)
        return -errno;
    return check_private_dir(out);
}

static void exe_name(char *out, size_t cap)
{
    char exe[PG_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *base = "process";
    if (n > 0) {
        exe[n] = 0;
        const char *s = strrchr(exe, '/');
        base = s ? s + 1 : exe;
    }
    size_t k = 0;
    for (; *base && k + 1 < cap && k < 64; base++) {
        char c = *base;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-' || c == '_';
        out[k++] = ok ? c : '_';
    }
    out[k] = 0;
    if (!k)
        snprintf(out, cap, "process");
}

static void write_header(void)
{
    pg_jw_obj(&jw);
    pg_jw_key(&jw, PG_K_TYPE), pg_jw_str(&jw, pg_record_name(PG_REC_HEADER));
    pg_jw_key(&jw, PG_K_FORMAT), pg_jw_str(&jw, PG_FORMAT_NAME);
    pg_jw_key(&jw, PG_K_VERSION), pg_jw_int(&jw, PG_FORMAT_VERSION);
    pg_jw_key(&jw, PG_K_PID), pg_jw_int(&jw, getpid());
    pg_jw_key(&jw, PG_K_PPID), pg_jw_int(&jw, getppid());
    static char exe[PG_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    pg_jw_key(&jw, PG_K_EXE);
    if (n > 0)
        pg_jw_strn(&jw, exe, (size_t)n);
    else
        pg_jw_null(&jw);
    static char cmd[32 * 1024];
    ssize_t len = pg_report_read_file("/proc/self/cmdline", cmd, sizeof cmd);
    pg_jw_key(&jw, PG_K_ARGV);
    pg_jw_arr(&jw);
    for (ssize_t i = 0; i < len;) {
        size_t k = strnlen(cmd + i, (size_t)(len - i));
        pg_jw_strn(&jw, cmd + i, k);
        i += (ssize_t)k + 1;
    }
    pg_jw_arr_end(&jw);
    pg_jw_key(&jw, PG_K_START_UNIX_MS), pg_jw_int(&jw, (long long)pg_unix_ms());
    pg_jw_key(&jw, PG_K_SHIM), pg_jw_str(&jw, PG_TOOL_VERSION);
    pg_jw_key(&jw, PG_K_INTERVAL_MS), pg_jw_int(&jw, pg_cfg.interval_ms);
    pg_jw_key(&jw, PG_K_STALL_MS), pg_jw_int(&jw, pg_cfg.stall_ms);
    pg_jw_obj_end(&jw);
    pg_jw_line(&jw);
}

static int open_report(void)
{
    if (broken)
        return -EIO;
    if (have_file) {
        fd = open_retry(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == file_dev && st.st_ino == file_ino)
            return 0;
        int e = fd < 0 ? errno : EEXIST;
        if (fd >= 0)
            close(fd);
        fd = -1;
        broken = 1;
        pg_warn("the report %s was removed or replaced (%s); no further findings are written", path,
                strerror(e));
        return -e;
    }
    char dir[PG_PATH_MAX + 16];
    int r = choose_dir(dir, sizeof dir);
    if (r < 0) {
        broken = 1;
        pg_warn("cannot use the report directory %s (%s); set POOLGUARD_DIR to a directory of "
                "yours",
                pg_cfg.dir[0] ? pg_cfg.dir : dir, strerror(-r));
        return r;
    }
    char name[80];
    exe_name(name, sizeof name);
    for (int k = 0; k < 100; k++) {
        if (k == 0)
            snprintf(path, sizeof path, "%s/poolguard.%s.%d.jsonl", dir, name, (int)getpid());
        else
            snprintf(path, sizeof path, "%s/poolguard.%s.%d.%d.jsonl", dir, name, (int)getpid(), k);
        fd =
            open_retry(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        broken = 1;
        pg_warn("cannot create a report in %s (%s)", dir, strerror(errno));
        return -errno;
    }
    struct stat st;
    fstat(fd, &st);
    file_dev = st.st_dev;
    file_ino = st.st_ino;
    have_file = 1;
    pg_jw_init(&jw, fd, jbuf, sizeof jbuf);
    write_header();
    if (jw.err) {
        file_failed(-jw.err);
        close(fd);
        fd = -1;
        return -EIO;
    }
    return 0;
}

static void build_id_hex(const struct dl_phdr_info *info, char *out, size_t cap)
{
    out[0] = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const unsigned char *name = p + sizeof *nh;
            const unsigned char *desc = name + ((nh->n_namesz + 3) & ~3u);
            const unsigned char *next = desc + ((nh->n_descsz + 3) & ~3u);
            if (next > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4)) {
                static const char hex[] = "0123456789abcdef";
                size_t k = 0;
                for (unsigned j = 0; j < nh->n_descsz && k + 2 < cap; j++) {
                    out[k++] = hex[desc[j] >> 4];
                    out[k++] = hex[desc[j] & 15];
                }
                out[k] = 0;
                return;
            }
            p = next;
        }
    }
}

static int module_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo)
            lo = a;
        if (a + ph->p_memsz > hi)
            hi = a + ph->p_memsz;
    }
    if (hi == 0)
        return 0;
    for (int i = 0; i < nwritten_modules; i++)
        if (written_modules[i] == lo)
            return 0;
    if (nwritten_modules < MAX_MODULES)
        written_modules[nwritten_modules++] = lo;

    static char exe[PG_PATH_MAX];
    const char *name = info->dlpi_name;
    if (!name || !name[0]) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        name = exe;
    }
    char bid[128];
    build_id_hex(info, bid, sizeof bid);
    pg_jw_obj(&jw);
    pg_jw_key(&jw, "type"), pg_jw_str(&jw, "module");
    pg_jw_key(&jw, "path"), pg_jw_str(&jw, name);
    pg_jw_key(&jw, "base"), pg_jw_hex(&jw, info->dlpi_addr);
    pg_jw_key(&jw, "start"), pg_jw_hex(&jw, lo);
    pg_jw_key(&jw, "end"), pg_jw_hex(&jw, hi);
    if (bid[0])
        pg_jw_key(&jw, "build_id"), pg_jw_str(&jw, bid);
    pg_jw_obj_end(&jw);
    pg_jw_line(&jw);
    return 0;
}

struct pg_jw *pg_report_begin(void)
{
    sink = 0;
    cur_kind = cur_severity = cur_proof = NULL;
    if (open_report() < 0)
        return NULL;
    pg_jw_init(&jw, fd, jbuf, sizeof jbuf);
    dl_iterate_phdr(module_cb, NULL);
    if (jw.err) {
        file_failed(-jw.err);
        close(fd);
        fd = -1;
        return NULL;
    }
    return &jw;
}

struct pg_jw *pg_report_finding(int kind, int severity, int proof, const char *summary)
{
    static unsigned seqno;
    struct pg_jw *w = pg_report_begin();
    if (!w) {
        /* No file: the finding is built in the buffer alone (what does not fit is dropped), for
         * the gate's notice. */
        pg_jw_init(&jw, -1, jbuf, sizeof jbuf);
        sink = 1;
        w = &jw;
    }
    cur_kind = pg_kind_name(kind);
    cur_severity = pg_sev_name(severity);
    cur_proof = pg_proof_name(proof);
    pg_jw_obj(w);
    pg_jw_key(w, PG_K_TYPE), pg_jw_str(w, pg_record_name(PG_REC_FINDING));
    pg_jw_key(w, PG_K_SEQ), pg_jw_int(w, ++seqno);
    pg_jw_key(w, PG_K_KIND), pg_jw_str(w, cur_kind);
    pg_jw_key(w, PG_K_SEVERITY), pg_jw_str(w, cur_severity);
    pg_jw_key(w, PG_K_TIME_UNIX_MS), pg_jw_int(w, (long long)pg_unix_ms());
    pg_jw_key(w, PG_K_SUMMARY), pg_jw_str(w, summary);
    return w;
}

uint64_t pg_rss_kb(void)
{
    char buf[128];
    ssize_t r = pg_report_read_file("/proc/self/statm", buf, sizeof buf - 1);
    if (r <= 0)
        return 0;
    buf[r] = 0;
    char *sp = strchr(buf, ' ');
    return sp ? strtoull(sp + 1, NULL, 10) * (uint64_t)(sysconf(_SC_PAGESIZE) / 1024) : 0;
}

int pg_report_end(void)
{
    int r;
    if (sink) {
        notify_gate(0);
        r = -EIO;
    } else {
        r = pg_jw_line(&jw);
        if (r < 0)
            file_failed(-r);
        notify_gate(!write_failed);
    }
    if (fd >= 0)
        close(fd);
    fd = -1;
    sink = 0;
    cur_kind = cur_severity = cur_proof = NULL;
    return r;
}

void pg_report_fork_child(void)
{
    have_file = 0;
    broken = 0;
    write_failed = 0;
    sink = 0;
    fd = -1;
    nwritten_modules = 0;
}
