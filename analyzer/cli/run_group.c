/*
 * The program's process group for `poolguard run` (see run_group.h and cmd_run.c): CMD started
 * in a group of its own with the shim's environment, signals passed on, and the group supervised
 * until it ends, a finding stops it, or the time-out has asked every process for a snapshot
 * (the program's own process, if it runs outside the shim and cannot answer, is read by attach).
 *
 * Nothing else of the program's environment changes: it gets the signal dispositions and mask
 * poolguard was started with (an ignored SIGHUP stays ignored: `nohup poolguard run` protects the
 * program). Its own process group is what lets the gate stop every process it left behind with
 * one kill; job control is kept by hand: on a terminal the group gets the foreground, a program
 * that stops (Ctrl-Z, SIGTTIN) stops poolguard with it so the shell sees the job stopped, and
 * resuming poolguard resumes the program. Signals sent to poolguard itself are passed on.
 */
#include "run_group.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "cli.h"

enum { POLL_MS = 50, SNAPSHOT_WAIT_MS = 1000 };

static volatile sig_atomic_t forwarded_signal;
volatile pid_t run_child_group;

/* Signals passed on to the program's group when sent to poolguard. Terminal signals (Ctrl-C,
 * Ctrl-\\, Ctrl-Z) reach the program's group directly when it has the foreground. */
static const int forwarded[] = { SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGUSR1,
                                 SIGUSR2, SIGALRM, SIGTSTP, SIGCONT };
enum { NFORWARDED = sizeof forwarded / sizeof forwarded[0] };

/* What poolguard was started with, for the program. */
static struct sigaction inherited[NFORWARDED], inherited_chld, inherited_ttou;
static bool forwarding[NFORWARDED];
static sigset_t inherited_mask;

static void forward_signal(int sig)
{
    if (sig != SIGTSTP && sig != SIGCONT)
        forwarded_signal = sig;
    if (run_child_group > 0)
        kill(-run_child_group, sig);
}

/* Installs the forwarders, except for signals poolguard was started with ignored: those stay
 * ignored, for poolguard and for the program. SIGCHLD must be deliverable for waitpid. */
void run_take_signals(void)
{
    sigprocmask(SIG_SETMASK, NULL, &inherited_mask);
    struct sigaction sa = { .sa_handler = forward_signal };
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < NFORWARDED; i++) {
        sigaction(forwarded[i], NULL, &inherited[i]);
        forwarding[i] = inherited[i].sa_handler != SIG_IGN;
        if (forwarding[i])
            sigaction(forwarded[i], &sa, NULL);
    }
    sigaction(SIGTTOU, NULL, &inherited_ttou);
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, &inherited_chld);
}

/* In the child, before exec: every disposition and the mask as poolguard got them. */
static void give_back_signals(void)
{
    for (int i = 0; i < NFORWARDED; i++)
        if (forwarding[i])
            sigaction(forwarded[i], &inherited[i], NULL);
    sigaction(SIGCHLD, &inherited_chld, NULL);
    sigaction(SIGTTOU, &inherited_ttou, NULL);
    sigprocmask(SIG_SETMASK, &inherited_mask, NULL);
}

/* The program stopped (Ctrl-Z, SIGTTIN, SIGSTOP): poolguard stops too, with the same signal, so
 * that the shell sees the job stopped; when it is resumed (fg, bg, SIGCONT) it resumes the
 * program, giving it the terminal back if poolguard has it. In an orphaned process group the
 * kernel discards a terminal stop signal: poolguard then just resumes the program. */
static void follow_stop(pid_t pid, int stopsig, bool tty)
{
    if (tty)
        tcsetpgrp(STDIN_FILENO, getpgrp());
    int self = stopsig == SIGTSTP || stopsig == SIGTTIN || stopsig == SIGTTOU ? stopsig : SIGSTOP;
    struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
    sigemptyset(&dfl.sa_mask);
    if (self != SIGSTOP)
        sigaction(self, &dfl, &old);
    kill(getpid(), self);
    if (self != SIGSTOP)
        sigaction(self, &old, NULL);
    if (tty && tcgetpgrp(STDIN_FILENO) == getpgrp())
        tcsetpgrp(STDIN_FILENO, pid);
    kill(-pid, SIGCONT);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}
/* Forks CMD into its own process group with the shim's environment. Returns the pid, or a
 * negative exit code (-126/-127) when CMD cannot be executed. */
pid_t run_spawn(char **cmd, const char *shim, const char *dir, const char *notify, bool tty)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -PG_EXIT_ERROR;
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -PG_EXIT_ERROR;
    }
    if (pid == 0) {
        setpgid(0, 0);
        /* Here as well as in poolguard: the program must not read the terminal before its group
         * has it (it would stop on SIGTTIN). */
        if (tty) {
            signal(SIGTTOU, SIG_IGN);
            tcsetpgrp(STDIN_FILENO, getpid());
        }
        give_back_signals();
        const char *old = getenv("LD_PRELOAD");
        char *preload = malloc(strlen(shim) + (old ? strlen(old) : 0) + 2);
        if (preload) {
            strcpy(preload, shim);
            if (old && *old) {
                strcat(preload, ":");
                strcat(preload, old);
            }
            setenv("LD_PRELOAD", preload, 1);
        }
        setenv("POOLGUARD_DIR", dir, 1);
        if (notify)
            setenv("POOLGUARD_NOTIFY", notify, 1);
        else
            unsetenv("POOLGUARD_NOTIFY");
        execvp(cmd[0], cmd);
        int e = errno;
        if (write(pipefd[1], &e, sizeof e) < 0)
            _exit(PG_EXIT_ERROR);
        _exit(e == ENOENT ? PG_EXIT_NOTFOUND : PG_EXIT_NOEXEC);
    }
    close(pipefd[1]);
    setpgid(pid, pid); /* also here: no window where a kill of the group misses the child */
    int e = 0;
    ssize_t n;
    do
        n = read(pipefd[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n == (ssize_t)sizeof e) {
        waitpid(pid, NULL, 0);
        cli_error("cannot run '%s': %s", cmd[0], strerror(e));
        return e == ENOENT ? -PG_EXIT_NOTFOUND : -PG_EXIT_NOEXEC;
    }
    return pid;
}

/* Reads the shim's notices from the FIFO (one line each, written whole) into the watcher. */
static void read_notices(int fd, run_watch *w, char *buf, size_t cap, size_t *len)
{
    for (;;) {
        ssize_t n = read(fd, buf + *len, cap - 1 - *len);
        if (n <= 0)
            return;
        *len += (size_t)n;
        buf[*len] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = 0;
            if (w)
                run_watch_notice(w, line);
            line = nl + 1;
        }
        *len -= (size_t)(line - buf);
        memmove(buf, line, *len);
        if (*len == cap - 1)
            *len = 0; /* no notice is this long: drop it */
    }
}

/* Supervises the group until the program ends, a finding stops it, or the time-out. */
/* The report lands in dir with the shim's, so it is rendered with them. */
static void snapshot_by_attach(pid_t pid, const char *dir)
{
    fprintf(stderr,
            "poolguard: process %d did not answer the snapshot request (it runs outside the "
            "shim): attaching to it\n",
            (int)pid);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/poolguard.attach.%d.jsonl", dir, (int)pid);
    if (ext_attach_to_file(pid, path, true) != 0)
        fprintf(stderr, "poolguard: warning: no snapshot of process %d\n", (int)pid);
}

run_end run_supervise(pid_t pid, const char *dir, int notify_fd, double timeout_s,
                      bool stop_on_finding, bool tty, int *status, run_watch *w)
{
    long long start = cli_now_ms(), requested = 0;
    run_end end = END_EXITED;
    bool exited = false;
    char nbuf[8192];
    size_t nlen = 0;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG | WUNTRACED);
        if (r == pid && WIFSTOPPED(*status)) {
            follow_stop(pid, WSTOPSIG(*status), tty);
            continue;
        }
        if (r == pid)
            exited = true;
        if (notify_fd >= 0)
            read_notices(notify_fd, w, nbuf, sizeof nbuf, &nlen);
        if (w)
            run_watch_poll(w);
        if (w && stop_on_finding && run_watch_stop_finding(w)) {
            end = END_FINDING;
            break;
        }
        if (exited) {
            end = forwarded_signal ? END_SIGNAL : END_EXITED;
            break;
        }
        long long t = cli_now_ms();
        if (timeout_s > 0 && !requested && t - start >= (long long)(timeout_s * 1000)) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", dir, PG_SNAPSHOT_REQUEST_FILE);
            int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
            if (fd >= 0)
                close(fd);
            requested = t;
        }
        if (requested) {
            /* Every process that has a report answers within a scan or two; the deaf get 1 s. */
            bool all =
                w && run_watch_processes(w) > 0 && run_watch_snapshots(w) == run_watch_processes(w);
            if (all || t - requested >= SNAPSHOT_WAIT_MS) {
                end = END_TIMEOUT;
                break;
            }
        }
        sleep_ms(POLL_MS);
    }
    /* A program that runs outside the shim (static, setuid, LD_PRELOAD cleared before an exec)
     * never answers: its snapshot is taken by attach, while it is still there to be read. */
    if (end == END_TIMEOUT && !exited && !(w && run_watch_answered(w, pid)))
        snapshot_by_attach(pid, dir);
    /* The rest of the group (children the program left behind, or everyone) goes too. */
    kill(-pid, SIGKILL);
    if (!exited)
        waitpid(pid, status, 0);
    return end;
}
