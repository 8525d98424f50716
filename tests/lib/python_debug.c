/*
 * A test aid for the Python layer (tests/py/run.py uses it): with POOLGUARD_PY_DEBUG set, a thread
 * of the shim calls pg_py_inspect on a schedule and appends what it returns, as JSON lines, to a
 * file or to stderr. Without that variable this file does nothing at all.
 *
 * It uses only the layer's public interface (python.h), as the watchdog does, from a thread of its
 * own (all signals blocked, not in the thread table) started by a constructor: it is never on the
 * hook path.
 */
#include "python.h"

#include "pg.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/*
 * POOLGUARD_PY_DEBUG=<delay_ms>[,<count>[,<period_ms>]] starts a thread that calls pg_py_inspect
 * (timeout 500 ms) after delay_ms, count times, period_ms apart, and appends one JSON line per
 * call to POOLGUARD_PY_DEBUG_OUT (a file name) or to stderr. tests/py/run.py uses it.
 */
static struct pg_py_state dbg_state;
static char dbg_buf[64 * 1024];
static int dbg_delay = 1000, dbg_count = 1, dbg_period = 1000;

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
}

static void *debug_main(void *arg)
{
    (void)arg;
    pg_cur = PG_NOSLOT;
    const char *path = getenv("POOLGUARD_PY_DEBUG_OUT");
    sleep_ms(dbg_delay);
    for (int k = 0; k < dbg_count; k++) {
        if (k)
            sleep_ms(dbg_period);
        uint64_t t0 = pg_now_ns();
        int r = pg_py_inspect(&dbg_state, 500);
        uint64_t t1 = pg_now_ns();
        int fd = path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : 2;
        if (fd < 0)
            continue;
        struct pg_jw w;
        pg_jw_init(&w, fd, dbg_buf, sizeof dbg_buf);
        pg_jw_obj(&w);
        pg_jw_key(&w, "type"), pg_jw_str(&w, "python_debug");
        pg_jw_key(&w, "call"), pg_jw_int(&w, k);
        pg_jw_key(&w, "rc"), pg_jw_int(&w, r);
        pg_jw_key(&w, "elapsed_us"), pg_jw_int(&w, (long long)((t1 - t0) / 1000));
        if (r == 0)
            pg_jw_key(&w, "python"), pg_py_write_json(&w, &dbg_state);
        pg_jw_obj_end(&w);
        pg_jw_line(&w);
        if (path)
            close(fd);
    }
    return NULL;
}

__attribute__((constructor)) static void debug_start(void)
{
    const char *v = getenv("POOLGUARD_PY_DEBUG");
    if (!v || !*v)
        return;
    pg_init();
    if (pg_disabled)
        return;
    sscanf(v, "%d,%d,%d", &dbg_delay, &dbg_count, &dbg_period);
    pg_spawn(debug_main, 512 * 1024, "poolguard-pydbg");
}
