/*
 * Start-up and fork handling. The constructor resolves the real functions, reads the
 * configuration, maps the thread table and registers fork handlers; only then do hooks start
 * tracking (pg_ready). Calls that arrive earlier, from other libraries' constructors, go straight
 * to the real functions. The watchdog thread is started later, on the first thread creation or
 * the first blocking wait, so a program that never blocks never runs it.
 *
 * In a secure-execution process (setuid, setgid, capabilities: AT_SECURE) the dynamic loader only
 * preloads from trusted directories; if the shim is loaded there anyway it tracks nothing, starts
 * no thread and writes no file.
 */
#include "glibc.h"
#include "lockorder.h"
#include "pg.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

_Atomic int pg_ready;
int pg_disabled;
struct pg_config pg_cfg;

void pg_warn(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    int saved = errno;
    const char pre[] = "poolguard: ";
    if (strncmp(buf, pre, sizeof pre - 1) != 0)
        (void)!write(2, pre, sizeof pre - 1);
    (void)!write(2, buf, (size_t)n);
    errno = saved;
}

/* Starts one of the shim's own threads: detached, with every signal blocked (signals belong to the
 * program), and named so that people reading `top` or a debugger know it. 0 or -errno. */
int pg_spawn(void *(*fn)(void *), size_t stack, const char *name)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, stack);
    pthread_t th;
    int r = pg_real.pthread_create(&th, &attr, fn, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0)
        return -r;
    pthread_setname_np(th, name);
    return 0;
}

static void warn_line(const char *msg)
{
    pg_warn("%s", msg);
}

static const char *get_env(const char *name)
{
    return getenv(name);
}

static void fork_prepare(void)
{
    pg_watchdog_fork_prepare();
    pg_stack_fork_prepare();
}

static void fork_parent(void)
{
    pg_stack_fork_done();
    pg_watchdog_fork_parent();
}

static void fork_child(void)
{
    pg_stack_fork_done();
    pg_table_after_fork_child();
    pg_watchdog_fork_child();
}

void pg_init(void)
{
    static _Atomic int once;
    if (atomic_exchange(&once, 1))
        return;
    pg_real_resolve();
    pg_config_defaults(&pg_cfg);
    if (getauxval(AT_SECURE)) {
        pg_disabled = 1;
        return;
    }
    pg_config_parse(&pg_cfg, get_env, warn_line);
    if (pg_cfg.disable) {
        pg_disabled = 1;
        return;
    }
    /* A relative report directory is taken from where the program started, once: a later chdir()
     * must not move the reports. */
    if (pg_cfg.dir[0] && pg_cfg.dir[0] != '/') {
        char cwd[PG_PATH_MAX], abs[PG_PATH_MAX];
        if (getcwd(cwd, sizeof cwd) &&
            (size_t)snprintf(abs, sizeof abs, "%s/%s", cwd, pg_cfg.dir) < sizeof pg_cfg.dir)
            memcpy(pg_cfg.dir, abs, strlen(abs) + 1);
        else
            pg_warn("POOLGUARD_DIR='%.64s' cannot be made absolute; it is used as it is",
                    pg_cfg.dir);
    }
    int r = pg_table_init((uint32_t)pg_cfg.max_threads);
    if (r < 0) {
        pg_warn("cannot map the thread table (%s); poolguard is off for this process",
                strerror(-r));
        pg_disabled = 1;
        return;
    }
    pg_stack_init();
    pg_glibc_gate(); /* before any hook decodes a lock word */
    pg_lo_enabled = pg_cfg.lock_order && pg_lo_init() == 0;
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    atomic_store_explicit(&pg_ready, 1, memory_order_release);
}

__attribute__((constructor(101))) static void pg_constructor(void)
{
    pg_init();
}
