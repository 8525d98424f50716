/*
 * The pool rules (shim/detect/poolinfer.c) replayed on traces of real programs (tests/data/traces/,
 * recorded with POOLGUARD_TRACE by tests/data/traces/record.sh), and driven by hand-made scans for
 * the edge rules. Each trace is held to the proof standard of docs/design.md: a stuck pool with
 * proof is an error with that proof, an inferred one a warning at most, a healthy one gets no
 * verdict at all (not even info). Replaying also checks the recorder: the replayed verdicts must be
 * the ones the live scan wrote into the trace. No program runs: the suite takes milliseconds.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolinfer.h"

#define TRACE_DIR "tests/data/traces/"
#define MAXT 512

/* What a replay found, over every scan of a trace. */
struct result {
    int scans;
    int verdicts;
    int worst;                    /* highest severity seen, -1 if none */
    char worst_desc[128];         /* kind/severity/proof of the first verdict at that severity */
    int kinds[4][3][5];           /* count per kind, severity, proof */
    int mismatches;               /* scans whose replayed verdicts differ from the recorded ones */
    char mismatch[256];
    long max_queued_error;
};

static struct pg_pi_thread th[MAXT];
static struct pg_pi_pool pools[256];
static struct pg_pi_in in;
static struct pg_pi_state state;
static struct pg_pi_out out;

static uint64_t hexval(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? strtoull(s, NULL, 16) : 0;
}

static long long intval(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void load_thread(struct pg_pi_thread *t, json_t *o)
{
    memset(t, 0, sizeof *t);
    t->tid = (int32_t)intval(o, "tid");
    t->gen = (uint32_t)intval(o, "gen");
    t->key = hexval(o, "key");
    t->cls = (uint32_t)intval(o, "class");
    t->pool = hexval(o, "pool");
    t->exact_idle = (int)intval(o, "exact_idle");
    t->waiting = (int)intval(o, "waiting");
    t->timed = (int)intval(o, "timed");
    t->wkind = (uint32_t)intval(o, "kind");
    t->lockwait = (int)intval(o, "lockwait");
    t->wobj = hexval(o, "obj");
    t->seq = (uint64_t)intval(o, "seq");
    t->since_ns = (uint64_t)intval(o, "since");
    t->stuck = (int)intval(o, "stuck");
    t->confirmed = (int)intval(o, "confirmed");
    t->finding = json_object_get(o, "finding") ? (int)intval(o, "finding") : -1;
    t->finding_hang = (int)intval(o, "hang");
    t->reported = (int)intval(o, "reported");
    t->runnable = json_object_get(o, "runnable") ? (int)intval(o, "runnable") : PG_PI_UNREAD;
    size_t k;
    json_t *e;
    json_array_foreach(json_object_get(o, "hist"), k, e) {
        if (k >= PG_PI_HIST)
            break;
        t->hist[k].obj = strtoull(json_string_value(json_array_get(e, 0)), NULL, 16);
        t->hist[k].count = (uint32_t)json_integer_value(json_array_get(e, 1));
        t->hist[k].kind = (uint32_t)json_integer_value(json_array_get(e, 2));
    }
    json_array_foreach(json_object_get(o, "lost"), k, e) {
        if (k >= PG_PI_LOST)
            break;
        t->lost[k].obj = strtoull(json_string_value(json_array_get(e, 0)), NULL, 16);
        t->lost[k].count = (uint32_t)json_integer_value(json_array_get(e, 1));
        t->lost[k].kind = (uint32_t)json_integer_value(json_array_get(e, 2));
        t->lost[k].seq = (uint64_t)json_integer_value(json_array_get(e, 3));
    }
    t->ann_task = hexval(o, "task");
    t->ann_task_fn = hexval(o, "task_fn");
    t->ann_wait_task = hexval(o, "wait_task");
    t->sub_pool = hexval(o, "sub_pool");
    t->sub_task = hexval(o, "sub_task");
    t->sub_seq = (uint64_t)intval(o, "sub_seq");
    t->wait_task_queued_in = hexval(o, "wait_task_queued_in");
    t->sub_task_queued_in = hexval(o, "sub_task_queued_in");
}

/* Fills the input from one trace line; 0 on success. */
static int load_scan(json_t *r)
{
    memset(&in, 0, sizeof in);
    in.scan = (uint64_t)intval(r, "scan");
    in.now_ns = (uint64_t)intval(r, "now");
    in.interval_ms = (int)intval(r, "interval_ms");
    in.stall_ms = (int)intval(r, "stall_ms");
    in.queue_limit = (long)intval(r, "queue_limit");
    in.rss_kb = (uint64_t)intval(r, "rss_kb");   /* absent in older traces: unknown */
    size_t k;
    json_t *e;
    json_array_foreach(json_object_get(r, "gaps"), k, e) {
        if (in.ngaps == PG_PI_MAX_GAPS)
            break;
        in.gaps[in.ngaps].start = (uint64_t)json_integer_value(json_array_get(e, 0));
        in.gaps[in.ngaps].len = (uint64_t)json_integer_value(json_array_get(e, 1));
        in.ngaps++;
    }
    in.pools = pools;
    json_array_foreach(json_object_get(r, "pools"), k, e) {
        if (in.npools == 256)
            break;
        struct pg_pi_pool *p = &pools[in.npools++];
        p->handle = hexval(e, "handle");
        p->adapter = json_is_true(json_object_get(e, "adapter"));
        p->workers = (int)intval(e, "workers");
        p->submitted = (uint64_t)intval(e, "submitted");
        p->started = (uint64_t)intval(e, "started");
        p->done = (uint64_t)intval(e, "done");
    }
    json_array_foreach(json_object_get(r, "sems"), k, e) {
        if (in.nsems == PG_PI_MAX_SEMS)
            break;
        in.sems[in.nsems].obj = hexval(e, "obj");
        in.sems[in.nsems].value = (long)intval(e, "value");
        in.nsems++;
    }
    in.threads = th;
    json_array_foreach(json_object_get(r, "threads"), k, e) {
        if (in.nthreads == MAXT)
            return -1;
        load_thread(&th[in.nthreads++], e);
    }
    return 0;
}

static int proof_of(const char *s)
{
    for (int p = 0; p <= PG_PI_PROOF_INFERRED; p++)
        if (!strcmp(pg_pi_proof_name(p), s))
            return p;
    return -1;
}

/* Replays a whole trace from an empty state. */
static void replay(const char *name, struct result *res)
{
    char path[256];
    snprintf(path, sizeof path, TRACE_DIR "%s.trace", name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f, "%s: cannot open", path);
    memset(res, 0, sizeof *res);
    res->worst = -1;
    memset(&state, 0, sizeof state);
    static char line[1 << 20];
    while (fgets(line, sizeof line, f)) {
        json_error_t err;
        json_t *r = json_loads(line, 0, &err);
        ck_assert_msg(r, "%s:%d: %s", path, res->scans + 1, err.text);
        ck_assert_int_eq(intval(r, "v"), 1);
        ck_assert_msg(load_scan(r) == 0, "%s: too many threads", path);
        pg_pi_scan(&in, &state, &out);
        res->scans++;
        json_t *live = json_object_get(r, "verdicts");
        int same = (size_t)out.nverdicts == json_array_size(live);
        for (int v = 0; v < out.nverdicts; v++) {
            const struct pg_pi_verdict *vd = &out.verdicts[v];
            res->verdicts++;
            res->kinds[vd->kind][vd->severity][vd->proof]++;
            if (vd->severity > res->worst) {
                res->worst = vd->severity;
                snprintf(res->worst_desc, sizeof res->worst_desc, "%s/%s/%s", pg_pi_kind_name(vd->kind),
                         pg_pi_severity_name(vd->severity), pg_pi_proof_name(vd->proof));
            }
            if (vd->severity == PG_PI_ERROR && vd->queued > res->max_queued_error)
                res->max_queued_error = vd->queued;
            json_t *lv = json_array_get(live, (size_t)v);
            if (!lv || strcmp(json_string_value(json_object_get(lv, "kind")), pg_pi_kind_name(vd->kind)) ||
                strcmp(json_string_value(json_object_get(lv, "severity")),
                       pg_pi_severity_name(vd->severity)) ||
                proof_of(json_string_value(json_object_get(lv, "proof"))) != vd->proof ||
                intval(lv, "queued") != vd->queued)
                same = 0;
        }
        if (!same && !res->mismatches++)
            snprintf(res->mismatch, sizeof res->mismatch, "scan %lld: live %s, replayed %d verdicts",
                     intval(r, "scan"), json_dumps(live, JSON_COMPACT), out.nverdicts);
        json_decref(r);
    }
    fclose(f);
    ck_assert_msg(res->scans > 0, "%s: empty trace", path);
}

/* Expected outcome of a trace. */
enum expect { HEALTHY, UNPROVEN, WARNING_INFERRED, ERROR_GRAPH, ERROR_EXACT, GROWTH_INFERRED,
              GROWTH_EXACT, STALL_ONLY };

struct trace_case {
    const char *name;
    enum expect expect;
};

static const struct trace_case cases[] = {
    /* Inferred pools, stuck: a warning with main running, the graph's proof with main waiting. */
    {"flood", WARNING_INFERRED},
    {"flood_heartbeat", WARNING_INFERRED},
    {"flood_immediate", WARNING_INFERRED},
    {"flood_mainwait", ERROR_GRAPH},
    {"sem", WARNING_INFERRED},
    {"cxx", WARNING_INFERRED},
    {"lib_condpool_stuck_running", WARNING_INFERRED},
    {"lib_sempool_stuck_running", WARNING_INFERRED},
    {"lib_cxxpool_stuck_running", WARNING_INFERRED},
    {"lib_condpool_stuck_blocked", ERROR_GRAPH},
    {"lib_sempool_stuck_blocked", ERROR_GRAPH},
    {"lib_cxxpool_stuck_blocked", ERROR_GRAPH},
    {"lib_asio_stuck_blocked", ERROR_GRAPH},
    /* Pools known exactly. */
    {"annotated", ERROR_EXACT},
    {"lib_glib_stuck_blocked", ERROR_GRAPH},
    {"lib_glib_stuck_running", ERROR_EXACT},
    {"lib_uv_stuck_blocked", ERROR_EXACT},     /* workers linked to the loop's submissions */
    {"lib_uv_stuck_running", ERROR_EXACT},
    {"lib_tbb_stuck_blocked", ERROR_GRAPH},    /* the whole program blocks first */
    {"lib_tbb_stuck_running", ERROR_EXACT},
    /* Stuck, nothing proven within the trace: a stall (info) at most. */
    {"uv", STALL_ONLY},
    {"glib", STALL_ONLY},
    {"lib_asio_stuck_running", STALL_ONLY},
    /* Growing queues. */
    {"growth", GROWTH_INFERRED},
    {"lib_sempool_growth", GROWTH_INFERRED},
    {"lib_cxxpool_growth", GROWTH_INFERRED},
    {"lib_condpool_growth", GROWTH_INFERRED},   /* workers never idle: the object main feeds */
    {"lib_tbb_growth", GROWTH_EXACT},
    {"lib_uv_growth", GROWTH_EXACT},
    {"lib_glib_growth", GROWTH_EXACT},
    /* Healthy programs that block a lot. */
    {"ok_nested", HEALTHY},
    {"ok_event", HEALTHY},
    {"ok_idle", HEALTHY},
    {"lib_condpool_ok_long", HEALTHY},
    {"lib_sempool_ok_long", HEALTHY},
    {"lib_cxxpool_ok_long", HEALTHY},
    {"lib_uv_ok_long", HEALTHY},
    {"lib_glib_ok_long", HEALTHY},
    {"lib_tbb_ok_long", HEALTHY},
    {"lib_asio_ok_long", HEALTHY},
};

static int count(const struct result *r, int kind, int sev, int proof)
{
    return r->kinds[kind][sev][proof];
}

START_TEST(test_pool_trace_replays_to_the_verdict_the_proof_standard_demands)
{
    const struct trace_case *c = &cases[_i];
    struct result r;
    replay(c->name, &r);
    const char *n = c->name;
    /* Whatever the trace: an error carries a proof, inference never gives more than a warning. */
    for (int k = 1; k <= 3; k++) {
        ck_assert_msg(!count(&r, k, PG_PI_ERROR, PG_PI_PROOF_INFERRED) &&
                      !count(&r, k, PG_PI_ERROR, PG_PI_PROOF_NONE), "%s: an error without proof", n);
        ck_assert_msg(!count(&r, k, PG_PI_WARNING, PG_PI_PROOF_NONE), "%s: a warning without proof", n);
    }
    ck_assert_msg(r.mismatches == 0, "%s: replay differs from the live scans in %d scans; first: %s", n,
                  r.mismatches, r.mismatch);
    switch (c->expect) {
    case HEALTHY:
        ck_assert_msg(r.verdicts == 0, "%s: healthy, yet %d verdicts (%s)", n, r.verdicts, r.worst_desc);
        break;
    case UNPROVEN:
        ck_assert_msg(r.worst < PG_PI_ERROR, "%s: nothing proven, yet %s", n, r.worst_desc);
        break;
    case STALL_ONLY:
        ck_assert_msg(r.worst == PG_PI_INFO && count(&r, PG_PI_STALL, PG_PI_INFO, PG_PI_PROOF_NONE) == 1,
                      "%s: expected one stall (info) and nothing else, got %s", n, r.worst_desc);
        break;
    case WARNING_INFERRED:
        ck_assert_msg(r.worst == PG_PI_WARNING &&
                      count(&r, PG_PI_EXHAUSTION, PG_PI_WARNING, PG_PI_PROOF_INFERRED) == 1,
                      "%s: expected one inferred exhaustion warning, got %s", n, r.worst_desc);
        break;
    case ERROR_GRAPH:
    case ERROR_EXACT: {
        int proof = c->expect == ERROR_GRAPH ? PG_PI_PROOF_GRAPH : PG_PI_PROOF_EXACT;
        ck_assert_msg(count(&r, PG_PI_EXHAUSTION, PG_PI_ERROR, proof) == 1,
                      "%s: expected one pool_exhaustion error with proof %s, got %s", n,
                      pg_pi_proof_name(proof), r.worst_desc);
        if (proof == PG_PI_PROOF_EXACT)
            ck_assert_msg(r.max_queued_error >= 1, "%s: an exact error with nothing queued", n);
        break;
    }
    case GROWTH_INFERRED:
    case GROWTH_EXACT: {
        int proof = c->expect == GROWTH_EXACT ? PG_PI_PROOF_EXACT : PG_PI_PROOF_INFERRED;
        ck_assert_msg(r.worst == PG_PI_WARNING && count(&r, PG_PI_GROWTH, PG_PI_WARNING, proof) == 1 &&
                      r.verdicts == 1, "%s: expected one queue_growth warning (%s), got %d verdicts, %s",
                      n, pg_pi_proof_name(proof), r.verdicts, r.worst_desc);
        break;
    }
    }
}
END_TEST

/* Hand-made scans. */

#define SEC 1000000000ull

static void scan_reset(int n)
{
    memset(th, 0, sizeof th);
    memset(&in, 0, sizeof in);
    memset(&state, 0, sizeof state);
    in.scan = 1;
    in.now_ns = 100 * SEC;
    in.interval_ms = 100;
    in.stall_ms = 10000;
    in.queue_limit = 10000;
    in.threads = th;
    in.nthreads = n;
    in.pools = pools;
    for (int i = 0; i < n; i++) {
        th[i].tid = 100 + i;
        th[i].gen = 1;
        th[i].finding = -1;
        th[i].runnable = 0;
        th[i].seq = 2;
    }
}

/* Thread i, started by routine key, blocked untimed on a condition variable since 90 s. */
static void worker(int i, uint64_t key, uintptr_t waits_on)
{
    th[i].key = key;
    th[i].cls = PG_PI_CLASS_PLAIN;
    th[i].waiting = 1;
    th[i].wkind = 5;
    th[i].wobj = waits_on;
    th[i].seq = 7;
    th[i].since_ns = 90 * SEC;
}

static void stuck(int i)
{
    th[i].stuck = th[i].confirmed = 1;
}

/* Runs the same scan twice (an error needs the same waits at two scans); the verdicts of the
 * second. */
static void scan_twice(void)
{
    pg_pi_scan(&in, &state, &out);
    in.scan++;
    in.now_ns += SEC / 10;
    pg_pi_scan(&in, &state, &out);
}

static int grouped(void)
{
    int n = 0;
    for (int g = 0; g < out.ngroups; g++)
        n += out.groups[g].n > 0;
    return n;
}

START_TEST(test_pool_trace_two_stuck_workers_are_a_proven_pool)
{
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    worker(1, 0x11, 0xa8);
    stuck(0), stuck(1);
    scan_twice();
    ck_assert_int_eq(grouped(), 1);
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].severity, PG_PI_ERROR);
    ck_assert_int_eq(out.verdicts[0].proof, PG_PI_PROOF_GRAPH);
    ck_assert(th[0].mark && th[1].mark);
}
END_TEST

/* Each thread alone with its routine: never an inferred pool on inference alone, however long it
 * blocks and whatever its history: no warning, no stall. */
START_TEST(test_pool_trace_single_thread_is_never_an_inferred_pool)
{
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    worker(1, 0x22, 0xa8);       /* another routine */
    th[0].lost[0].obj = 0xb0, th[0].lost[0].count = 5, th[0].lost[0].seq = 6;
    th[0].hist[0].obj = 0xb0, th[0].hist[0].count = 9, th[0].hist[0].kind = 5;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
    for (int g = 0; g < out.ngroups; g++)
        ck_assert(out.groups[g].n == 0 || out.groups[g].single);
    in.now_ns += 200 * SEC;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
    /* Proven stuck, it is an error, described as its pool's: it queued work on its own idle
     * object, then blocked on another (the one-worker pool waiting for its own subtask). */
    stuck(0), stuck(1);
    in.scan++;
    in.now_ns += SEC;
    pg_pi_scan(&in, &state, &out);   /* the same waits were seen before: no second look needed */
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].proof, PG_PI_PROOF_GRAPH);
    ck_assert_int_eq(out.verdicts[0].queued, 5);
}
END_TEST

/* Two busy workers that never go idle while main keeps signalling their work condition: the
 * inferred depth climbs past the limit either way; only a process that grows with it is a queue
 * that really grows. */
static int saturated_pool_growth_of(uint64_t rss_growth_kb, int went_idle, int pools)
{
    scan_reset(1 + 2 * pools);
    for (int i = 0; i < 2 * pools; i++) {
        th[i + 1].key = 0x11 + (uint64_t)(i / 2);     /* pools of two workers */
        th[i + 1].cls = PG_PI_CLASS_PLAIN;
        th[i + 1].waiting = 0;                        /* running tasks */
        if (went_idle)
            th[i + 1].hist[0].obj = 0xa0, th[i + 1].hist[0].count = 3, th[i + 1].hist[0].kind = 5;
    }
    struct pg_pi_thread *main_th = &th[0];
    main_th->waiting = 0;                             /* main, submitting */
    main_th->lost[0].obj = 0xa0, main_th->lost[0].kind = 5;
    in.queue_limit = 1000;
    in.rss_kb = 50000;
    int found = 0;
    for (int k = 0; k <= 40; k++) {                   /* 4 s, 500 more signals a scan */
        main_th->lost[0].count = 500 * (uint32_t)k;
        in.rss_kb = 50000 + rss_growth_kb * (uint64_t)k / 40;
        pg_pi_scan(&in, &state, &out);
        for (int v = 0; v < out.nverdicts; v++)
            found += out.verdicts[v].kind == PG_PI_GROWTH;
        in.scan++;
        in.now_ns += SEC / 10;
    }
    return found;
}

static int saturated_pool_growth(uint64_t rss_growth_kb)
{
    return saturated_pool_growth_of(rss_growth_kb, 1, 1);
}

START_TEST(test_pool_trace_inferred_growth_needs_the_process_to_grow)
{
    ck_assert_int_eq(saturated_pool_growth(0), 0);
    ck_assert_int_eq(saturated_pool_growth(200), 0);
    ck_assert_int_eq(saturated_pool_growth(8192), 1);
}
END_TEST

/* Workers flooded before they ever waited: the object main keeps signalling unheard feeds the one
 * pool whose workers are all busy; with two such pools nothing says which, and nothing is said. */
START_TEST(test_pool_trace_never_idle_pool_grows_through_the_object_main_feeds)
{
    ck_assert_int_eq(saturated_pool_growth_of(8192, 0, 1), 1);
    ck_assert_int_eq(saturated_pool_growth_of(0, 0, 1), 0);
    ck_assert_int_eq(saturated_pool_growth_of(8192, 0, 2), 0);
}
END_TEST

/* A thread the graph proves stuck, whose usual wait object other threads fed work to while it was
 * busy: the proven hang is described as that one-thread pool's exhaustion. */
START_TEST(test_pool_trace_proven_single_consumer_with_queued_work_is_its_pool)
{
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    stuck(0);
    th[0].hist[0].obj = 0xb0, th[0].hist[0].count = 9, th[0].hist[0].kind = 5;
    th[1].waiting = 0;           /* the producer, running, with two signals nobody heard */
    th[1].lost[0].obj = 0xb0, th[1].lost[0].count = 2, th[1].lost[0].seq = 1, th[1].lost[0].kind = 5;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].kind, PG_PI_EXHAUSTION);
    ck_assert_int_eq(out.verdicts[0].severity, PG_PI_ERROR);
    ck_assert_int_eq(out.verdicts[0].proof, PG_PI_PROOF_GRAPH);
    ck_assert_int_eq(out.verdicts[0].queued, 2);
    /* Without the graph's proof, nothing. */
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    th[0].hist[0].obj = 0xb0, th[0].hist[0].count = 9, th[0].hist[0].kind = 5;
    th[1].waiting = 0;
    th[1].lost[0].obj = 0xb0, th[1].lost[0].count = 2, th[1].lost[0].seq = 1, th[1].lost[0].kind = 5;
    in.now_ns += 200 * SEC;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
}
END_TEST

/* A worker that signals its task's completion (nobody waits yet) and goes back to its idle wait is
 * not submitting work: its wait is on the object every worker always waits on. */
START_TEST(test_pool_trace_completion_signal_before_the_idle_wait_is_not_a_submission)
{
    scan_reset(3);
    for (int i = 0; i < 2; i++) {
        worker(i, 0x11, 0xa0);                       /* the pool's work condition */
        th[i].hist[0].obj = 0xa0, th[i].hist[0].count = 2, th[i].hist[0].kind = 5;
        th[i].lost[0].obj = 0xc0 + 8 * (uintptr_t)i; /* the task's done condition, signalled unheard */
        th[i].lost[0].count = 1, th[i].lost[0].seq = 6, th[i].lost[0].kind = 5;
    }
    th[2].waiting = 0;                               /* main signals them again, unheard */
    th[2].lost[0].obj = 0xc0, th[2].lost[0].count = 1, th[2].lost[0].kind = 5;
    th[2].lost[1].obj = 0xc8, th[2].lost[1].count = 1, th[2].lost[1].kind = 5;
    in.now_ns += 200 * SEC;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
}
END_TEST

START_TEST(test_pool_trace_runtime_threads_are_never_grouped)
{
    scan_reset(3);
    for (int i = 0; i < 3; i++) {
        worker(i, 0x33, 0xa0 + 8 * (uintptr_t)i);
        th[i].cls = PG_PI_CLASS_RUNTIME;
        stuck(i);
    }
    scan_twice();
    ck_assert_int_eq(grouped(), 0);
    ck_assert_int_eq(out.nverdicts, 0);
}
END_TEST

START_TEST(test_pool_trace_a_runnable_worker_blocks_an_error)
{
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    worker(1, 0x11, 0xa8);
    stuck(0), stuck(1);
    th[1].runnable = 1;          /* woken: not stuck, however long it takes to run */
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
    /* Once it is asleep again in the very same wait, the proof holds. */
    th[1].runnable = 0;
    in.scan++;
    pg_pi_scan(&in, &state, &out);
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].severity, PG_PI_ERROR);
}
END_TEST

START_TEST(test_pool_trace_unread_run_state_is_asked_for_once)
{
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    worker(1, 0x11, 0xa8);
    stuck(0), stuck(1);
    th[0].runnable = th[1].runnable = PG_PI_UNREAD;
    pg_pi_scan(&in, &state, &out);
    /* First scan: the waits were not seen before, so nobody asks. */
    ck_assert_int_eq(th[0].runnable, PG_PI_UNREAD);
    in.scan++;
    pg_pi_scan(&in, &state, &out);
    /* No reader (a replay): unknown, which is not runnable. */
    ck_assert_int_eq(th[0].runnable, -1);
    ck_assert_int_eq(out.nverdicts, 1);
}
END_TEST

/* An inferred semaphore pool: workers wait on their own objects after posting the queue
 * semaphore 0xc0, where they used to wait for work. */
static void sem_pool(long sem_value, uint32_t posts)
{
    scan_reset(3);
    for (int i = 0; i < 2; i++) {
        worker(i, 0x44, 0xa0 + 8 * (uintptr_t)i);
        th[i].hist[0].obj = 0xc0, th[i].hist[0].count = 3, th[i].hist[0].kind = PG_PI_W_SEM;
    }
    th[0].lost[0].obj = 0xc0, th[0].lost[0].count = posts, th[0].lost[0].kind = PG_PI_W_SEM;
    th[0].lost[0].seq = th[0].seq - 1;   /* posted, then blocked: submit then wait */
    in.nsems = 1;
    in.sems[0].obj = 0xc0;
    in.sems[0].value = sem_value;
}

START_TEST(test_pool_trace_semaphore_queue_never_exceeds_lost_posts)
{
    sem_pool(100, 3);            /* memory that is no longer the semaphore says 100 */
    scan_twice();
    ck_assert_int_eq(grouped(), 1);
    ck_assert_int_eq(out.groups[0].queued, 3);
    ck_assert_int_eq(out.groups[0].submit_wait, 1);
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].severity, PG_PI_WARNING);
    ck_assert_int_eq(out.verdicts[0].proof, PG_PI_PROOF_INFERRED);
    ck_assert_int_eq(out.verdicts[0].evidence, PG_PI_EV_SEMCOUNT);
    ck_assert_int_eq(out.verdicts[0].queued, 3);

    sem_pool(1, 3);              /* two of the three posts were taken */
    scan_twice();
    ck_assert_int_eq(out.groups[0].queued, 1);

    sem_pool(-1, 3);             /* unreadable: no queue known, no warning */
    scan_twice();
    ck_assert_int_eq(out.groups[0].queued, -1);
    ck_assert_int_eq(out.nverdicts, 0);
}
END_TEST

START_TEST(test_pool_trace_an_object_others_wait_on_is_not_the_queue)
{
    /* Workers post 0xc0 and block: "submit then wait". But main waits on 0xc0 too: the workers
     * are announcing something to main, not queueing work for themselves. */
    sem_pool(3, 3);
    th[2].hist[0].obj = 0xc0, th[2].hist[0].count = 1, th[2].hist[0].kind = PG_PI_W_SEM;
    th[1].hist[0].obj = 0;
    scan_twice();
    ck_assert_int_eq(out.groups[0].submit_wait, 0);
    ck_assert_int_eq(out.nverdicts, 0);
}
END_TEST

/* An exact pool with two busy workers, each waiting for a task still queued in it. */
static void exact_pool(int declared)
{
    scan_reset(2);
    in.npools = 1;
    memset(pools, 0, sizeof pools[0]);
    pools[0].handle = 0x9000;
    pools[0].workers = declared;
    pools[0].submitted = 4;
    pools[0].started = 2;
    for (int i = 0; i < 2; i++) {
        worker(i, 0, 0xa0 + 8 * (uintptr_t)i);
        th[i].pool = 0x9000;
        th[i].ann_task = 0x100 + (uintptr_t)i;
        th[i].ann_wait_task = 0x200 + (uintptr_t)i;
        th[i].wait_task_queued_in = 0x9000;
    }
}

START_TEST(test_pool_trace_exact_pool_needs_every_worker_busy)
{
    exact_pool(3);               /* a third worker could still start the queued tasks */
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);

    exact_pool(0);               /* workers unknown: nothing proven */
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);

    exact_pool(2);
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].severity, PG_PI_ERROR);
    ck_assert_int_eq(out.verdicts[0].proof, PG_PI_PROOF_EXACT);
    ck_assert_int_eq(out.verdicts[0].queued, 2);
}
END_TEST

START_TEST(test_pool_trace_exact_worker_waiting_for_a_running_task_needs_its_runner_held)
{
    exact_pool(2);
    /* Worker 1 waits for worker 0's task; worker 0 waits for something no task explains. */
    th[1].ann_wait_task = th[0].ann_task;
    th[1].wait_task_queued_in = 0;
    th[0].ann_wait_task = 0;
    th[0].wait_task_queued_in = 0;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
    ck_assert_int_eq(out.groups[0].stuck, 0);
    /* Worker 0 submitted to its own pool and blocked before that task started: both are held. */
    th[0].sub_pool = 0x9000;
    th[0].sub_task = 0x300;
    th[0].sub_seq = th[0].seq - 1;
    th[0].sub_task_queued_in = 0x9000;
    in.scan++;
    pg_pi_scan(&in, &state, &out);   /* the same waits as at the scans before */
    ck_assert_int_eq(out.groups[0].stuck, 2);
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].proof, PG_PI_PROOF_EXACT);
}
END_TEST

START_TEST(test_pool_trace_workers_already_reported_are_not_reported_again)
{
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    worker(1, 0x11, 0xa8);
    stuck(0), stuck(1);
    th[0].reported = th[1].reported = 1;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
}
END_TEST

START_TEST(test_pool_trace_stopped_process_time_is_not_blocked_time)
{
    scan_reset(1);
    in.ngaps = 1;
    in.gaps[0].start = 91 * SEC;
    in.gaps[0].len = 5 * SEC;
    ck_assert_uint_eq(pg_pi_blocked_ns(&in, 90 * SEC), 5 * SEC);
    ck_assert_uint_eq(pg_pi_blocked_ns(&in, 97 * SEC), 3 * SEC);
    ck_assert_uint_eq(pg_pi_blocked_ns(&in, 200 * SEC), 0);
}
END_TEST

Suite *pool_trace_suite(void)
{
    Suite *s = suite_create("pool_trace");
    TCase *tr = tcase_create("traces");
    tcase_add_loop_test(tr, test_pool_trace_replays_to_the_verdict_the_proof_standard_demands, 0,
                        (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tr);
    TCase *r = tcase_create("rules");
    tcase_add_test(r, test_pool_trace_two_stuck_workers_are_a_proven_pool);
    tcase_add_test(r, test_pool_trace_single_thread_is_never_an_inferred_pool);
    tcase_add_test(r, test_pool_trace_inferred_growth_needs_the_process_to_grow);
    tcase_add_test(r, test_pool_trace_never_idle_pool_grows_through_the_object_main_feeds);
    tcase_add_test(r, test_pool_trace_proven_single_consumer_with_queued_work_is_its_pool);
    tcase_add_test(r, test_pool_trace_completion_signal_before_the_idle_wait_is_not_a_submission);
    tcase_add_test(r, test_pool_trace_runtime_threads_are_never_grouped);
    tcase_add_test(r, test_pool_trace_a_runnable_worker_blocks_an_error);
    tcase_add_test(r, test_pool_trace_unread_run_state_is_asked_for_once);
    tcase_add_test(r, test_pool_trace_semaphore_queue_never_exceeds_lost_posts);
    tcase_add_test(r, test_pool_trace_an_object_others_wait_on_is_not_the_queue);
    tcase_add_test(r, test_pool_trace_exact_pool_needs_every_worker_busy);
    tcase_add_test(r, test_pool_trace_exact_worker_waiting_for_a_running_task_needs_its_runner_held);
    tcase_add_test(r, test_pool_trace_workers_already_reported_are_not_reported_again);
    tcase_add_test(r, test_pool_trace_stopped_process_time_is_not_blocked_time);
    suite_add_tcase(s, r);
    return s;
}
