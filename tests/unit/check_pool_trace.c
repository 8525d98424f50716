/*
 * The pool rules (shim/detect/poolinfer.c) replayed on traces of real programs (tests/data/traces/,
 * recorded with POOLGUARD_TRACE by tests/data/traces/record.sh). Each trace is held to the proof
 * standard of docs/design.md: a stuck pool with proof is an error with that proof, an inferred one
 * a warning at most, a healthy one gets no verdict at all (not even info). Replaying also checks
 * the recorder: the replayed verdicts must be the ones the live scan wrote into the trace. The edge
 * rules, driven by hand-made scans, are in check_pool_rules.c. No program runs: the suite takes
 * milliseconds.
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
    int worst;            /* highest severity seen, -1 if none */
    char worst_desc[128]; /* kind/severity/proof of the first verdict at that severity */
    int kinds[4][3][5];   /* count per kind, severity, proof */
    int mismatches;       /* scans whose replayed verdicts differ from the recorded ones */
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
    json_array_foreach (json_object_get(o, "hist"), k, e) {
        if (k >= PG_PI_HIST)
            break;
        t->hist[k].obj = strtoull(json_string_value(json_array_get(e, 0)), NULL, 16);
        t->hist[k].count = (uint32_t)json_integer_value(json_array_get(e, 1));
        t->hist[k].kind = (uint32_t)json_integer_value(json_array_get(e, 2));
    }
    json_array_foreach (json_object_get(o, "lost"), k, e) {
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
    in.rss_kb = (uint64_t)intval(r, "rss_kb"); /* absent in older traces: unknown */
    size_t k;
    json_t *e;
    json_array_foreach (json_object_get(r, "gaps"), k, e) {
        if (in.ngaps == PG_PI_MAX_GAPS)
            break;
        in.gaps[in.ngaps].start = (uint64_t)json_integer_value(json_array_get(e, 0));
        in.gaps[in.ngaps].len = (uint64_t)json_integer_value(json_array_get(e, 1));
        in.ngaps++;
    }
    in.pools = pools;
    json_array_foreach (json_object_get(r, "pools"), k, e) {
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
    json_array_foreach (json_object_get(r, "sems"), k, e) {
        if (in.nsems == PG_PI_MAX_SEMS)
            break;
        in.sems[in.nsems].obj = hexval(e, "obj");
        in.sems[in.nsems].value = (long)intval(e, "value");
        in.nsems++;
    }
    in.threads = th;
    json_array_foreach (json_object_get(r, "threads"), k, e) {
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
                snprintf(res->worst_desc, sizeof res->worst_desc, "%s/%s/%s",
                         pg_pi_kind_name(vd->kind), pg_pi_severity_name(vd->severity),
                         pg_pi_proof_name(vd->proof));
            }
            if (vd->severity == PG_PI_ERROR && vd->queued > res->max_queued_error)
                res->max_queued_error = vd->queued;
            json_t *lv = json_array_get(live, (size_t)v);
            if (!lv ||
                strcmp(json_string_value(json_object_get(lv, "kind")), pg_pi_kind_name(vd->kind)) ||
                strcmp(json_string_value(json_object_get(lv, "severity")),
                       pg_pi_severity_name(vd->severity)) ||
                proof_of(json_string_value(json_object_get(lv, "proof"))) != vd->proof ||
                intval(lv, "queued") != vd->queued)
                same = 0;
        }
        if (!same && !res->mismatches++)
            snprintf(res->mismatch, sizeof res->mismatch,
                     "scan %lld: live %s, replayed %d verdicts", intval(r, "scan"),
                     json_dumps(live, JSON_COMPACT), out.nverdicts);
        json_decref(r);
    }
    fclose(f);
    ck_assert_msg(res->scans > 0, "%s: empty trace", path);
}

/* Expected outcome of a trace. */
enum expect {
    HEALTHY,
    UNPROVEN,
    WARNING_INFERRED,
    ERROR_GRAPH,
    ERROR_EXACT,
    GROWTH_INFERRED,
    GROWTH_EXACT,
    STALL_ONLY
};

struct trace_case {
    const char *name;
    enum expect expect;
};

static const struct trace_case cases[] = {
    /* Inferred pools, stuck: a warning with main running, the graph's proof with main waiting. */
    { "flood", WARNING_INFERRED },
    { "flood_heartbeat", WARNING_INFERRED },
    { "flood_immediate", WARNING_INFERRED },
    { "flood_mainwait", ERROR_GRAPH },
    { "sem", WARNING_INFERRED },
    { "cxx", WARNING_INFERRED },
    { "lib_condpool_stuck_running", WARNING_INFERRED },
    { "lib_sempool_stuck_running", WARNING_INFERRED },
    { "lib_cxxpool_stuck_running", WARNING_INFERRED },
    { "lib_condpool_stuck_blocked", ERROR_GRAPH },
    { "lib_sempool_stuck_blocked", ERROR_GRAPH },
    { "lib_cxxpool_stuck_blocked", ERROR_GRAPH },
    { "lib_asio_stuck_blocked", ERROR_GRAPH },
    /* Pools known exactly. */
    { "annotated", ERROR_EXACT },
    { "lib_glib_stuck_blocked", ERROR_GRAPH },
    { "lib_glib_stuck_running", ERROR_EXACT },
    { "lib_uv_stuck_blocked", ERROR_EXACT }, /* workers linked to the loop's submissions */
    { "lib_uv_stuck_running", ERROR_EXACT },
    { "lib_tbb_stuck_blocked", ERROR_GRAPH }, /* the whole program blocks first */
    { "lib_tbb_stuck_running", ERROR_EXACT },
    /* Stuck, nothing proven within the trace: a stall (info) at most. */
    { "uv", STALL_ONLY },
    { "glib", STALL_ONLY },
    { "lib_asio_stuck_running", STALL_ONLY },
    /* Growing queues. */
    { "growth", GROWTH_INFERRED },
    { "lib_sempool_growth", GROWTH_INFERRED },
    { "lib_cxxpool_growth", GROWTH_INFERRED },
    { "lib_condpool_growth", GROWTH_INFERRED }, /* workers never idle: the object main feeds */
    { "lib_tbb_growth", GROWTH_EXACT },
    { "lib_uv_growth", GROWTH_EXACT },
    { "lib_glib_growth", GROWTH_EXACT },
    /* Healthy programs that block a lot. */
    { "ok_nested", HEALTHY },
    { "ok_event", HEALTHY },
    { "ok_idle", HEALTHY },
    { "lib_condpool_ok_long", HEALTHY },
    { "lib_sempool_ok_long", HEALTHY },
    { "lib_cxxpool_ok_long", HEALTHY },
    { "lib_uv_ok_long", HEALTHY },
    { "lib_glib_ok_long", HEALTHY },
    { "lib_tbb_ok_long", HEALTHY },
    { "lib_asio_ok_long", HEALTHY },
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
                          !count(&r, k, PG_PI_ERROR, PG_PI_PROOF_NONE),
                      "%s: an error without proof", n);
        ck_assert_msg(!count(&r, k, PG_PI_WARNING, PG_PI_PROOF_NONE), "%s: a warning without proof",
                      n);
    }
    ck_assert_msg(r.mismatches == 0,
                  "%s: replay differs from the live scans in %d scans; first: %s", n, r.mismatches,
                  r.mismatch);
    switch (c->expect) {
    case HEALTHY:
        ck_assert_msg(r.verdicts == 0, "%s: healthy, yet %d verdicts (%s)", n, r.verdicts,
                      r.worst_desc);
        break;
    case UNPROVEN:
        ck_assert_msg(r.worst < PG_PI_ERROR, "%s: nothing proven, yet %s", n, r.worst_desc);
        break;
    case STALL_ONLY:
        ck_assert_msg(r.worst == PG_PI_INFO &&
                          count(&r, PG_PI_STALL, PG_PI_INFO, PG_PI_PROOF_NONE) == 1,
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
        ck_assert_msg(r.worst == PG_PI_WARNING &&
                          count(&r, PG_PI_GROWTH, PG_PI_WARNING, proof) == 1 && r.verdicts == 1,
                      "%s: expected one queue_growth warning (%s), got %d verdicts, %s", n,
                      pg_pi_proof_name(proof), r.verdicts, r.worst_desc);
        break;
    }
    }
}
END_TEST

Suite *pool_trace_suite(void)
{
    Suite *s = suite_create("pool_trace");
    TCase *tr = tcase_create("traces");
    tcase_add_loop_test(tr, test_pool_trace_replays_to_the_verdict_the_proof_standard_demands, 0,
                        (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tr);
    return s;
}
