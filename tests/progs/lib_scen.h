/*
 * The scenarios shared by the programs on real pool libraries (tests/progs/lib_*.c, lib_*.cpp):
 * argument parsing and one driver, so that every library runs the same stuck, growing and healthy
 * programs. Each program supplies a `struct scen_ops`: how its library makes a pool, queues a task,
 * and how a caller waits for a task the library's usual way (a future, a GCond, a semaphore...).
 *
 * Usage: prog SCENARIO [WORKERS] [shared]      (WORKERS defaults to 2; `shared` is for GLib)
 *
 * Output contract, which the tests rely on: stdout is "<prog>: ready\n" at the start and, for the
 * scenarios that end, "<prog>: done <result>\n" with a result that does not depend on timing.
 * When the last worker of a stuck pool is about to block, stderr gets
 * "<prog>: stuck at <unix ms>\n" (scripts/pool_matrix.sh measures detection from there).
 * The header compiles as C and as C++.
 */
#ifndef LIB_SCEN_H
#define LIB_SCEN_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCEN_FN static __attribute__((unused))
#define SCEN_NOINLINE __attribute__((noinline))

enum scen {
    SC_STUCK_QUEUED,        /* (a) parents queued before the workers ever went idle */
    SC_STUCK_IDLE,          /* (b) parents queued after every worker went idle */
    SC_STUCK_HEARTBEAT,     /* (c) as (b), and a thread polls in a timed wait forever */
    SC_STUCK_MAINBLOCKED,   /* (d) as (b), main blocked in pthread_join */
    SC_STUCK_MAINRUNNING,   /* (e) as (b), main keeps running (busy, then sleeping, in a loop) */
    SC_GROWTH_EXIT,         /* the queue grows 4 s, then the program ends by returning from main */
    SC_GROWTH__EXIT,        /* the same, ending through _exit */
    SC_GROWTH_NEVER,        /* the queue grows until the program is killed */
    SC_OK_MANY,             /* 200,000 short tasks */
    SC_OK_NESTED,           /* parent tasks wait for children on a different pool */
    SC_OK_LONG,             /* tasks that wait 2 s each (timed), with more queued behind them */
    SC_OK_EVENT,            /* workers wait ~2 s for an event from main, then finish */
    SC_OK_IDLE,             /* the pool sits idle for 4 s */
    SC_COUNT
};

static const char *const scen_names[SC_COUNT] = {
    "stuck-queued", "stuck-idle", "stuck-heartbeat", "stuck-mainblocked", "stuck-mainrunning",
    "growth-exit", "growth-_exit", "growth-never",
    "ok-many", "ok-nested", "ok-long", "ok-event", "ok-idle",
};

enum { SCEN_MANY = 200000, SCEN_MAX_WORKERS = 16 };

struct scen_ops {
    const char *prog;
    /* role 0: the pool of the scenario; role 1: the child pool of ok-nested. */
    void *(*pool_new)(int workers, int role);
    void (*post)(void *pool, void (*fn)(void *), void *arg);
    /* Queues fn(arg) and returns a handle that join() waits on without a time limit, then frees. */
    void *(*spawn)(void *pool, void (*fn)(void *), void *arg);
    void (*join)(void *handle);
    /* A one-shot event in the library's own primitives: many may wait, one sets it. */
    void *(*event_new)(void);
    void (*event_set)(void *ev);
    void (*event_wait)(void *ev);
    /* Healthy end: stop the workers and free the pool (NULL: leave it to the process's exit). */
    void (*pool_end)(void *pool);
};

static const struct scen_ops *scen_ops_;
static int scen_workers = 2;
static int scen_shared;   /* GLib: a shared pool instead of an exclusive one */
static void *scen_pool, *scen_child_pool;

SCEN_FN long scen_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

SCEN_FN long scen_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

SCEN_FN void scen_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void scen_usage(const char *prog)
{
    fprintf(stderr, "usage: %s SCENARIO [WORKERS] [shared]\nscenarios:", prog);
    for (int i = 0; i < SC_COUNT; i++)
        fprintf(stderr, " %s", scen_names[i]);
    fputc('\n', stderr);
    exit(2);
}

static enum scen scen_parse(const struct scen_ops *ops, int argc, char **argv)
{
    scen_ops_ = ops;
    if (argc < 2)
        scen_usage(ops->prog);
    int sc = -1;
    for (int i = 0; i < SC_COUNT; i++)
        if (!strcmp(argv[1], scen_names[i]))
            sc = i;
    if (sc < 0)
        scen_usage(ops->prog);
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "shared"))
            scen_shared = 1;
        else if ((scen_workers = atoi(argv[i])) < 1 || scen_workers > SCEN_MAX_WORKERS)
            scen_usage(ops->prog);
    }
    return (enum scen)sc;
}

/* --- counters shared by tasks (GCC atomics work in C and C++ alike) --- */
static int scen_started, scen_blocked, scen_warm;
static long scen_sum, scen_ran, scen_posted;
static volatile int scen_stopping;

static pthread_mutex_t scen_latch_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t scen_latch_c = PTHREAD_COND_INITIALIZER;

/* Every one of n tasks waits here until all n run: so n distinct workers hold one each. */
SCEN_FN void scen_rendezvous(int *counter, int n)
{
    __atomic_add_fetch(counter, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) < n)
        scen_sleep_ms(1);
}

/* --- the tasks --- */
SCEN_NOINLINE void child_task(void *arg)
{
    __atomic_add_fetch(&scen_sum, (long)(size_t)arg, __ATOMIC_SEQ_CST);
}

/* A task that submits a subtask to its own pool and waits for it: with every worker doing so,
 * the subtasks stay queued for ever. */
SCEN_NOINLINE void parent_task(void *arg)
{
    scen_rendezvous(&scen_started, scen_workers);
    void *h = scen_ops_->spawn(scen_pool, child_task, arg);
    if (__atomic_add_fetch(&scen_blocked, 1, __ATOMIC_SEQ_CST) == scen_workers) {
        fprintf(stderr, "%s: stuck at %ld\n", scen_ops_->prog, scen_unix_ms());
        fflush(stderr);
    }
    scen_ops_->join(h);
}

SCEN_NOINLINE void warm_task(void *arg)
{
    (void)arg;
    scen_rendezvous(&scen_warm, scen_workers);
}

/* A task of ok-many: the last one to finish opens main's latch. */
SCEN_NOINLINE void short_task(void *arg)
{
    __atomic_add_fetch(&scen_sum, (long)(size_t)arg % 7, __ATOMIC_SEQ_CST);
    if (__atomic_add_fetch(&scen_ran, 1, __ATOMIC_SEQ_CST) == SCEN_MANY) {
        pthread_mutex_lock(&scen_latch_m);
        pthread_cond_broadcast(&scen_latch_c);
        pthread_mutex_unlock(&scen_latch_m);
    }
}

/* A task of ok-nested: waits for a child on the other pool, which is the right way to nest. */
SCEN_NOINLINE void nesting_task(void *arg)
{
    void *h = scen_ops_->spawn(scen_child_pool, child_task, arg);
    scen_ops_->join(h);
}

/* A task of ok-long: one timed wait of 2 s that nobody ends early. */
SCEN_NOINLINE void long_task(void *arg)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    pthread_mutex_lock(&m);
    while (pthread_cond_timedwait(&c, &m, &until) == 0)
        ;
    pthread_mutex_unlock(&m);
    child_task(arg);
}

static void *scen_event;

/* A task of ok-event: waits, untimed, for main's event. */
SCEN_NOINLINE void event_task(void *arg)
{
    scen_ops_->event_wait(scen_event);
    child_task(arg);
}

/* A task of the growth scenarios: a slow task, and a no-op once the program is stopping. */
SCEN_NOINLINE void slow_task(void *arg)
{
    (void)arg;
    if (!scen_stopping)
        scen_sleep_ms(2);
    __atomic_add_fetch(&scen_ran, 1, __ATOMIC_SEQ_CST);
}

/* --- what the other threads do --- */
static void *scen_heartbeat(void *arg)
{
    (void)arg;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    pthread_mutex_lock(&m);
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c, &m, &until);
    }
    return NULL;
}

static void *scen_handles[SCEN_MAX_WORKERS * 4];

static void *scen_collect(void *arg)
{
    int n = *(int *)arg;
    for (int i = 0; i < n; i++)
        scen_ops_->join(scen_handles[i]);
    return NULL;
}

SCEN_FN void scen_ready(void)
{
    printf("%s: ready\n", scen_ops_->prog);
    fflush(stdout);
}

SCEN_FN void scen_done(long result)
{
    printf("%s: done %ld\n", scen_ops_->prog, result);
    fflush(stdout);
}

/* Every worker runs a warm-up task at once, then they all go idle. */
static void scen_warm_up(void)
{
    for (int i = 0; i < scen_workers; i++)
        scen_handles[i] = scen_ops_->spawn(scen_pool, warm_task, NULL);
    for (int i = 0; i < scen_workers; i++)
        scen_ops_->join(scen_handles[i]);
    scen_sleep_ms(300);
}

static int scen_run_stuck(enum scen sc)
{
    int n = scen_workers;
    scen_pool = scen_ops_->pool_new(n, 0);
    if (sc != SC_STUCK_QUEUED)
        scen_warm_up();
    pthread_t t;
    if (sc == SC_STUCK_HEARTBEAT)
        pthread_create(&t, NULL, scen_heartbeat, NULL);
    for (int i = 0; i < n; i++)
        scen_handles[i] = scen_ops_->spawn(scen_pool, parent_task, (void *)(size_t)(i + 1));
    if (sc == SC_STUCK_MAINBLOCKED) {
        pthread_create(&t, NULL, scen_collect, &n);
        pthread_join(t, NULL);
    } else if (sc == SC_STUCK_MAINRUNNING) {
        for (volatile unsigned long spin = 0;; spin++)
            if (spin % (1UL << 22) == 0)
                scen_sleep_ms(5);
    } else {
        scen_collect(&n);
    }
    scen_done(scen_sum);   /* never reached */
    return 0;
}

static int scen_run_growth(enum scen sc)
{
    scen_pool = scen_ops_->pool_new(scen_workers, 0);
    long end = scen_mono_ms() + 4000;
    while (sc == SC_GROWTH_NEVER || scen_mono_ms() < end) {
        for (int i = 0; i < 40; i++) {
            scen_ops_->post(scen_pool, slow_task, NULL);
            scen_posted++;
        }
        scen_sleep_ms(1);
    }
    /* Stop: what is left runs as no-ops, so the library's exit-time clean-up is quick. */
    scen_stopping = 1;
    while (__atomic_load_n(&scen_ran, __ATOMIC_SEQ_CST) < scen_posted)
        scen_sleep_ms(5);
    printf("%s: done growth\n", scen_ops_->prog);
    fflush(stdout);
    if (sc == SC_GROWTH__EXIT)
        _exit(0);
    return 0;
}

static int scen_run_ok(enum scen sc)
{
    int n = scen_workers;
    scen_pool = scen_ops_->pool_new(n, 0);
    long total = 0;
    switch (sc) {
    case SC_OK_MANY:
        for (long i = 0; i < SCEN_MANY; i++)
            scen_ops_->post(scen_pool, short_task, (void *)(size_t)i);
        pthread_mutex_lock(&scen_latch_m);
        while (__atomic_load_n(&scen_ran, __ATOMIC_SEQ_CST) < SCEN_MANY)
            pthread_cond_wait(&scen_latch_c, &scen_latch_m);
        pthread_mutex_unlock(&scen_latch_m);
        break;
    case SC_OK_NESTED:
        scen_child_pool = scen_ops_->pool_new(n, 1);
        for (int round = 0; round < 50; round++) {
            for (int i = 0; i < 4 * n; i++)
                scen_handles[i] = scen_ops_->spawn(scen_pool, nesting_task, (void *)(size_t)(i + 1));
            for (int i = 0; i < 4 * n; i++)
                scen_ops_->join(scen_handles[i]);
        }
        if (scen_ops_->pool_end)
            scen_ops_->pool_end(scen_child_pool);
        break;
    case SC_OK_LONG:
        for (int i = 0; i < 2 * n; i++)
            scen_handles[i] = scen_ops_->spawn(scen_pool, long_task, (void *)(size_t)(i + 1));
        for (int i = 0; i < 2 * n; i++)
            scen_ops_->join(scen_handles[i]);
        break;
    case SC_OK_EVENT:
        scen_event = scen_ops_->event_new();
        for (int i = 0; i < n; i++)
            scen_handles[i] = scen_ops_->spawn(scen_pool, event_task, (void *)(size_t)(i + 1));
        for (int i = n; i < 2 * n; i++)
            scen_handles[i] = scen_ops_->spawn(scen_pool, child_task, (void *)(size_t)(i + 1));
        scen_sleep_ms(2000);
        scen_ops_->event_set(scen_event);
        for (int i = 0; i < 2 * n; i++)
            scen_ops_->join(scen_handles[i]);
        break;
    case SC_OK_IDLE:
        scen_warm_up();
        scen_sleep_ms(4000);
        scen_handles[0] = scen_ops_->spawn(scen_pool, child_task, (void *)(size_t)1);
        scen_ops_->join(scen_handles[0]);
        break;
    default:
        abort();
    }
    total = scen_sum;
    if (scen_ops_->pool_end)
        scen_ops_->pool_end(scen_pool);
    scen_done(total);
    return 0;
}

/* The whole program after the library's ops: parse, announce, run the scenario. */
SCEN_FN int scen_main(const struct scen_ops *ops, int argc, char **argv)
{
    enum scen sc = scen_parse(ops, argc, argv);
    scen_ready();
    if (sc <= SC_STUCK_MAINRUNNING)
        return scen_run_stuck(sc);
    if (sc <= SC_GROWTH_NEVER)
        return scen_run_growth(sc);
    return scen_run_ok(sc);
}

/* --- spawn/join from post and an event, for libraries with no futures of their own --- */
struct scen_job {
    void (*fn)(void *);
    void *arg;
    void *done;
};

SCEN_NOINLINE void scen_job_run(void *p)
{
    struct scen_job *j = (struct scen_job *)p;
    j->fn(j->arg);
    scen_ops_->event_set(j->done);
}

SCEN_FN void *scen_spawn_with_event(void *pool, void (*fn)(void *), void *arg)
{
    struct scen_job *j = (struct scen_job *)calloc(1, sizeof *j);
    j->fn = fn;
    j->arg = arg;
    j->done = scen_ops_->event_new();
    scen_ops_->post(pool, scen_job_run, j);
    return j;
}

/* The job and its event are not freed: the worker may still be inside event_set. Tests are short. */
SCEN_FN void scen_join_with_event(void *h)
{
    struct scen_job *j = (struct scen_job *)h;
    scen_ops_->event_wait(j->done);
}

#endif
