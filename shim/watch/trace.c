/*
 * The POOLGUARD_TRACE recorder (trace.h). Runs in the watchdog after the pool analysis. A line is
 * rendered into a buffer mapped once (so a line is written whole, with one write(2) in the usual
 * case) and appended to the file, which is opened for each line: a program that closes every
 * descriptor, or reuses our descriptor's number, cannot make us write into its own files. Past
 * POOLGUARD_TRACE_MAX bytes, or on any error, one note on stderr and no more tracing.
 */
#include "trace.h"
#include "jsonw.h"
#include "pg.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define LINE_MAX_BYTES (8u << 20)

static char *buf;
static size_t written;
static int stopped;

static void stop(const char *why)
{
    stopped = 1;
    pg_warn("POOLGUARD_TRACE: %s; no more scans are recorded", why);
}

static void hex_if(struct pg_jw *w, const char *k, uintptr_t v)
{
    if (v)
        pg_jw_key(w, k), pg_jw_hex(w, v);
}

static void int_if(struct pg_jw *w, const char *k, long long v)
{
    if (v)
        pg_jw_key(w, k), pg_jw_int(w, v);
}

static void write_thread(struct pg_jw *w, const struct pg_pi_thread *t)
{
    pg_jw_obj(w);
    pg_jw_key(w, "tid"), pg_jw_int(w, t->tid);
    int_if(w, "gen", t->gen);
    hex_if(w, "key", (uintptr_t)t->key);
    int_if(w, "class", t->cls);
    hex_if(w, "pool", t->pool);
    int_if(w, "exact_idle", t->exact_idle);
    int_if(w, "waiting", t->waiting);
    int_if(w, "timed", t->timed);
    int_if(w, "kind", t->wkind);
    int_if(w, "lockwait", t->lockwait);
    hex_if(w, "obj", t->wobj);
    pg_jw_key(w, "seq"), pg_jw_int(w, (long long)t->seq);
    int_if(w, "since", (long long)t->since_ns);
    int_if(w, "stuck", t->stuck);
    int_if(w, "confirmed", t->confirmed);
    if (t->finding >= 0)
        pg_jw_key(w, "finding"), pg_jw_int(w, t->finding);
    int_if(w, "hang", t->finding_hang);
    int_if(w, "reported", t->reported);
    if (t->runnable != PG_PI_UNREAD)
        pg_jw_key(w, "runnable"), pg_jw_int(w, t->runnable);
    int any = 0;
    for (int k = 0; k < PG_PI_HIST; k++)
        any |= t->hist[k].obj != 0;
    if (any) {
        pg_jw_key(w, "hist");
        pg_jw_arr(w);
        for (int k = 0; k < PG_PI_HIST; k++) {
            if (!t->hist[k].obj)
                continue;
            pg_jw_arr(w);
            pg_jw_hex(w, t->hist[k].obj);
            pg_jw_int(w, t->hist[k].count);
            pg_jw_int(w, t->hist[k].kind);
            pg_jw_arr_end(w);
        }
        pg_jw_arr_end(w);
    }
    any = 0;
    for (int k = 0; k < PG_PI_LOST; k++)
        any |= t->lost[k].obj != 0;
    if (any) {
        pg_jw_key(w, "lost");
        pg_jw_arr(w);
        for (int k = 0; k < PG_PI_LOST; k++) {
            if (!t->lost[k].obj)
                continue;
            pg_jw_arr(w);
            pg_jw_hex(w, t->lost[k].obj);
            pg_jw_int(w, t->lost[k].count);
            pg_jw_int(w, t->lost[k].kind);
            pg_jw_int(w, (long long)t->lost[k].seq);
            pg_jw_arr_end(w);
        }
        pg_jw_arr_end(w);
    }
    hex_if(w, "task", t->ann_task);
    hex_if(w, "task_fn", t->ann_task_fn);
    hex_if(w, "wait_task", t->ann_wait_task);
    hex_if(w, "sub_pool", t->sub_pool);
    hex_if(w, "sub_task", t->sub_task);
    int_if(w, "sub_seq", (long long)t->sub_seq);
    hex_if(w, "wait_task_queued_in", t->wait_task_queued_in);
    hex_if(w, "sub_task_queued_in", t->sub_task_queued_in);
    pg_jw_obj_end(w);
}

static void write_line(struct pg_jw *w, const struct pg_pi_in *in, const struct pg_pi_out *out)
{
    pg_jw_obj(w);
    pg_jw_key(w, "v"), pg_jw_int(w, PG_TRACE_VERSION);
    pg_jw_key(w, "pid"), pg_jw_int(w, getpid());
    pg_jw_key(w, "scan"), pg_jw_int(w, (long long)in->scan);
    pg_jw_key(w, "now"), pg_jw_int(w, (long long)in->now_ns);
    pg_jw_key(w, "interval_ms"), pg_jw_int(w, in->interval_ms);
    pg_jw_key(w, "stall_ms"), pg_jw_int(w, in->stall_ms);
    pg_jw_key(w, "queue_limit"), pg_jw_int(w, in->queue_limit);
    pg_jw_key(w, "rss_kb"), pg_jw_int(w, (long long)in->rss_kb);
    pg_jw_key(w, "gaps");
    pg_jw_arr(w);
    for (int k = 0; k < in->ngaps && k < PG_PI_MAX_GAPS; k++) {
        pg_jw_arr(w);
        pg_jw_int(w, (long long)in->gaps[k].start);
        pg_jw_int(w, (long long)in->gaps[k].len);
        pg_jw_arr_end(w);
    }
    pg_jw_arr_end(w);
    pg_jw_key(w, "pools");
    pg_jw_arr(w);
    for (int k = 0; k < in->npools; k++) {
        const struct pg_pi_pool *p = &in->pools[k];
        pg_jw_obj(w);
        pg_jw_key(w, "handle"), pg_jw_hex(w, p->handle);
        pg_jw_key(w, "adapter"), pg_jw_bool(w, p->adapter);
        pg_jw_key(w, "workers"), pg_jw_int(w, p->workers);
        pg_jw_key(w, "submitted"), pg_jw_int(w, (long long)p->submitted);
        pg_jw_key(w, "started"), pg_jw_int(w, (long long)p->started);
        pg_jw_key(w, "done"), pg_jw_int(w, (long long)p->done);
        pg_jw_obj_end(w);
    }
    pg_jw_arr_end(w);
    pg_jw_key(w, "sems");
    pg_jw_arr(w);
    for (int k = 0; k < in->nsems; k++) {
        pg_jw_obj(w);
        pg_jw_key(w, "obj"), pg_jw_hex(w, in->sems[k].obj);
        pg_jw_key(w, "value"), pg_jw_int(w, in->sems[k].value);
        pg_jw_obj_end(w);
    }
    pg_jw_arr_end(w);
    pg_jw_key(w, "threads");
    pg_jw_arr(w);
    for (int i = 0; i < in->nthreads; i++)
        write_thread(w, &in->threads[i]);
    pg_jw_arr_end(w);
    pg_jw_key(w, "verdicts");
    pg_jw_arr(w);
    for (int k = 0; k < out->nverdicts; k++) {
        const struct pg_pi_verdict *v = &out->verdicts[k];
        pg_jw_obj(w);
        pg_jw_key(w, "kind"), pg_jw_str(w, pg_pi_kind_name(v->kind));
        pg_jw_key(w, "severity"), pg_jw_str(w, pg_pi_severity_name(v->severity));
        pg_jw_key(w, "proof"), pg_jw_str(w, pg_pi_proof_name(v->proof));
        pg_jw_key(w, "evidence"), pg_jw_str(w, pg_pi_evidence_name(v->evidence));
        pg_jw_key(w, "queued"), pg_jw_int(w, v->queued);
        pg_jw_key(w, "workers"), pg_jw_int(w, out->groups[v->group].n);
        pg_jw_obj_end(w);
    }
    pg_jw_arr_end(w);
    pg_jw_obj_end(w);
    pg_jw_line(w);
}

void pg_trace_scan(const struct pg_pi_in *in, const struct pg_pi_out *out)
{
    if (stopped || !pg_cfg.trace[0])
        return;
    if (!buf) {
        void *p = pg_reserve(LINE_MAX_BYTES);
        if (!p) {
            stop("cannot map a buffer");
            return;
        }
        buf = p;
    }
    struct pg_jw w;
    pg_jw_init(&w, -1, buf, LINE_MAX_BYTES);
    write_line(&w, in, out);
    if (w.err) {
        stop("a scan does not fit in 8 MiB");
        return;
    }
    if (written + w.len > (size_t)pg_cfg.trace_max) {
        stop("POOLGUARD_TRACE_MAX reached");
        return;
    }
    int fd = open(pg_cfg.trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        stop("cannot open the file");
        return;
    }
    size_t off = 0;
    while (off < w.len) {
        ssize_t r = write(fd, buf + off, w.len - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(fd);
            stop("cannot write the file");
            return;
        }
        off += (size_t)r;
    }
    close(fd);
    written += w.len;
}
