/*
 * The text report, for people, read top-down like a kernel lockdep splat: a headline in the
 * user's words, the cycle drawn as a chain, the pool, then each thread (render_text_int.h says
 * which file prints what). Here: the headline, the chains (a deadlock's cycle, a cycle of lock
 * orders), the closing count, and the wrapping. Colour and the width to wrap to are decided by
 * the caller (a terminal, NO_COLOR); here they are only applied.
 */
#include "render_text_int.h"

#include "analyze.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void print_finding(tctx *c, const pg_finding *f);
static void print_snapshot(tctx *c, const pg_snapshot *s);

static const char *sev_colour(pg_severity s)
{
    return s == PG_SEV_ERROR ? RED BOLD : s == PG_SEV_WARNING ? YELLOW BOLD : CYAN;
}

static const pg_mthread *find_thread(const pg_finding *f, long tid)
{
    for (size_t i = 0; i < f->nthreads; i++)
        if (f->threads[i].tid == tid)
            return &f->threads[i];
    return NULL;
}

static void print_cycle(tctx *c, const pg_finding *f)
{
    fprintf(c->out, "\n  the cycle:\n");
    char label[128], lock[3 * PG_MAX_STRING + 800];
    for (size_t i = 0; i < f->ncycle; i++) {
        const pg_edge *e = &f->cycle[i];
        const pg_mthread *t = find_thread(f, e->tid);
        if (t)
            render_thread_label(t, label, sizeof label);
        else
            snprintf(label, sizeof label, "tid %ld", e->tid);
        fprintf(c->out, "    %s%s%s\n", C(c, BOLD), label, C(c, RESET));
        fprintf(c->out, "      | waits on %s, held by\n",
                describe_lock(e->name, e->kind, e->address, lock, sizeof lock));
        fprintf(c->out, "      v\n");
    }
    const pg_mthread *t = find_thread(f, f->cycle[0].tid);
    if (t)
        render_thread_label(t, label, sizeof label);
    else
        snprintf(label, sizeof label, "tid %ld", f->cycle[0].tid);
    fprintf(c->out, "    %s%s%s  (back to the start)\n", C(c, BOLD), label, C(c, RESET));
}

/* Lock names in a cycle of lock orders: A, B, C, ... by first appearance. */
static void lock_name(const pg_finding *f, uint64_t addr, char *buf, size_t len)
{
    for (size_t i = 0; i < f->norder; i++)
        if (f->order[i].first == addr) {
            if (i < 26)
                snprintf(buf, len, "lock %c", (char)('A' + i));
            else
                snprintf(buf, len, "lock %zu", i + 1);
            return;
        }
    snprintf(buf, len, "lock 0x%" PRIx64, addr);
}

static void edge_label(const pg_order_edge *e, char *buf, size_t len)
{
    pg_mthread t = { .tid = e->tid, .name = e->name, .role_id = -1 };
    render_thread_label(&t, buf, len);
}

static void print_order(tctx *c, const pg_finding *f)
{
    char a[64], b[64], label[128], where[PG_MAX_STRING + 32], lock[3 * PG_MAX_STRING + 800];
    fprintf(c->out, "\n  the cycle of lock orders:\n");
    for (size_t i = 0; i < f->norder; i++) {
        const pg_order_edge *e = &f->order[i];
        lock_name(f, e->first, a, sizeof a);
        lock_name(f, e->then, b, sizeof b);
        edge_label(e, label, sizeof label);
        const pg_frame *fn = stack_first_own_frame(&e->stack);
        fprintf(c->out, "    %s%s%s: %s\n", C(c, BOLD), a, C(c, RESET),
                describe_lock(e->first_name, e->first_kind, e->first, lock, sizeof lock));
        fprintf(c->out, "      | then %s, taken by %s%s%s\n", b, label, fn ? " in " : "",
                fn ? fn->function : "");
        fprintf(c->out, "      v\n");
    }
    lock_name(f, f->order[0].first, a, sizeof a);
    fprintf(c->out, "    %s%s%s  (back to the start)\n", C(c, BOLD), a, C(c, RESET));
    for (size_t i = 0; i < f->norder; i++) {
        const pg_order_edge *e = &f->order[i];
        lock_name(f, e->first, a, sizeof a);
        lock_name(f, e->then, b, sizeof b);
        edge_label(e, label, sizeof label);
        fprintf(c->out, "\n  %s%s%s took %s, then %s\n", C(c, BOLD), label, C(c, RESET), a, b);
        /* The innermost frame of the locking call is the line the user wrote. */
        const pg_frame *fa = e->first_at.nframes ? &e->first_at.frames[0] : NULL;
        if (fa && fa->function)
            fprintf(c->out, "    took %s in %s%s%s%s\n", a, C(c, BOLD), fa->function, C(c, RESET),
                    text_frame_where(fa, where, sizeof where));
        else if (fa && fa->module)
            fprintf(c->out, "    took %s at %s+0x%" PRIx64 "\n", a, fa->module, fa->offset);
        fprintf(c->out, "    then took %s:\n", b);
        text_print_stack(c, &e->stack, "      ");
    }
}

void render_text_finding(const pg_finding *f, const render_opts *o, FILE *out)
{
    tctx c = { .out = out, .o = o };
    print_finding(&c, f);
}

static void print_finding(tctx *c, const pg_finding *f)
{
    const pg_process *p = f->proc;
    fprintf(c->out, "%s%s: %s%s in %s (pid %ld): %s\n", C(c, sev_colour(f->sev)),
            severity_name(f->sev), f->kind, C(c, RESET), render_exe_name(p), p ? p->pid : -1L,
            f->summary ? f->summary : "(no summary)");
    if (f->count > 1) {
        fprintf(c->out, "  seen %u times, in pid", f->count);
        for (size_t i = 0; i < f->npids; i++)
            fprintf(c->out, "%s %ld", i ? "," : "", f->pids[i]);
        fputc('\n', c->out);
    }
    if (f->ncycle > 0)
        print_cycle(c, f);
    else if (f->hang)
        fprintf(c->out, "\n  every thread is blocked and none is left to wake the others\n");
    if (f->norder > 0)
        print_order(c, f);
    if (f->pool_info.present)
        text_print_pool(c, f);
    for (size_t i = 0; i < f->nthreads; i++)
        text_print_thread_in(c, f, &f->threads[i], true);
    if (f->threads_dropped)
        fprintf(c->out, "\n  ... %zu more threads not shown\n", f->threads_dropped);
    fputc('\n', c->out);
}

void render_text_snapshot(const pg_snapshot *s, const render_opts *o, FILE *out)
{
    tctx c = { .out = out, .o = o };
    print_snapshot(&c, s);
}

static void print_snapshot(tctx *c, const pg_snapshot *s)
{
    size_t blocked = 0;
    for (size_t i = 0; i < s->nthreads; i++)
        blocked += s->threads[i].blocked.present;
    bool timeout = s->reason && strcmp(s->reason, "request") == 0;
    fprintf(c->out, "%s%s%s of %s (pid %ld): %zu thread%s, %zu blocked\n", C(c, CYAN BOLD),
            timeout ? "time-out snapshot" : "snapshot", C(c, RESET), render_exe_name(s->proc),
            s->proc ? s->proc->pid : -1L, s->nthreads, s->nthreads == 1 ? "" : "s", blocked);
    for (size_t i = 0; i < s->nthreads; i++)
        text_print_thread(c, &s->threads[i], false);
    fputc('\n', c->out);
}

/* Visible columns of s[0..n) (ANSI colour sequences take none). */
static size_t visible_len(const char *s, size_t n)
{
    size_t cols = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\033') {
            while (i < n && s[i] != 'm')
                i++;
            continue;
        }
        /* UTF-8 continuation bytes do not start a column. */
        cols += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return cols;
}

/* One line wrapped at spaces to width columns; continuation lines are indented four more than
 * the line itself, so a wrapped sentence still reads as part of its thread or frame. A word
 * longer than the line is left whole. */
static void wrap_line(FILE *out, const char *s, size_t n, int width)
{
    size_t indent = 0;
    while (indent < n && s[indent] == ' ')
        indent++;
    size_t cont = indent + 4 < (size_t)width / 2 ? indent + 4 : indent;
    size_t room = (size_t)width, start = 0;
    bool first = true;
    while (visible_len(s + start, n - start) > room) {
        size_t brk = 0, cols = 0;
        for (size_t i = start; i < n && cols <= room; i++) {
            if (s[i] == '\033') {
                while (i < n && s[i] != 'm')
                    i++;
                continue;
            }
            if (s[i] == ' ' && i > start + (first ? indent : 0))
                brk = i;
            cols += ((unsigned char)s[i] & 0xC0) != 0x80;
        }
        if (!brk)
            break;
        fwrite(s + start, 1, brk - start, out);
        fprintf(out, "\n%*s", (int)cont, "");
        start = brk + 1;
        room = (size_t)width - cont;
        first = false;
    }
    fwrite(s + start, 1, n - start, out);
}

static int render_text_unwrapped(pg_report *r, const render_opts *o, FILE *out);

int render_text(pg_report *r, const render_opts *o, FILE *out)
{
    if (o->width <= 20)
        return render_text_unwrapped(r, o, out);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return -ENOMEM;
    int ret = render_text_unwrapped(r, o, m);
    fclose(m);
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(buf + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - buf) : len;
        wrap_line(out, buf + at, end - at, o->width);
        if (nl)
            fputc('\n', out);
        at = end + 1;
    }
    free(buf);
    return ret;
}

static int render_text_unwrapped(pg_report *r, const render_opts *o, FILE *out)
{
    tctx c = { .out = out, .o = o };
    size_t n, shown = 0, dup = 0, supp = 0, base = 0, below = 0;
    unsigned errors = 0, warnings = 0, infos = 0, deadlocks = 0;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++) {
        if (f[i]->duplicate)
            dup++;
        else if (f[i]->suppressed)
            supp++;
        else if (f[i]->baselined)
            base++;
        else if (render_finding_below(f[i], o))
            below++;
        if (!render_finding_visible(f[i], o))
            continue;
        print_finding(&c, f[i]);
        shown++;
        errors += f[i]->sev == PG_SEV_ERROR;
        warnings += f[i]->sev == PG_SEV_WARNING;
        infos += f[i]->sev == PG_SEV_INFO;
        deadlocks += f[i]->kind_id == PG_KIND_DEADLOCK;
    }
    size_t ns;
    pg_snapshot **s = report_snapshots(r, &ns);
    for (size_t i = 0; i < ns; i++)
        print_snapshot(&c, s[i]);
    /* A deadlock shown after a time-out was proven from the snapshot (attach's, for a program
     * outside the shim) or kept running by --fail-on none. */
    if (o->timed_out && ns > 0)
        fprintf(out,
                "poolguard: the program ran past its time-out%s; the snapshot above shows where "
                "each thread was\n",
                deadlocks ? "" : " without a proven deadlock");
    else if (o->timed_out)
        fprintf(out, "poolguard: the program ran past its time-out and no process answered the "
                     "snapshot request (was the shim loaded?)\n");
    fprintf(out, "poolguard: %zu finding%s (%u error%s, %u warning%s", shown, shown == 1 ? "" : "s",
            errors, errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
    /* Said only when there are some, so the line keeps its shape for the usual report. */
    if (infos)
        fprintf(out, ", %u info", infos);
    fputc(')', out);
    if (dup)
        fprintf(out, ", %zu repeat%s folded", dup, dup == 1 ? "" : "s");
    if (supp)
        fprintf(out, ", %zu suppressed", supp);
    if (base)
        fprintf(out, ", %zu in the baseline", base);
    if (below)
        fprintf(out, ", %zu below --min-severity", below);
    fputc('\n', out);
    return 0;
}
