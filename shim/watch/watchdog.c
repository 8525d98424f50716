/*
 * The watchdog thread: its life cycle and its scan loop. It starts on the program's first thread
 * creation or blocking wait (pg_watchdog_ensure), and every POOLGUARD_INTERVAL_MS runs one scan
 * (scan.h): snapshot and graph (snapshot.c), findings (proof.c), pools (pool.c), Python (pyscan.c),
 * lock order (lockorder_scan.c); then writes a snapshot when `poolguard run --timeout` asks for
 * one, and ends the process once the watchdog is its last thread.
 *
 * It may allocate nothing the program could be holding locks for: it uses static buffers and
 * raw system calls, and takes only its own lock (wd_lock), which fork() also takes so that a child
 * never inherits a half-done scan. All its signals are blocked: they belong to the program.
 */
#include "lockorder.h"
#include "scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Atomic int wd_state; /* 0 not started, 1 starting/running */
static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct timespec snapshot_mtime;

static void write_snapshot(int n, uint64_t now)
{
    struct pg_jw *w = pg_report_begin();
    if (!w)
        return;
    pg_jw_obj(w);
    pg_jw_key(w, "type"), pg_jw_str(w, "snapshot");
    pg_jw_key(w, "time_unix_ms"), pg_jw_int(w, (long long)pg_unix_ms());
    pg_jw_key(w, "reason"), pg_jw_str(w, "request");
    pg_jw_key(w, "threads");
    pg_jw_arr(w);
    for (int i = 0; i < n; i++) {
        struct pg_rthread rt;
        pg_fill_rthread(&rt, i, "snapshot", now);
        pg_report_thread(w, &rt);
    }
    pg_jw_arr_end(w);
    pg_jw_obj_end(w);
    pg_report_end();
}

/* `poolguard run --timeout` asks every process for a snapshot by touching a file in POOLGUARD_DIR. */
static int snapshot_requested(void)
{
    if (!pg_cfg.dir[0])
        return 0;
    char p[PG_PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/snapshot.request", pg_cfg.dir);
    struct stat st;
    if (stat(p, &st) != 0)
        return 0;
    if (st.st_mtim.tv_sec == snapshot_mtime.tv_sec && st.st_mtim.tv_nsec == snapshot_mtime.tv_nsec)
        return 0;
    snapshot_mtime = st.st_mtim;
    return 1;
}

static void exit_if_alone(int n);

static void scan(void)
{
    uint64_t now = pg_now_ns();
    pg_note_gap(now);
    struct pg_scan sc;
    int nblocked, any_blocked;
    struct pg_gnode *g = pg_snapshot_take(&sc, now, &nblocked, &any_blocked);
    pg_proof_solve(&sc, g, nblocked, any_blocked);
    /* Pools first: an exhausted pool explains a hang better than "every thread is blocked". */
    pg_pool_scan(&sc);
    pg_pyscan(&sc);
    pg_proof_report(&sc);
    pg_lo_scan();
    if (snapshot_requested())
        write_snapshot(sc.n, now);
    exit_if_alone(sc.n);
}

/* The C library ends a process when its last thread ends (pthread_exit from main, then the other
 * threads). The watchdog must not be that last thread: once it is alone, it ends the process as
 * the C library would have, with exit(0), which runs the program's atexit handlers. */
static void exit_if_alone(int n)
{
    static unsigned tick;
    if (n > 1 || ++tick % 10 != 0)
        return;
    if (pg_live_program_threads() != 0)
        return;
    pg_real.mutex_unlock(&wd_lock);
    exit(0);
}

static void *watchdog_main(void *arg)
{
    (void)arg;
    pg_cur = PG_NOSLOT;
    pg_real.mutex_lock(&wd_lock);
    int ok = pg_snapshot_init() == 0 && pg_proof_init() == 0 && pg_pool_init(pg_table_size) == 0;
    pg_real.mutex_unlock(&wd_lock);
    if (!ok) {
        pg_warn("cannot allocate the watchdog's tables; deadlocks will not be detected");
        return NULL;
    }
    struct timespec ts = { pg_cfg.interval_ms / 1000,
                           (long)(pg_cfg.interval_ms % 1000) * 1000000L };
    for (;;) {
        while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL) == EINTR)
            ;
        pg_real.mutex_lock(&wd_lock);
        scan();
        pg_real.mutex_unlock(&wd_lock);
    }
    return NULL;
}

static void start(void)
{
    int r = pg_spawn(watchdog_main, 256 * 1024, "poolguard");
    if (r < 0)
        pg_warn("cannot start the watchdog thread (%s); deadlocks will not be detected",
                strerror(-r));
}

void pg_watchdog_ensure(void)
{
    if (PG_LIKELY(atomic_load_explicit(&wd_state, memory_order_relaxed)))
        return;
    if (pg_disabled || !atomic_load(&pg_ready))
        return;
    int expect = 0;
    if (!atomic_compare_exchange_strong(&wd_state, &expect, 1))
        return;
    struct pg_thread *me = (uintptr_t)pg_cur > 1 ? pg_cur : NULL;
    if (me)
        me->in_shim++;
    start();
    if (me)
        me->in_shim--;
}

/* fork() takes the watchdog's lock so that a child never inherits a half-done scan; but never
 * for long. A scan can wait inside the C library's loader lock (dladdr, dlsym), which a thread in
 * dlopen may hold while it waits for a lock the forking thread holds: waiting here forever would
 * be a deadlock of the shim's making. After 200 ms the fork goes on without the lock, and the
 * child, which has no watchdog yet, starts with a fresh one. */
static int fork_locked;

void pg_watchdog_fork_prepare(void)
{
    fork_locked = 0;
    if (!pg_real.mutex_timedlock)
        return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 200000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    fork_locked = pg_real.mutex_timedlock(&wd_lock, &until) == 0;
}

void pg_watchdog_fork_parent(void)
{
    if (fork_locked && pg_real.mutex_unlock)
        pg_real.mutex_unlock(&wd_lock);
}

void pg_watchdog_fork_child(void)
{
    if (fork_locked && pg_real.mutex_unlock)
        pg_real.mutex_unlock(&wd_lock);
    else
        wd_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    /* The child has no watchdog: it starts one on its first blocking wait or thread creation. */
    atomic_store(&wd_state, 0);
    pg_report_fork_child();
}

/* At exit, one last look for lock-order cycles: a short program often ends before the watchdog's
 * next scan, and an order cycle it showed is the finding it came for. Bounded: if the watchdog is in
 * the middle of a scan that does not end within 200 ms, the exit goes on without it. */
__attribute__((destructor)) static void final_scan(void)
{
    if (pg_disabled || !atomic_load(&pg_ready) || !pg_real.mutex_timedlock)
        return;
    struct pg_thread *me = (uintptr_t)pg_cur > 1 ? pg_cur : NULL;
    if (me)
        me->in_shim++;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 200000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (pg_real.mutex_timedlock(&wd_lock, &until) == 0) {
        pg_lo_scan();
        pg_real.mutex_unlock(&wd_lock);
    }
    if (me)
        me->in_shim--;
}
