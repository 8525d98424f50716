/*
 * `poolguard run [options] -- CMD [ARGS...]`: the CI gate. Runs CMD in its own process group with
 * the shim preloaded and POOLGUARD_DIR set (children inherit both, so forks and execs are
 * followed), watches the directory, and stops the whole group as soon as a deadlock or pool
 * exhaustion is proven, or when --timeout expires (after asking every process for a snapshot;
 * the program's own process, when it does not answer, is attached to: run_group.c).
 * Then it renders what was found and exits with a fixed code (cli.h). This file holds the
 * options, the shim and the directories, and the last step; starting, signalling and supervising
 * the program's process group is run_group.c.
 *
 * The program keeps poolguard's stdin, stdout and stderr; the report goes to stderr (or
 * --output), so the program's stdout stays the program's.
 *
 * A finding is never lost: the report directory is probed before the program starts, and each
 * process tells the gate of each finding through a FIFO (POOLGUARD_NOTIFY) in a private directory
 * of poolguard's, so a finding the shim could not write to disk still stops the program.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_group.h"
#include "run_watch.h"

static const char usage[] =
    "usage: poolguard run [options] -- CMD [ARGS...]\n"
    "\n"
    "Runs CMD with the poolguard shim preloaded (LD_PRELOAD) and follows its children. As soon\n"
    "as a deadlock or a pool exhaustion is proven, the whole process group is killed and the\n"
    "report is shown. The report goes to stderr unless --output is given.\n"
    "\n"
    "Options:\n"
    "  -t, --timeout SECS      stop CMD after SECS seconds (fractions allowed), showing a\n"
    "                          snapshot of every thread (by attach when CMD runs outside\n"
    "                          the shim); exit status 124\n"
    "  -d, --dir DIR           keep raw reports in DIR (created if missing) instead of a\n"
    "                          private temporary directory\n"
    "  -k, --keep              keep the temporary directory and say where it is\n" CLI_COMMON_HELP
    "  -h, --help              show this help\n"
    "\n"
    "Environment:\n"
    "  POOLGUARD_SHIM          the shim to preload (default: libpoolguard.so next to poolguard)\n"
    "  LD_PRELOAD              kept; the shim is put in front of it\n"
    "  POOLGUARD_DIR           set for CMD to the directory of raw reports\n"
    "\n" CLI_EXIT_HELP;

static char *find_shim(void)
{
    const char *env = getenv("POOLGUARD_SHIM");
    if (env && *env)
        return strdup(env);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return NULL;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    /* Installed layout first (bin/ and lib/poolguard/), then the build tree (side by side). */
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/../lib/poolguard/libpoolguard.so", self);
    if (access(path, R_OK) == 0)
        return realpath(path, NULL);
    snprintf(path, sizeof path, "%s/libpoolguard.so", self);
    return strdup(path);
}

/* Removes the files of a directory poolguard created, then the directory. */
static void remove_dir(const char *dir)
{
    if (!dir)
        return;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

typedef struct run_opts {
    cli_opts cli;
    double timeout_s; /* 0: none */
    const char *dir;
    bool keep;
} run_opts;

static int parse_args(int argc, char **argv, run_opts *o)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        { "timeout", required_argument, NULL, 't' },
        { "dir", required_argument, NULL, 'd' },
        { "keep", no_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { 0, 0, 0, 0 },
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+f:o:t:d:kh", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); return 1;
        case 't': {
            char *end;
            errno = 0;
            o->timeout_s = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(o->timeout_s > 0) || o->timeout_s > 1e7) {
                cli_error("--timeout: expected a number of seconds, not '%s'", optarg);
                return -1;
            }
            break;
        }
        case 'd': o->dir = optarg; break;
        case 'k': o->keep = true; break;
        case '?':
        case ':':
            cli_error("run: %s '%s' (see poolguard run --help)",
                      c == ':' ? "option needs a value:" : "unknown option", argv[optind - 1]);
            return -1;
        default:
            if (cli_handle_common(&o->cli, c, optarg) <= 0)
                return -1;
        }
    }
    if (optind >= argc) {
        cli_error("run: no command given (usage: poolguard run [options] -- CMD [ARGS...])");
        return -1;
    }
    return 0;
}

static bool has_reports(const char *dir);
static int probe_dir(const char *dir);

static int prepare_dir(run_opts *o, char **dir_out)
{
    if (o->dir) {
        if (mkdir(o->dir, 0700) < 0 && errno != EEXIST) {
            cli_error("cannot create '%s': %s", o->dir, strerror(errno));
            return -1;
        }
        struct stat st;
        if (stat(o->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            cli_error("'%s' is not a directory", o->dir);
            return -1;
        }
        /* Reports of an earlier run would be taken for this run's, and stop it at once. */
        if (has_reports(o->dir)) {
            cli_error("'%s' already holds poolguard reports; give --dir an empty directory",
                      o->dir);
            return -1;
        }
        int e = -probe_dir(o->dir);
        if (e) {
            cli_error("cannot write reports to '%s': %s", o->dir, strerror(e));
            return -1;
        }
        *dir_out = realpath(o->dir, NULL);
        return *dir_out ? 0 : -1;
    }
    const char *tmp = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof tmpl, "%s/poolguard.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    /* mkdtemp creates it 0700: reports hold addresses and argv, private to the user. */
    if (!mkdtemp(tmpl)) {
        cli_error("cannot create a temporary directory in %s: %s", tmp && *tmp ? tmp : "/tmp",
                  strerror(errno));
        return -1;
    }
    int e = -probe_dir(tmpl);
    if (e) {
        cli_error("cannot write reports to '%s': %s", tmpl, strerror(e));
        rmdir(tmpl);
        return -1;
    }
    *dir_out = strdup(tmpl);
    return *dir_out ? 0 : -1;
}

/* Can the program write reports into dir? Tried for real (a file created, one byte written,
 * removed): permissions, a read-only mount and a full file system all show here, before the
 * program runs, rather than as a finding that could not be written. */
static int probe_dir(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/.poolguard-probe.XXXXXX", dir);
    int fd = mkostemp(p, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = 0;
    if (write(fd, "\n", 1) != 1)
        r = -errno;
    if (r == 0 && fsync(fd) != 0 && errno != EINVAL)
        r = -errno;
    close(fd);
    unlink(p);
    return r;
}

/* The FIFO the shim tells of findings through, in a private directory of its own (the report
 * directory may be read-only or full). Opened read-write, so that it never reads as closed and a
 * writer's non-blocking open always finds a reader while poolguard runs. */
static int make_notify(char **dir_out, char **path_out)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof tmpl, "%s/poolguard-run.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpl))
        return -errno;
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/notify", tmpl);
    int fd = -1;
    if (mkfifo(p, 0600) == 0)
        fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        unlink(p);
        rmdir(tmpl);
        return -e;
    }
    *dir_out = strdup(tmpl);
    *path_out = strdup(p);
    return fd;
}

/* Adds each report of dir that is one: a file whose first line, complete, is a header. An empty
 * or cut-short file (the disk filled up, the process died while creating it) is named, not read. */
static void add_reports(pg_report *r, const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        if (len > 6 && strcmp(name + len - 6, ".jsonl") == 0) {
            /* The shim's header holds the command line (up to 32 KiB). */
            enum { HEAD_MAX = 64 * 1024 };
            char p[PATH_MAX + 256], *head = malloc(HEAD_MAX);
            snprintf(p, sizeof p, "%s/%s", dir, name);
            int fd = head ? open(p, O_RDONLY | O_CLOEXEC) : -1;
            ssize_t k = fd >= 0 ? read(fd, head, HEAD_MAX) : -1;
            if (fd >= 0)
                close(fd);
            const char *nl = k > 0 ? memchr(head, '\n', (size_t)k) : NULL;
            json_t *first = nl ? json_loadb(head, (size_t)(nl - head), 0, NULL) : NULL;
            bool header = pg_record_parse(json_string_value(json_object_get(first, PG_K_TYPE))) ==
                          PG_REC_HEADER;
            json_decref(first);
            free(head);
            if (header)
                report_add_path(r, p);
            else
                fprintf(stderr, "poolguard: warning: %s is %s: not a report, not read\n", p,
                        k == 0 ? "empty"
                        : !nl  ? "cut short"
                               : "without a header");
        }
        free(names[i]);
    }
    if (n >= 0)
        free(names);
}

static bool has_reports(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        found = n > 6 && strcmp(de->d_name + n - 6, ".jsonl") == 0;
    }
    closedir(d);
    return found;
}

static int status_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return PG_EXIT_ERROR;
}

int cmd_run(int argc, char **argv)
{
    run_opts o = { 0 };
    cli_opts_init(&o.cli);
    o.cli.default_out = stderr;
    int pr = parse_args(argc, argv, &o);
    if (pr != 0)
        return pr > 0 ? 0 : PG_EXIT_ERROR;
    char **cmd = argv + optind;

    char *shim = find_shim();
    if (!shim || access(shim, R_OK) != 0) {
        cli_error("cannot find the shim%s%s (build it, or set POOLGUARD_SHIM)", shim ? " at " : "",
                  shim ? shim : "");
        free(shim);
        return PG_EXIT_ERROR;
    }
    char *abs = realpath(shim, NULL);
    if (abs) {
        free(shim);
        shim = abs;
    }
    char *dir = NULL;
    if (prepare_dir(&o, &dir) < 0) {
        free(shim);
        return PG_EXIT_ERROR;
    }
    bool keep = o.keep || o.dir;

    char *notify_dir = NULL, *notify = NULL;
    int notify_fd = make_notify(&notify_dir, &notify);
    if (notify_fd < 0)
        fprintf(stderr,
                "poolguard: warning: no channel for findings besides the report files "
                "(cannot create a FIFO: %s)\n",
                strerror(-notify_fd));

    run_take_signals();
    /* An interactive program needs the terminal: give its group the foreground while it runs. */
    bool tty = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
    if (tty)
        signal(SIGTTOU, SIG_IGN);
    pid_t pid = run_spawn(cmd, shim, dir, notify_fd >= 0 ? notify : NULL, tty);
    free(shim);
    if (pid < 0) {
        if (!keep)
            remove_dir(dir);
        free(dir);
        if (notify_fd >= 0) {
            close(notify_fd);
            remove_dir(notify_dir);
        }
        free(notify_dir);
        free(notify);
        return (int)-pid;
    }
    run_child_group = pid;
    /* The watcher keeps one descriptor per process that wrote a report; a program that forks
     * hundreds would exhaust the usual soft limit of 1024. Raised only now, after the fork, so
     * the program keeps the limits it was given. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (tty)
        tcsetpgrp(STDIN_FILENO, pid);
    int status = 0;
    run_watch *w = run_watch_new(dir);
    /* With --fail-on none the gate is off: findings are reported, the program is not stopped. */
    run_end end = run_supervise(pid, dir, notify_fd, o.timeout_s, o.cli.fail_on <= PG_SEV_ERROR,
                                tty, &status, w);
    if (tty)
        tcsetpgrp(STDIN_FILENO, getpgrp());
    run_child_group = 0;

    pg_report *r = report_new();
    int code = PG_EXIT_ERROR;
    if (r) {
        /* No report file at all is normal: the shim writes one only when it has something
         * to say, or after a snapshot request. */
        add_reports(r, dir);
        o.cli.render.timed_out = end == END_TIMEOUT;
        code = cli_finish(r, &o.cli);
        report_free(r);
    }
    /* Findings the shim could not write: the files above do not have them. */
    size_t lost = w ? run_watch_lost(w) : 0;
    for (size_t i = 0; i < lost; i++) {
        const run_notice *n = run_watch_lost_notice(w, i);
        fprintf(stderr,
                "poolguard: error: process %d found a %s (%s) that is not in any report: the "
                "shim could not write it (its line above says why)\n",
                n->pid, n->kind, n->severity);
    }
    if (end == END_FINDING)
        fprintf(stderr, "poolguard: stopped the program: it can no longer make progress\n");
    if (keep)
        fprintf(stderr, "poolguard: raw reports kept in %s\n", dir);
    else
        remove_dir(dir);
    free(dir);
    if (notify_fd >= 0) {
        close(notify_fd);
        remove_dir(notify_dir);
    }
    free(notify_dir);
    free(notify);
    bool lost_fails = w && run_watch_lost_fails(w, o.cli.fail_on);
    run_watch_free(w);

    if (code != 0)
        return code; /* poolguard's own error, or findings */
    if (lost_fails)
        return PG_EXIT_FINDINGS; /* a finding at or above --fail-on that no file holds */
    if (end == END_TIMEOUT)
        return PG_EXIT_TIMEOUT;
    if (end == END_FINDING)
        return PG_EXIT_FINDINGS; /* stopped for a finding that --fail-on does not count */
    /* The program's own status, also after a signal poolguard passed on: a program that handles
     * SIGTERM and exits 0 exits 0, as it would without poolguard. */
    return status_code(status);
}
