/*
 * The Python layer's entry point, pg_py_inspect, and the thread that does its work.
 *
 * The watchdog never touches the interpreter itself: it hands a request to the inspector, a
 * thread of this module started on the first request (all signals blocked, not in the thread
 * table), and waits for the answer at most timeout_ms. The inspector takes the GIL with
 * PyGILState_Ensure, reads (python_read.c), and releases it. If the GIL does not come (a thread
 * holds it and is stuck in C code), the inspector stays blocked until it does; meanwhile every
 * request is refused with -ETIMEDOUT without starting anything new, so at most one inspector
 * exists and it leaks nothing. After fork() the child starts with no inspector.
 *
 * Lock order: call_lock, then ins_lock; the inspector holds neither while it waits for the GIL
 * or reads. Locks and thread creation go through pg_real: this runs in the shim's own threads.
 */
#include "python_int.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t ins_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ins_cond; /* CLOCK_MONOTONIC; set up with the thread */
static pid_t ins_pid;           /* the process the inspector state belongs to */
static int ins_started;
static _Atomic pid_t ins_tid;
static uint64_t ins_req, ins_done;
static int ins_busy; /* a request is out and not answered */
static int ins_result;
static struct pg_py_state ins_state;

static int interpreter_usable(void)
{
    return pg_py_api.IsInitialized() && !pg_py_api.IsFinalizing();
}

static int inspect_now(struct pg_py_state *st)
{
    memset(st, 0, sizeof *st);
    memcpy(st->version, pg_py_version, sizeof st->version);
    st->hexversion = pg_py_hexversion;
    if (!interpreter_usable())
        return -EAGAIN;
    uint64_t t0 = pg_now_ns();
    /* If finalization starts while this waits, CPython ends this thread inside the call
     * (3.8-3.13); the request then stays unanswered and the caller refuses from then on. */
    int g = pg_py_api.GILState_Ensure();
    uint64_t t1 = pg_now_ns();
    int r = interpreter_usable() ? pg_py_read_interpreter(st) : -EAGAIN;
    pg_py_api.GILState_Release(g);
    st->gil_wait_ns = t1 - t0;
    st->read_ns = pg_now_ns() - t1;
    return r;
}

static void *inspector_main(void *arg)
{
    (void)arg;
    pg_cur = PG_NOSLOT;
    atomic_store(&ins_tid, (pid_t)syscall(SYS_gettid));
    pg_real.mutex_lock(&ins_lock);
    for (;;) {
        while (ins_done == ins_req)
            pg_real.cond_wait(&ins_cond, &ins_lock);
        uint64_t r = ins_req;
        pg_real.mutex_unlock(&ins_lock);
        int res = inspect_now(&ins_state);
        pg_real.mutex_lock(&ins_lock);
        ins_result = res;
        ins_done = r;
        ins_busy = 0;
        pg_real.cond_broadcast(&ins_cond);
    }
    return NULL;
}

/* After fork() the child has no inspector, whatever the parent's state said. */
static void reset_if_forked(void)
{
    pid_t me = getpid();
    if (ins_pid == me)
        return;
    pthread_mutex_init(&call_lock, NULL);
    pthread_mutex_init(&ins_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ins_cond, &ca);
    pthread_condattr_destroy(&ca);
    ins_started = 0;
    ins_busy = 0;
    ins_req = ins_done = 0;
    atomic_store(&ins_tid, 0);
    ins_pid = me;
}

static int start_inspector(void)
{
    return pg_spawn(inspector_main, 512 * 1024, "poolguard-py");
}

pid_t pg_py_inspector_tid(void)
{
    return atomic_load(&ins_tid);
}

int pg_py_inspect(struct pg_py_state *out, int timeout_ms)
{
    int r = pg_py_resolve();
    if (r < 0)
        return r;
    if (!interpreter_usable())
        return -EAGAIN;
    reset_if_forked();
    pg_real.mutex_lock(&call_lock);
    pg_real.mutex_lock(&ins_lock);
    if (ins_busy) {
        r = -ETIMEDOUT;
        goto out;
    }
    if (!ins_started) {
        if (start_inspector() < 0) {
            r = -EAGAIN;
            goto out;
        }
        ins_started = 1;
    }
    uint64_t mine = ++ins_req;
    ins_busy = 1;
    pg_real.cond_broadcast(&ins_cond);
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L)
        dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    while (ins_done != mine)
        if (pg_real.cond_timedwait(&ins_cond, &ins_lock, &dl) == ETIMEDOUT)
            break;
    if (ins_done != mine) {
        r = -ETIMEDOUT;
    } else {
        r = ins_result;
        if (r == 0)
            memcpy(out, &ins_state, sizeof *out);
    }
out:
    pg_real.mutex_unlock(&ins_lock);
    pg_real.mutex_unlock(&call_lock);
    return r;
}
