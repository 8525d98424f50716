/*
 * `poolguard attach [options] PID`: proves a deadlock in a running process that was not started
 * under the shim. Every thread is stopped with PTRACE_SEIZE + PTRACE_INTERRUPT (no signal is sent,
 * so the program sees nothing: a blocking call it was in is restarted by the kernel when it
 * resumes), read (registers, stack, the lock words its futex names), and detached, all before
 * anything is symbolized or rendered. attach.c does the reading of what the threads wait on,
 * attach_report.c writes the report.
 *
 * Never leave a process stopped: detaching happens on every path, from handlers of SIGINT,
 * SIGTERM, SIGHUP and SIGQUIT too, and a signal that arrived for the program while it was
 * stopped is handed back at detach. Should poolguard itself die, the kernel detaches its
 * tracees. Each thread gets a bounded time to stop; one that does not (stuck in the kernel) is
 * counted as running and is released as soon as it stops.
 */
#include "attach.h"
#include "pyremote.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { STOP_WAIT_MS = 300, MAX_TASK_SCANS = 64 };

static const char usage[] =
    "usage: poolguard attach [options] PID\n"
    "\n"
    "Stops every thread of the running process PID for a moment (ptrace), reads what each one\n"
    "waits on (system call, glibc lock owners, joined threads) and its stack, lets the process\n"
    "go on exactly as it was, and proves deadlocks with the same wait-for graph as the shim.\n"
    "The process need not run under poolguard. See docs/attach.md for what attach cannot see.\n"
    "\n"
    "Options:\n" CLI_COMMON_HELP
    "      --all-threads       also show every thread's stack (a snapshot)\n"
    "      --raw FILE          keep the raw report (docs/report-format.md) in FILE\n"
    "  -h, --help              show this help\n"
    "\n" CLI_EXIT_HELP;

enum { T_NONE, T_SEIZED, T_STOPPED, T_GONE };

typedef struct tracee {
    pid_t tid;
    int state;
    int sig; /* a signal it stopped with, to hand back */
} tracee;

/* Read by the signal handlers: the array is only ever replaced after the handlers could see the
 * old one detached, and ntracees grows after an element is complete. */
static tracee *volatile tracees;
static volatile size_t ntracees;

static void detach_all(void)
{
    tracee *t = tracees;
    size_t n = ntracees;
    for (size_t i = 0; i < n; i++) {
        if (t[i].state == T_STOPPED || t[i].state == T_SEIZED) {
            /* A thread seized but not yet stopped cannot be detached (ESRCH); it is released when
             * it stops (below) or when poolguard exits. */
            if (ptrace(PTRACE_DETACH, t[i].tid, NULL, (void *)(long)t[i].sig) == 0 ||
                errno == ESRCH)
                t[i].state = t[i].state == T_STOPPED ? T_GONE : t[i].state;
        }
    }
}

static void on_signal(int sig)
{
    detach_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

static const int handled[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
enum { NHANDLED = sizeof handled / sizeof *handled };
static struct sigaction handled_before[NHANDLED];

/* Installs the detaching handlers, or puts back the ones they replaced (`poolguard run` passes
 * these signals on to its program, and goes on doing so after attaching to it). */
static void handlers(bool install)
{
    for (size_t i = 0; i < NHANDLED; i++) {
        if (!install) {
            sigaction(handled[i], &handled_before[i], NULL);
            continue;
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        for (size_t k = 0; k < NHANDLED; k++)
            sigaddset(&sa.sa_mask, handled[k]);
        sigaction(handled[i], &sa, &handled_before[i]);
    }
}

static ssize_t slurp(const char *path, char *buf, size_t cap)
{
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -1;
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(f, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    close(f);
    buf[len] = 0;
    return (ssize_t)len;
}

/* Why PTRACE_SEIZE was refused, in the user's words. */
static void explain_eperm(pid_t pid)
{
    char p[64], buf[4096];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    if (slurp(p, buf, sizeof buf) > 0) {
        const char *tp = strstr(buf, "TracerPid:");
        long tracer = tp ? strtol(tp + 10, NULL, 10) : 0;
        if (tracer > 0) {
            cli_error("attach: process %d is already traced by process %ld (a debugger?); "
                      "detach it first",
                      (int)pid, tracer);
            return;
        }
        const char *st = strstr(buf, "State:");
        if (st) {
            st += 6 + strspn(st + 6, " \t");
            if (*st == 'Z' || *st == 'X') {
                cli_error("attach: process %d has exited (a zombie its parent has not reaped): "
                          "there is nothing left to read",
                          (int)pid);
                return;
            }
        }
        const char *up = strstr(buf, "Uid:");
        long uid = up ? strtol(up + 4, NULL, 10) : -1;
        if (uid >= 0 && (uid_t)uid != geteuid() && geteuid() != 0) {
            cli_error("attach: process %d belongs to another user (uid %ld); run poolguard as "
                      "that user or as root",
                      (int)pid, uid);
            return;
        }
    }
    char scope[16] = "";
    if (slurp("/proc/sys/kernel/yama/ptrace_scope", scope, sizeof scope) > 0 && scope[0] != '0') {
        cli_error("attach: ptrace is not permitted here (kernel.yama.ptrace_scope = %c): run "
                  "as root, or 'sysctl kernel.yama.ptrace_scope=0'",
                  scope[0]);
        return;
    }
    cli_error("attach: not permitted to trace process %d (ptrace: %s; a container without "
              "CAP_SYS_PTRACE, or a seccomp policy?)",
              (int)pid, strerror(EPERM));
}

static int add_tracee(tracee **arr, size_t *cap, pid_t tid)
{
    if (!*arr || ntracees >= *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        tracee *a = malloc(ncap * sizeof *a);
        if (!a)
            return -ENOMEM;
        if (*arr)
            memcpy(a, *arr, ntracees * sizeof *a);
        /* The handlers switch to the copy before the old array is freed. */
        tracee *old = *arr;
        tracees = a;
        *arr = a;
        free(old);
        *cap = ncap;
    }
    (*arr)[ntracees] = (tracee){ .tid = tid, .state = T_NONE };
    ntracees = ntracees + 1;
    return 0;
}

/* Waits (bounded) for a seized thread to report its stop. */
static void wait_stop(tracee *t, long long deadline)
{
    for (;;) {
        int st;
        pid_t r = waitpid(t->tid, &st, __WALL | WNOHANG);
        if (r == t->tid) {
            if (WIFEXITED(st) || WIFSIGNALED(st)) {
                t->state = T_GONE;
                return;
            }
            if (WIFSTOPPED(st)) {
                t->state = T_STOPPED;
                /* PTRACE_EVENT_STOP: our interrupt, or a group-stop that stays in effect after
                 * detach. Anything else is a signal on its way to the program: hand it back. */
                if ((st >> 16) != PTRACE_EVENT_STOP)
                    t->sig = WSTOPSIG(st);
                return;
            }
        } else if (r < 0 && errno != EINTR) {
            t->state = T_GONE;
            return;
        }
        if (cli_now_ms() >= deadline)
            return;
        struct timespec ts = { 0, 200000 };
        nanosleep(&ts, NULL);
    }
}

/* Seizes and stops every thread, rescanning until no thread appears that was not stopped (a
 * thread can only be created by one still running). Returns 0, or -errno with the error said. */
static int stop_all(pid_t pid, tracee **arr, size_t *cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    for (int scan = 0; scan < MAX_TASK_SCANS; scan++) {
        DIR *d = opendir(path);
        if (!d) {
            if (scan == 0) {
                cli_error("attach: no process %d", (int)pid);
                return -ESRCH;
            }
            return 0; /* it exited meanwhile: what was read stays */
        }
        size_t first_new = ntracees;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] < '1' || e->d_name[0] > '9')
                continue;
            pid_t tid = (pid_t)atoi(e->d_name);
            bool known = false;
            for (size_t i = 0; *arr && i < ntracees && !known; i++)
                known = (*arr)[i].tid == tid;
            if (known)
                continue;
            if (add_tracee(arr, cap, tid) < 0) {
                closedir(d);
                cli_error("out of memory");
                return -ENOMEM;
            }
            tracee *t = &(*arr)[ntracees - 1];
            if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0) {
                int err = errno;
                t->state = T_GONE;
                if (err == ESRCH)
                    continue;
                if (ntracees == 1 || err == EPERM) {
                    closedir(d);
                    if (err == EPERM)
                        explain_eperm(pid);
                    else
                        cli_error("attach: cannot trace process %d: %s", (int)pid, strerror(err));
                    return -err;
                }
                continue;
            }
            t->state = T_SEIZED;
            if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) != 0)
                t->state = errno == ESRCH ? T_GONE : T_SEIZED;
        }
        closedir(d);
        if (first_new == ntracees)
            return 0;
        long long deadline = cli_now_ms() + STOP_WAIT_MS;
        for (size_t i = first_new; i < ntracees; i++)
            if ((*arr)[i].state == T_SEIZED)
                wait_stop(&(*arr)[i], deadline);
        if (scan == 0 && ntracees > 0 && (*arr)[0].tid == pid && (*arr)[0].state == T_GONE &&
            ntracees == 1) {
            cli_error("attach: no process %d", (int)pid);
            return -ESRCH;
        }
    }
    return 0;
}

static int read_mem(void *ctx, uint64_t addr, void *buf, size_t len)
{
    pid_t pid = *(pid_t *)ctx;
    struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n == (ssize_t)len)
        return 0;
    /* /proc/PID/mem also reads pages process_vm_readv refuses (e.g. PROT_NONE guard-adjacent). */
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/mem", (int)pid);
    int f = open(p, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -errno;
    n = pread(f, buf, len, (off_t)addr);
    close(f);
    return n == (ssize_t)len ? 0 : -EFAULT;
}

static void read_identity(ext_proc *p)
{
    char path[64], buf[32768];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)p->pid);
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = 0;
        p->exe = strdup(buf);
    }
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)p->pid);
    n = slurp(path, buf, sizeof buf);
    int argc = 0;
    for (ssize_t i = 0; i < n; i++)
        argc += buf[i] == 0;
    p->argv = calloc((size_t)argc + 1, sizeof *p->argv);
    for (ssize_t i = 0, k = 0; p->argv && i < n && k < argc; k++) {
        p->argv[k] = strdup(buf + i);
        i += (ssize_t)strlen(buf + i) + 1;
    }
    snprintf(path, sizeof path, "/proc/%d/stat", (int)p->pid);
    if (slurp(path, buf, sizeof buf) > 0) {
        const char *paren = strrchr(buf, ')');
        if (paren)
            sscanf(paren + 2, "%*c %d", &p->ppid);
    }
}

/* The shim's rule (shim/watch/watchdog.c): a handler for a signal that can come from outside could
 * still wake a thread, so no whole-program hang is claimed then. */
static bool async_handlers(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (slurp(path, buf, sizeof buf) <= 0)
        return true;
    const char *s = strstr(buf, "SigCgt:");
    if (!s)
        return true;
    unsigned long long caught = strtoull(s + 7, NULL, 16);
    static const int sync_sigs[] = { SIGILL,  SIGTRAP, SIGABRT,   SIGBUS,  SIGFPE, SIGSEGV, SIGPIPE,
                                     SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGSYS, 32,      33 };
    for (size_t k = 0; k < sizeof sync_sigs / sizeof *sync_sigs; k++)
        caught &= ~(1ull << (sync_sigs[k] - 1));
    return caught != 0;
}

static void read_thread(pid_t pid, const tracee *tr, ext_thread *t)
{
    memset(t, 0, sizeof *t);
    t->tid = tr->tid;
    t->sysno = -1;
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)pid, (int)tr->tid);
    ssize_t n = slurp(path, t->name, sizeof t->name);
    while (n > 0 && t->name[n - 1] == '\n')
        t->name[--n] = 0;
    if (tr->state != T_STOPPED)
        return;
#if defined(__x86_64__)
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, tr->tid, NULL, &regs) != 0)
        return;
    t->have_regs = true;
    t->sysno = (long)regs.orig_rax;
    t->sysret = (long)regs.rax;
    uint64_t args[6] = { regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9 };
    memcpy(t->args, args, sizeof args);
    t->fs_base = regs.fs_base;
#endif
}

static char *debuginfo_path;
static const Dwfl_Callbacks proc_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

/* Stops every thread of pid, reads and analyzes them, and lets them go: p is left filled for
 * ext_write_report, to be freed with attach_release. Returns 0 or PG_EXIT_ERROR after saying why. */
static int attach_read(pid_t pid, ext_proc *p)
{
    /* Same policy as cli_finish: no network look-ups of debug info unless asked. */
    if (!getenv("POOLGUARD_DEBUGINFOD"))
        unsetenv("DEBUGINFOD_URLS");
    memset(p, 0, sizeof *p);
    p->source = "attach";
    p->pid = pid;
    p->read = read_mem;
    p->read_ctx = &p->pid;
    read_identity(p);
    tracee *arr = NULL;
    size_t cap = 0;
    tracees = NULL;
    ntracees = 0;
    handlers(true);
    int err = stop_all(pid, &arr, &cap);
    int status = 0;
    if (err == 0) {
        p->threads = calloc(ntracees ? ntracees : 1, sizeof *p->threads);
        bool all_read = p->threads != NULL;
        for (size_t i = 0; p->threads && arr && i < ntracees; i++) {
            if (arr[i].state == T_GONE)
                continue;
            read_thread(pid, &arr[i], &p->threads[p->nthreads]);
            all_read &= p->threads[p->nthreads].have_regs;
            p->nthreads++;
        }
        p->can_prove_hang = all_read && !async_handlers(pid);
        p->dwfl = dwfl_begin(&proc_callbacks);
        if (p->dwfl) {
            dwfl_report_begin(p->dwfl);
            if (dwfl_linux_proc_report(p->dwfl, pid) != 0 ||
                dwfl_report_end(p->dwfl, NULL, NULL) != 0) {
                cli_error("attach: cannot read the modules of process %d: %s", (int)pid,
                          dwfl_errmsg(-1));
                status = PG_EXIT_ERROR;
            } else if (dwfl_linux_proc_attach(p->dwfl, pid, true) != 0) {
                cli_error("attach: cannot read the threads of process %d: %s", (int)pid,
                          dwfl_errmsg(-1));
                status = PG_EXIT_ERROR;
            }
        } else {
            status = PG_EXIT_ERROR;
        }
        if (!status && (ext_unwind(p) < 0 || ext_analyze(p) < 0)) {
            cli_error("out of memory");
            status = PG_EXIT_ERROR;
        }
        if (!status)
            ext_python(p); /* a CPython interpreter's threads and pools, while still stopped */
    } else {
        status = PG_EXIT_ERROR;
    }
    /* Everything read: let the process go before the slow part (symbolizing, rendering). */
    detach_all();
    long long deadline = cli_now_ms() + STOP_WAIT_MS;
    for (size_t i = 0; arr && i < ntracees; i++) {
        if (arr[i].state != T_SEIZED)
            continue;
        wait_stop(&arr[i], deadline);
        detach_all();
        if (arr[i].state == T_SEIZED)
            fprintf(stderr,
                    "poolguard: warning: attach: thread %d did not stop (in the kernel); "
                    "it is released when poolguard exits\n",
                    (int)arr[i].tid);
    }
    handlers(false);
    tracees = NULL;
    ntracees = 0;
    free(arr);
    return status;
}

static void attach_release(ext_proc *p)
{
    ext_proc_release(p);
    if (p->dwfl)
        dwfl_end(p->dwfl);
    free(p->threads);
    free(p->exe);
    for (char **a = p->argv; a && *a; a++)
        free(*a);
    free(p->argv);
}

int ext_attach_to_file(pid_t pid, const char *path, bool all_threads)
{
#if !defined(__x86_64__)
    (void)pid;
    (void)path;
    (void)all_threads;
    cli_error("attach: only x86_64 is supported");
    return PG_EXIT_ERROR;
#else
    ext_proc p;
    int status = attach_read(pid, &p);
    if (!status) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        int nf = fd >= 0 ? ext_write_report(&p, fd, all_threads) : -errno;
        if (fd >= 0 && close(fd) != 0 && nf >= 0)
            nf = -errno;
        if (nf < 0) {
            cli_error("cannot write the raw report '%s': %s", path, strerror(-nf));
            unlink(path);
            status = PG_EXIT_ERROR;
        }
    }
    attach_release(&p);
    return status;
#endif
}

int cmd_attach(int argc, char **argv)
{
    ext_cli c;
    int code;
    int first = ext_cli_parse(&c, "attach", usage, argc, argv, &code);
    if (first < 0)
        return code;
    if (first != argc - 1) {
        cli_error("attach: %s (usage: poolguard attach [options] PID)",
                  first >= argc ? "no process given" : "one process at a time");
        return PG_EXIT_ERROR;
    }
    char *end;
    long pidl = strtol(argv[first], &end, 10);
    if (*end || pidl <= 0 || pidl > 0x3fffffff) {
        cli_error("attach: '%s' is not a process id", argv[first]);
        return PG_EXIT_ERROR;
    }
    pid_t pid = (pid_t)pidl;
#if !defined(__x86_64__)
    cli_error("attach: only x86_64 is supported");
    return PG_EXIT_ERROR;
#endif
    if (pid == getpid()) {
        cli_error("attach: cannot attach to poolguard itself");
        return PG_EXIT_ERROR;
    }
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/%d", (int)pid);
    struct stat st;
    if (stat(proc, &st) != 0) {
        cli_error("attach: no process %d", (int)pid);
        return PG_EXIT_ERROR;
    }
    ext_proc p;
    int status = attach_read(pid, &p);
    if (!status)
        status = ext_cli_finish(&c, &p);
    attach_release(&p);
    return status;
}
