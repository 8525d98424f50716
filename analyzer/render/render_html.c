/*
 * The HTML report: one self-contained page (no network, no external file) that works when
 * opened from a CI artifact. At the top a summary of every finding (severity, kind, its
 * sentence, the process), then each finding: its chain (cycle, lock orders) and pool, its own
 * wait-for graph (inline SVG from Graphviz, thread nodes linked to the thread sections), and
 * each thread: its role, what it waits on and since when, what it holds, its task, and its
 * stack with the program's own frames shown (with source lines around them when the file is
 * readable now) and runtime frames (interpreter, libc, the shim) folded in <details>.
 *
 * Every word is in the HTML itself; the few lines of script only add the filters by kind and
 * severity and the graphs' zoom and pan, so the page reads the same without JavaScript. Reads
 * the model only; reads source files, at most MAX_SNIPPETS of them per page.
 */
#include "render.h"

#include "analyze.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "xml_escape.h"

enum {
    MAX_SNIPPETS = 200,      /* source excerpts per page: a page of thousands of threads stays small */
    SNIPPET_RADIUS = 2,      /* lines shown before and after the frame's line */
    MAX_SOURCE_BYTES = 4 << 20,
    MAX_GRAPHS = 50,         /* findings drawn; the rest say why they have no graph */
};

typedef struct hctx {
    FILE *out;
    const render_opts *o;
    size_t snippets;
    size_t graphs;
    bool no_dot;             /* Graphviz is missing: said once, not tried again */
} hctx;

static void esc(hctx *c, const char *s)
{
    xml_escape(c->out, s);
}

static const char style[] =
    ":root{--err:#b3261e;--warn:#9a5b00;--info:#1b5e9a;--line:#ddd;--muted:#666}"
    "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;padding:1em 2em 4em;max-width:95em;color:#222}"
    "h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.2em;margin:0 0 .4em}h3{font-size:1.05em;margin:.2em 0}"
    "h4{font-size:.95em;margin:.8em 0 .2em;color:var(--muted)}"
    "a{color:#0b57d0}code,pre,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}"
    ".badge{display:inline-block;padding:0 .5em;border-radius:.7em;color:#fff;font-size:.8em;"
    "font-weight:600;vertical-align:middle;text-transform:uppercase}"
    ".badge.error{background:var(--err)}.badge.warning{background:var(--warn)}.badge.info{background:var(--info)}"
    "table.summary{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}"
    ".summary th,.summary td{border-bottom:1px solid var(--line);padding:.35em .5em;text-align:left;vertical-align:top}"
    ".summary th{font-size:.85em;color:var(--muted);font-weight:600}"
    "#filters{margin:.5em 0;font-size:.9em}#filters fieldset{display:inline-block;border:1px solid var(--line);"
    "margin-right:1em;padding:.2em .7em}#filters label{margin-right:.8em;white-space:nowrap}"
    "section.finding,section.snapshot{border:1px solid var(--line);border-left:6px solid var(--info);"
    "border-radius:4px;padding:1em 1.2em;margin:1.5em 0}"
    "section.sev-error{border-left-color:var(--err)}section.sev-warning{border-left-color:var(--warn)}"
    ".sentence{font-size:1.05em;margin:.3em 0 .8em}.meta{color:var(--muted);font-size:.85em}"
    "ol.chain{list-style:none;padding-left:1em;margin:.3em 0}ol.chain li{margin:.1em 0}"
    "ol.chain .arrow{color:var(--err);font-weight:700;margin-right:.4em}"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.4em 0}"
    "dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}"
    "figure.graph{margin:1em 0}figure.graph .viewport{overflow:auto;max-height:75vh;border:1px solid var(--line);"
    "border-radius:4px;background:#fff;cursor:grab}figure.graph .viewport svg{display:block}"
    "figure.graph .tools{font-size:.85em;margin-bottom:.3em}figure.graph .tools button{margin-right:.3em}"
    "figcaption{color:var(--muted);font-size:.85em}"
    "section.thread{border-top:1px solid var(--line);padding:.6em 0 .4em;margin-top:.6em}"
    "section.thread:target{background:#fffbe6}.role{color:var(--muted);font-weight:400}"
    "ol.stack{margin:.2em 0;padding-left:3em}ol.stack li{margin:.1em 0}ol.stack li.fold{list-style:none}"
    "ol.stack li.own .fn{font-weight:600}ol.stack li.lib{color:#444}ol.stack .loc{color:var(--muted)}"
    "details.fold{color:var(--muted);margin:.1em 0}details.native{margin-left:1.8em}details.fold summary{cursor:pointer;font-size:.9em}"
    "details.fold ol{padding-left:3em}"
    "pre.src{background:#f6f8fa;border:1px solid #e5e5e5;border-radius:3px;padding:.3em 0;margin:.2em 0 .5em;"
    "overflow-x:auto;max-width:100%}pre.src span{display:block;padding:0 .6em}pre.src .here{background:#fff1c2}"
    "pre.src .n{display:inline-block;min-width:3.5em;color:#999;user-select:none}"
    "[hidden]{display:none!important}";

/* Progressive: everything is in the page already; this adds the filters (un-hidden here) and the
 * graphs' zoom (buttons, ctrl+wheel) and pan (drag). It sets data-js="ok" on <html> when it ran
 * to its end, which the browser test checks. */
static const char script[] =
    "(function(){var d=document,f=d.getElementById('filters');"
    "if(f){f.hidden=false;f.addEventListener('change',function(){var on={};"
    "f.querySelectorAll('input').forEach(function(i){on[i.name+':'+i.value]=i.checked});"
    "d.querySelectorAll('[data-kind]').forEach(function(e){"
    "e.hidden=!(on['kind:'+e.dataset.kind]&&on['severity:'+e.dataset.severity])})})}"
    "d.querySelectorAll('figure.graph').forEach(function(g){var v=g.querySelector('.viewport'),"
    "s=v&&v.querySelector('svg'),t=g.querySelector('.tools');if(!s||!t)return;"
    "var w=s.width.baseVal.value,h=s.height.baseVal.value,z=1;t.hidden=false;"
    "function set(n){z=Math.max(.2,Math.min(6,n));s.style.width=w*z+'px';s.style.height=h*z+'px'}"
    "function fit(){return Math.min(1,(v.clientWidth-2)/w)}"
    "t.addEventListener('click',function(e){var b=e.target.getAttribute('data-zoom');if(!b)return;"
    "set(b==='fit'?fit():b==='1'?1:z*parseFloat(b))});"
    "v.addEventListener('wheel',function(e){if(!e.ctrlKey)return;e.preventDefault();"
    "set(z*(e.deltaY<0?1.2:1/1.2))},{passive:false});"
    /* A graph wider than the page starts fitted to it, but never below a readable size: past
     * that it scrolls and pans. */
    "if(fit()<1)set(Math.max(.6,fit()));"
    "var p=null;v.addEventListener('mousedown',function(e){if(e.target.closest('a'))return;"
    "p={x:e.clientX,y:e.clientY,l:v.scrollLeft,t:v.scrollTop};v.style.cursor='grabbing';e.preventDefault()});"
    "window.addEventListener('mousemove',function(e){if(!p)return;v.scrollLeft=p.l-(e.clientX-p.x);"
    "v.scrollTop=p.t-(e.clientY-p.y)});"
    "window.addEventListener('mouseup',function(){p=null;v.style.cursor=''})});"
    "d.documentElement.setAttribute('data-js','ok')})();";

/* ----- Frames and stacks ----- */

static const char *base_name(const char *path)
{
    const char *b = path ? strrchr(path, '/') : NULL;
    return b ? b + 1 : path;
}

/* The lines around `line` of `path`, when the file is readable now: the program's own code,
 * shown where its frame is. Nothing is said when it is not (a CI artifact opened elsewhere). */
static void source_snippet(hctx *c, const pg_frame *f)
{
    if (!f->file || !f->line || c->snippets >= MAX_SNIPPETS)
        return;
    FILE *in = fopen(f->file, "re");
    if (!in)
        return;
    struct stat st;
    if (fstat(fileno(in), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_SOURCE_BYTES) {
        fclose(in);
        return;
    }
    unsigned from = f->line > SNIPPET_RADIUS ? f->line - SNIPPET_RADIUS : 1;
    unsigned to = f->line + SNIPPET_RADIUS;
    char *l = NULL;
    size_t cap = 0;
    unsigned no = 0;
    bool any = false;
    while (getline(&l, &cap, in) >= 0 && ++no <= to) {
        if (no < from)
            continue;
        if (!any)
            fputs("<pre class=\"src\">", c->out);
        any = true;
        l[strcspn(l, "\r\n")] = '\0';
        fprintf(c->out, "<span%s><span class=\"n\">%u</span>", no == f->line ? " class=\"here\"" : "", no);
        esc(c, l);
        fputs("</span>", c->out);
    }
    if (any) {
        fputs("</pre>", c->out);
        c->snippets++;
    }
    free(l);
    fclose(in);
}

static void frame_item(hctx *c, const pg_frame *f, size_t idx, bool snippet)
{
    fprintf(c->out, "<li value=\"%zu\" class=\"%s\"><code class=\"fn\">", idx,
            f->own ? "own" : f->folded ? "runtime" : "lib");
    if (f->function)
        esc(c, f->function);
    else if (f->module)
        fprintf(c->out, "%s+0x%" PRIx64, base_name(f->module), f->offset);
    else
        fprintf(c->out, "0x%" PRIx64, f->pc);
    fputs("</code>", c->out);
    if (f->file) {
        fputs(" <span class=\"loc\">at ", c->out);
        esc(c, render_short_path(f->file));
        fprintf(c->out, ":%u</span>", f->line);
    } else if (f->function && f->module) {
        fputs(" <span class=\"loc\">in ", c->out);
        esc(c, base_name(f->module));
        fputs("</span>", c->out);
    }
    if (f->inlined)
        fputs(" <span class=\"loc\">(inlined)</span>", c->out);
    if (snippet)
        source_snippet(c, f);
    fputs("</li>\n", c->out);
}

/* "… 20 frames in libpython3.11.so.1.0, libc.so.6": the modules (or, for Python frames, the
 * files) of a folded run, each once. */
static void fold_summary(hctx *c, const pg_frame *fr, size_t n, const char *what)
{
    char mods[256] = "";
    for (size_t i = 0; i < n; i++) {
        const char *b = base_name(fr[i].module ? fr[i].module : fr[i].file);
        b = b ? b : "?";
        if (!strstr(mods, b) && strlen(mods) + strlen(b) + 3 < sizeof mods) {
            if (*mods)
                strcat(mods, ", ");
            strcat(mods, b);
        }
    }
    fprintf(c->out, "<summary>&hellip; %zu %sframe%s in ", n, what, n == 1 ? "" : "s");
    esc(c, mods);
    fputs("</summary>", c->out);
}

/* Folded: the shim, libc and the loader always; other libraries' frames outside the program's
 * own (the runtime it calls into, or that calls it); --all-frames folds nothing. A stack with
 * no own frame at all shows what it has but the shim and libc. */
static bool fold_frame(const hctx *c, const pg_stack *s, size_t i, bool any_own)
{
    const pg_frame *f = &s->frames[i];
    if (c->o->all_frames || f->own)
        return false;
    return f->folded || any_own;
}

static void stack_list(hctx *c, const pg_stack *s, const char *fold_id)
{
    if (s->nframes == 0) {
        fputs("<p class=\"meta\">(no stack recorded)</p>\n", c->out);
        return;
    }
    bool any_own = false;
    for (size_t i = 0; i < s->nframes; i++)
        any_own |= s->frames[i].own;
    size_t folds = 0;
    fputs("<ol class=\"stack\">\n", c->out);
    for (size_t i = 0; i < s->nframes;) {
        if (!fold_frame(c, s, i, any_own)) {
            frame_item(c, &s->frames[i], i, s->frames[i].own);
            i++;
            continue;
        }
        size_t j = i;
        while (j < s->nframes && fold_frame(c, s, j, any_own))
            j++;
        /* The id of its list lets a link (and the browser test) open the fold: browsers expand
         * a closed <details> that holds the fragment a page is opened at. */
        fputs("<li class=\"fold\"><details class=\"fold\">", c->out);
        fold_summary(c, &s->frames[i], j - i, "");
        fprintf(c->out, "<ol id=\"%s-fold%zu\">\n", fold_id, folds++);
        for (size_t k = i; k < j; k++)
            frame_item(c, &s->frames[k], k, false);
        fputs("</ol></details></li>\n", c->out);
        i = j;
    }
    fputs("</ol>\n", c->out);
    if (s->dropped)
        fprintf(c->out, "<p class=\"meta\">&hellip; %zu more frames not recorded</p>\n", s->dropped);
}

/* ----- Threads ----- */

static void thread_link(hctx *c, const char *anchor, const pg_mthread *threads, size_t n, long tid)
{
    char label[128];
    const pg_mthread *t = NULL;
    for (size_t i = 0; i < n && !t; i++)
        if (threads[i].tid == tid)
            t = &threads[i];
    if (!t) {
        fprintf(c->out, "tid %ld", tid);
        return;
    }
    render_thread_label(t, label, sizeof label);
    fprintf(c->out, "<a href=\"#%s-t%ld\">", anchor, tid);
    esc(c, label);
    fputs("</a>", c->out);
}

static void clock_time(int64_t unix_ms, char *buf, size_t len)
{
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (unix_ms <= 0 || !localtime_r(&secs, &tm)) {
        buf[0] = '\0';
        return;
    }
    size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    if (n && n + 5 < len)
        snprintf(buf + n, len - n, ".%03d", (int)(unix_ms % 1000));
}

static void wait_fact(hctx *c, const pg_wait *w, int64_t report_ms, const char *anchor,
                      const pg_mthread *threads, size_t n)
{
    fputs("<dt>waits</dt><dd>", c->out);
    if (!w->present) {
        fputs("running (not blocked)</dd>\n", c->out);
        return;
    }
    char lock[3 * PG_MAX_STRING + 800];
    if (pg_wait_parse(w->kind) == PG_WAIT_JOIN)
        snprintf(lock, sizeof lock, "%s", render_wait_words(w->kind));
    else
        describe_lock(w->name, w->kind, w->address, lock, sizeof lock);
    fputs(w->timed ? "(timed, retrying) on <b>" : "on <b>", c->out);
    esc(c, lock);
    fputs("</b>", c->out);
    if (w->owner >= 0) {
        fputs(", held by ", c->out);
        thread_link(c, anchor, threads, n, w->owner);
    }
    if (w->target >= 0) {
        fputs(", for ", c->out);
        thread_link(c, anchor, threads, n, w->target);
        fputs(" to finish", c->out);
    }
    if (w->since_ms >= 0) {
        char when[64];
        clock_time(report_ms - w->since_ms, when, sizeof when);
        fprintf(c->out, " &mdash; for <b>%" PRId64 " ms</b>", w->since_ms);
        if (*when && report_ms > 0)
            fprintf(c->out, " (since %s)", when);
    }
    fputs("</dd>\n", c->out);
}

/* What a pool's thread does with tasks: the task it runs, the task it waits for and where that
 * one is, as the adapters, the annotations or the interpreter say. */
static void task_facts(hctx *c, const pg_pool *p, const pg_mthread *t, const char *anchor,
                       const pg_mthread *threads, size_t n)
{
    char pos[32], words[3 * PG_MAX_STRING + 128], fn[PG_MAX_STRING + 64];
    const char *runs = describe_function(&t->task_function);
    const pg_py_task *py = t->role_id == PG_ROLE_WORKER ? describe_py_task(p, t) : NULL;
    if (runs || (py && py->task.function)) {
        fputs("<dt>runs</dt><dd>task <b>", c->out);
        if (runs)
            esc(c, runs);
        else
            esc(c, describe_py_func(&py->task, fn, sizeof fn));
        fputs("</b></dd>\n", c->out);
    }
    if (py && *describe_py_wait(p, py, words, sizeof words)) {
        fputs("<dt>task wait</dt><dd><b>", c->out);
        esc(c, words);
        fputs("</b>", c->out);
        if (py->waits && py->queued_here)
            fputs(", and has not started: it needs a free worker", c->out);
        if (py->waits && py->wait_fn.function && py->wait_fn.file) {
            fputs(" (", c->out);
            esc(c, describe_py_func(&py->wait_fn, fn, sizeof fn));
            fputs(")", c->out);
        }
        fputs("</dd>\n", c->out);
    }
    const pg_task_wait *w = &t->waits_for_task;
    if (w->present) {
        const char *name = describe_task_name(p, &w->function, w->address);
        fprintf(c->out, "<dt>task wait</dt><dd>waits for task <span class=\"mono\">0x%" PRIx64 "</span>",
                w->address);
        if (name) {
            fputs(" (<b>", c->out);
            esc(c, name);
            fputs("</b>)", c->out);
        }
        long at = describe_task_position(p, t, w->address);
        if (w->state && strcmp(w->state, "queued") == 0) {
            fputs(", which is <b>still queued</b>", c->out);
            if (at > 0)
                fprintf(c->out, ", %s in line", describe_ordinal(at, pos, sizeof pos));
            fputs(", and has not started: it needs a free worker", c->out);
        } else if (w->state && strcmp(w->state, "running") == 0) {
            fputs(", which is running", c->out);
            if (w->runner >= 0) {
                fputs(" on ", c->out);
                thread_link(c, anchor, threads, n, w->runner);
            }
        } else {
            fputs(" (its state is not known)", c->out);
        }
        fputs("</dd>\n", c->out);
    }
    const pg_task_ref *s = &t->submitted_task;
    if (s->present && !(w->present && w->address == s->address)) {
        const char *name = describe_task_name(p, &s->function, s->address);
        fprintf(c->out, "<dt>submitted</dt><dd>task <span class=\"mono\">0x%" PRIx64 "</span>", s->address);
        if (name) {
            fputs(" (<b>", c->out);
            esc(c, name);
            fputs("</b>)", c->out);
        }
        fputs(" to its own pool before this wait; it is <b>still queued</b>", c->out);
        if (s->position > 0)
            fprintf(c->out, ", %s in line", describe_ordinal(s->position, pos, sizeof pos));
        fputs("</dd>\n", c->out);
    }
}

static void thread_section(hctx *c, const pg_finding *f, const pg_mthread *t, const char *anchor,
                           const pg_mthread *threads, size_t n, int64_t report_ms)
{
    char label[128], id[96];
    snprintf(id, sizeof id, "%s-t%ld", anchor, t->tid);
    render_thread_label(t, label, sizeof label);
    bool pool = f && f->pool_info.present;
    const char *role = render_role_words(t, pool, f && f->kind_id == PG_KIND_STALL);
    fprintf(c->out, "<section class=\"thread\" id=\"%s\">\n<h3>", id);
    esc(c, label);
    if (role || t->is_main) {
        fputs(" <span class=\"role\">&mdash; ", c->out);
        esc(c, role ? role : "");
        if (t->is_main && !(t->name && strcmp(t->name, "main") == 0))
            fprintf(c->out, "%smain thread", role ? ", " : "");
        fputs("</span>", c->out);
    }
    fputs("</h3>\n<dl class=\"facts\">\n", c->out);
    bool submitter = pool && t->role_id == PG_ROLE_SUBMITTER;
    if (submitter && !t->blocked.present)
        fputs("<dt>waits</dt><dd>running; the stack below is where it last queued work</dd>\n", c->out);
    else
        wait_fact(c, &t->blocked, report_ms, anchor, threads, n);
    if (pool)
        task_facts(c, &f->pool_info, t, anchor, threads, n);
    for (size_t i = 0; i < t->nholds; i++) {
        const pg_lock *l = &t->holds[i];
        char lock[3 * PG_MAX_STRING + 800], where[PG_MAX_STRING + 600];
        fputs("<dt>holds</dt><dd><b>", c->out);
        esc(c, describe_lock(l->name, l->kind, l->address, lock, sizeof lock));
        fputs("</b>", c->out);
        const pg_frame *fr = l->where.nframes ? &l->where.frames[0] : NULL;
        if (fr && fr->function) {
            fputs(", taken in ", c->out);
            esc(c, describe_frame(fr, where, sizeof where));
        }
        fputs("</dd>\n", c->out);
    }
    if (t->start.nframes && t->start.frames[t->start.nframes - 1].function) {
        fputs("<dt>started at</dt><dd><code>", c->out);
        esc(c, t->start.frames[t->start.nframes - 1].function);
        fputs("</code></dd>\n", c->out);
    }
    fputs("</dl>\n", c->out);
    char fold_id[128];
    if (t->python.nframes) {
        /* The Python stack is the program's; the native one is the interpreter running it. */
        fputs("<h4>stack (Python)</h4>\n", c->out);
        snprintf(fold_id, sizeof fold_id, "%s-py", id);
        stack_list(c, &t->python, fold_id);
        if (t->stack.nframes && !c->o->native && !c->o->all_frames) {
            fputs("<details class=\"fold native\">", c->out);
            fold_summary(c, t->stack.frames, t->stack.nframes, "native ");
            fprintf(c->out, "<ol class=\"stack\" id=\"%s-native\">\n", id);
            for (size_t i = 0; i < t->stack.nframes; i++)
                frame_item(c, &t->stack.frames[i], i, false);
            fputs("</ol></details>\n", c->out);
            return (void)fputs("</section>\n", c->out);
        }
        if (!t->stack.nframes)
            return (void)fputs("</section>\n", c->out);
        fputs("<h4>native stack</h4>\n", c->out);
    } else {
        fputs("<h4>stack</h4>\n", c->out);
    }
    stack_list(c, &t->stack, id);
    fputs("</section>\n", c->out);
}

/* ----- Findings ----- */

static void graph_figure(hctx *c, char *dot, const char *caption)
{
    if (!dot)
        return;
    if (c->no_dot || c->graphs >= MAX_GRAPHS) {
        if (!c->no_dot)
            fputs("<p class=\"meta\">(Only the first findings' graphs are drawn.)</p>\n", c->out);
        free(dot);
        return;
    }
    char *svg = NULL;
    int ret = render_svg_from_dot(dot, &svg);
    free(dot);
    if (ret == -ENOENT) {
        c->no_dot = true;
        fputs("<p class=\"meta\">(The wait-for graph needs Graphviz <code>dot</code>, which was not "
              "found.)</p>\n", c->out);
        return;
    }
    const char *start = svg ? strstr(svg, "<svg") : NULL;
    if (!start) {
        free(svg);
        return;
    }
    c->graphs++;
    /* Inline SVG in HTML5 starts at the <svg> element: the XML prolog and doctype are dropped. */
    fputs("<figure class=\"graph\"><div class=\"tools\" hidden>zoom: "
          "<button type=\"button\" data-zoom=\"1.25\">+</button>"
          "<button type=\"button\" data-zoom=\"0.8\">&minus;</button>"
          "<button type=\"button\" data-zoom=\"fit\">fit width</button>"
          "<button type=\"button\" data-zoom=\"1\">100%</button> "
          "(or ctrl+wheel; drag to pan)</div>\n<div class=\"viewport\">", c->out);
    fputs(start, c->out);
    fputs("</div><figcaption>", c->out);
    esc(c, caption);
    fputs("</figcaption></figure>\n", c->out);
    free(svg);
}

static void cycle_chain(hctx *c, const pg_finding *f, const char *anchor)
{
    char lock[3 * PG_MAX_STRING + 800];
    fputs("<h4>the cycle</h4>\n<ol class=\"chain\">\n", c->out);
    for (size_t i = 0; i < f->ncycle; i++) {
        const pg_edge *e = &f->cycle[i];
        fputs("<li>", c->out);
        thread_link(c, anchor, f->threads, f->nthreads, e->tid);
        fputs("</li>\n<li><span class=\"arrow\">&darr;</span>waits on <b>", c->out);
        esc(c, describe_lock(e->name, e->kind, e->address, lock, sizeof lock));
        fputs("</b>, held by</li>\n", c->out);
    }
    fputs("<li>", c->out);
    thread_link(c, anchor, f->threads, f->nthreads, f->cycle[0].tid);
    fputs(" <span class=\"meta\">(back to the start)</span></li>\n</ol>\n", c->out);
}

static void order_section(hctx *c, const pg_finding *f, const char *anchor)
{
    char lock[3 * PG_MAX_STRING + 800], label[128], where[PG_MAX_STRING + 600], id[96];
    fputs("<h4>the cycle of lock orders</h4>\n<ol class=\"chain\">\n", c->out);
    for (size_t i = 0; i < f->norder; i++) {
        const pg_order_edge *e = &f->order[i];
        pg_mthread t = { .tid = e->tid, .name = e->name };
        fprintf(c->out, "<li><b>lock %c</b>: ", (char)('A' + (i % 26)));
        esc(c, describe_lock(e->first_name, e->first_kind, e->first, lock, sizeof lock));
        fprintf(c->out, "</li>\n<li><span class=\"arrow\">&darr;</span>then lock %c, taken by "
                "<a href=\"#%s-e%zu\">", (char)('A' + ((i + 1) % f->norder % 26)), anchor, i + 1);
        esc(c, render_thread_label(&t, label, sizeof label));
        fputs("</a></li>\n", c->out);
    }
    fputs("<li><b>lock A</b> <span class=\"meta\">(back to the start)</span></li>\n</ol>\n", c->out);
    for (size_t i = 0; i < f->norder; i++) {
        const pg_order_edge *e = &f->order[i];
        pg_mthread t = { .tid = e->tid, .name = e->name };
        snprintf(id, sizeof id, "%s-e%zu", anchor, i + 1);
        fprintf(c->out, "<section class=\"thread edge\" id=\"%s\">\n<h3>", id);
        esc(c, render_thread_label(&t, label, sizeof label));
        fprintf(c->out, " <span class=\"role\">&mdash; took lock %c, then lock %c</span></h3>\n"
                "<dl class=\"facts\">\n", (char)('A' + (i % 26)), (char)('A' + ((i + 1) % f->norder % 26)));
        const pg_frame *fa = e->first_at.nframes ? &e->first_at.frames[0] : NULL;
        fputs("<dt>first</dt><dd><b>", c->out);
        esc(c, describe_lock(e->first_name, e->first_kind, e->first, lock, sizeof lock));
        fputs("</b>", c->out);
        if (fa && fa->function) {
            fputs(", taken in ", c->out);
            esc(c, describe_frame(fa, where, sizeof where));
        }
        fputs("</dd>\n<dt>then</dt><dd><b>", c->out);
        esc(c, describe_lock(e->then_name, e->then_kind, e->then, lock, sizeof lock));
        fputs("</b>, taken here:</dd>\n</dl>\n", c->out);
        stack_list(c, &e->stack, id);
        fputs("</section>\n", c->out);
    }
}

static void pool_facts(hctx *c, const pg_finding *f)
{
    const pg_pool *p = &f->pool_info;
    char desc[1200], where[PG_MAX_STRING + 600];
    fputs("<h4>the pool</h4>\n<dl class=\"facts\">\n<dt>pool</dt><dd><b>", c->out);
    esc(c, describe_pool(p, desc, sizeof desc));
    fputs("</b></dd>\n", c->out);
    if (p->workers >= 0) {
        fprintf(c->out, "<dt>workers</dt><dd>%ld", p->workers);
        if (p->declared_workers >= 0 && p->declared_workers != p->workers)
            fprintf(c->out, " (%ld declared)", p->declared_workers);
        if (p->max_workers >= 0)
            fprintf(c->out, ", at most %ld at once", p->max_workers);
        fputs("</dd>\n", c->out);
    }
    if (p->queued >= 0)
        fprintf(c->out, "<dt>queued</dt><dd>%s%ld task%s%s</dd>\n", p->queued_exact ? "" : "about ",
                p->queued, p->queued == 1 ? "" : "s", p->queued_exact ? " (counted exactly)" : " (estimated)");
    if (p->proof >= 0)
        fprintf(c->out, "<dt>proof</dt><dd>%s</dd>\n",
                p->proof == PG_PROOF_GRAPH ? "the wait-for graph: every worker is stuck and no thread "
                                             "outside can wake one"
                : p->proof == PG_PROOF_EXACT ? "exact: a worker waits on a task still queued in this "
                                               "pool while every worker is blocked"
                : p->proof == PG_PROOF_INFERRED ? "none, inferred from how the threads wait (a warning at most)"
                                                : "none: the workers have only been blocked for long");
    if (p->source >= 0) {
        fputs("<dt>known from</dt><dd>", c->out);
        esc(c, p->source == PG_SRC_ANNOTATION ? "the program's annotations (poolguard.h)"
               : p->source == PG_SRC_ADAPTER  ? "poolguard's library adapter"
               : p->source == PG_SRC_PYTHON   ? "the Python interpreter"
                                              : "inference from how its threads wait");
        fputs("</dd>\n", c->out);
    }
    if (p->nqueued_tasks) {
        fputs("<dt>next to run</dt><dd><ol class=\"queue\">", c->out);
        for (size_t i = 0; i < p->nqueued_tasks; i++) {
            const pg_task_ref *q = &p->queued_tasks[i];
            const char *name = describe_function(&q->function);
            if (q->position > 0)
                fprintf(c->out, "<li value=\"%ld\">", q->position);
            else
                fputs("<li>", c->out);
            if (name)
                esc(c, describe_frame(&q->function.sym.frames[q->function.sym.nframes - 1], where, sizeof where));
            else
                fputs("(function not known)", c->out);
            fprintf(c->out, " <span class=\"mono meta\">task 0x%" PRIx64 "</span></li>", q->address);
        }
        fputs("</ol></dd>\n", c->out);
    }
    const pg_frame *created = stack_first_own_frame(&p->create_stack);
    if (created) {
        fputs("<dt>created</dt><dd>in ", c->out);
        esc(c, describe_frame(created, where, sizeof where));
        fputs("</dd>\n", c->out);
    }
    if (f->growth.present && f->growth.per_second >= 0)
        fprintf(c->out, "<dt>growth</dt><dd>+%" PRId64 " tasks per second</dd>\n", f->growth.per_second);
    fputs("</dl>\n", c->out);
}

static void finding_section(hctx *c, const pg_finding *f, size_t no)
{
    char anchor[32], when[64];
    snprintf(anchor, sizeof anchor, "f%zu", no);
    const char *sev = severity_name(f->sev);
    fprintf(c->out, "<section class=\"finding sev-%s\" id=\"%s\" data-kind=\"", sev, anchor);
    esc(c, f->kind);
    fprintf(c->out, "\" data-severity=\"%s\">\n<h2><span class=\"badge %s\">%s</span> ", sev, sev, sev);
    esc(c, f->kind);
    fputs(" <span class=\"role\">in ", c->out);
    esc(c, render_exe_name(f->proc));
    fprintf(c->out, " (pid %ld)</span></h2>\n<p class=\"sentence\">", f->proc ? f->proc->pid : -1L);
    esc(c, f->summary ? f->summary : "(no summary)");
    fputs("</p>\n", c->out);
    clock_time(f->time_unix_ms, when, sizeof when);
    fputs("<p class=\"meta\">", c->out);
    if (*when)
        fprintf(c->out, "reported at %s; ", when);
    if (f->proc && f->proc->exe) {
        esc(c, f->proc->exe);
        fputs("; ", c->out);
    }
    fprintf(c->out, "%zu thread%s", f->nthreads, f->nthreads == 1 ? "" : "s");
    if (f->count > 1)
        fprintf(c->out, "; seen %u times", f->count);
    fputs("</p>\n", c->out);
    if (f->ncycle)
        cycle_chain(c, f, anchor);
    else if (f->hang)
        fputs("<p>Every thread is blocked and none is left to wake the others.</p>\n", c->out);
    if (f->pool_info.present)
        pool_facts(c, f);
    graph_figure(c, render_dot_finding(f, anchor),
                 f->norder ? "The cycle of lock orders: each edge is one thread taking the next lock "
                             "while holding the one before."
                           : f->ncycle ? "The wait-for graph: an edge points from who waits to what it "
                                         "waits for; the cycle is red. Thread nodes link to their sections below."
                                       : "The wait-for graph: an edge points from who waits to what it "
                                         "waits for; what proves the finding is red. Thread nodes link to "
                                         "their sections below.");
    if (f->norder)
        order_section(c, f, anchor);
    for (size_t i = 0; i < f->nthreads; i++)
        thread_section(c, f, &f->threads[i], anchor, f->threads, f->nthreads, f->time_unix_ms);
    if (f->threads_dropped)
        fprintf(c->out, "<p class=\"meta\">&hellip; %zu more threads not shown</p>\n", f->threads_dropped);
    fputs("</section>\n", c->out);
}

static void snapshot_section(hctx *c, const pg_snapshot *s, size_t no)
{
    char anchor[32];
    snprintf(anchor, sizeof anchor, "s%zu", no);
    size_t blocked = 0;
    for (size_t i = 0; i < s->nthreads; i++)
        blocked += s->threads[i].blocked.present;
    bool timeout = s->reason && strcmp(s->reason, "request") == 0;
    fprintf(c->out, "<section class=\"snapshot\" id=\"%s\" data-kind=\"snapshot\" data-severity=\"info\">\n"
            "<h2><span class=\"badge info\">%s</span> <span class=\"role\">of ", anchor,
            timeout ? "time-out snapshot" : "snapshot");
    esc(c, render_exe_name(s->proc));
    fprintf(c->out, " (pid %ld)</span></h2>\n<p class=\"sentence\">%zu thread%s, %zu blocked: where each "
            "thread was when the program was stopped.</p>\n", s->proc ? s->proc->pid : -1L, s->nthreads,
            s->nthreads == 1 ? "" : "s", blocked);
    graph_figure(c, render_dot_snapshot(s, anchor),
                 "What each thread waited on when the snapshot was taken. Thread nodes link to their sections below.");
    for (size_t i = 0; i < s->nthreads; i++)
        thread_section(c, NULL, &s->threads[i], anchor, s->threads, s->nthreads, s->time_unix_ms);
    fputs("</section>\n", c->out);
}

/* ----- The page ----- */

static void summary_row(hctx *c, const char *anchor, const char *sev, const char *kind,
                        const char *sentence, const pg_process *p)
{
    fputs("<tr data-kind=\"", c->out);
    esc(c, kind);
    fprintf(c->out, "\" data-severity=\"%s\"><td><a href=\"#%s\">%s</a></td><td><span class=\"badge %s\">%s"
            "</span></td><td>", sev, anchor, anchor, sev, sev);
    esc(c, kind);
    fputs("</td><td>", c->out);
    esc(c, sentence);
    fputs("</td><td>", c->out);
    esc(c, render_exe_name(p));
    fprintf(c->out, " (pid %ld)</td></tr>\n", p ? p->pid : -1L);
}

/* A checkbox per kind and severity on the page (the script shows them). */
static void filters(hctx *c, const char *const *kinds, size_t nkinds, const bool sevs[4])
{
    fputs("<form id=\"filters\" hidden><fieldset><legend>severity</legend>", c->out);
    for (int s = PG_SEV_ERROR; s >= PG_SEV_INFO; s--)
        if (sevs[s])
            fprintf(c->out, "<label><input type=\"checkbox\" name=\"severity\" value=\"%s\" checked> %s</label>",
                    severity_name((pg_severity)s), severity_name((pg_severity)s));
    fputs("</fieldset><fieldset><legend>kind</legend>", c->out);
    for (size_t i = 0; i < nkinds; i++) {
        fputs("<label><input type=\"checkbox\" name=\"kind\" value=\"", c->out);
        esc(c, kinds[i]);
        fputs("\" checked> ", c->out);
        esc(c, kinds[i]);
        fputs("</label>", c->out);
    }
    fputs("</fieldset></form>\n", c->out);
}

int render_html(pg_report *r, const render_opts *o, FILE *out)
{
    hctx c = { .out = out, .o = o };
    size_t n, ns, shown = 0;
    pg_finding **f = report_findings(r, &n);
    pg_snapshot **s = report_snapshots(r, &ns);
    const char *kinds[16];
    size_t nkinds = 0;
    bool sevs[4] = { false };
    for (size_t i = 0; i < n; i++) {
        if (!render_finding_visible(f[i], o))
            continue;
        shown++;
        sevs[f[i]->sev] = true;
        bool seen = false;
        for (size_t k = 0; k < nkinds; k++)
            seen |= strcmp(kinds[k], f[i]->kind) == 0;
        if (!seen && nkinds < 15)
            kinds[nkinds++] = f[i]->kind;
    }
    if (ns) {
        sevs[PG_SEV_INFO] = true;
        kinds[nkinds++] = "snapshot";
    }
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                 "<title>poolguard: %zu finding%s</title><style>%s</style></head><body>\n",
            shown, shown == 1 ? "" : "s", style);
    fprintf(out, "<header><h1>poolguard: %zu finding%s%s</h1>\n", shown, shown == 1 ? "" : "s",
            ns ? (o->timed_out ? ", and where every thread was at the time-out" : ", and snapshots") : "");
    if (o->timed_out)
        fputs("<p>The program ran past its time-out without a proven deadlock; the snapshot shows "
              "where each thread was.</p>\n", out);
    if (shown || ns) {
        filters(&c, kinds, nkinds, sevs);
        fputs("<table class=\"summary\"><thead><tr><th>#</th><th>severity</th><th>kind</th>"
              "<th>what happened</th><th>process</th></tr></thead><tbody>\n", out);
        size_t no = 0;
        for (size_t i = 0; i < n; i++) {
            if (!render_finding_visible(f[i], o))
                continue;
            char anchor[32];
            snprintf(anchor, sizeof anchor, "f%zu", ++no);
            summary_row(&c, anchor, severity_name(f[i]->sev), f[i]->kind,
                        f[i]->summary ? f[i]->summary : "(no summary)", f[i]->proc);
        }
        for (size_t i = 0; i < ns; i++) {
            char anchor[32], words[128];
            snprintf(anchor, sizeof anchor, "s%zu", i + 1);
            snprintf(words, sizeof words, "where each of %zu threads was", s[i]->nthreads);
            summary_row(&c, anchor, pg_sev_name(PG_SEV_INFO), "snapshot", words, s[i]->proc);
        }
        fputs("</tbody></table>\n", out);
    } else {
        fputs("<p>No finding: no deadlock, pool exhaustion or lock-order problem was seen.</p>\n", out);
    }
    fputs("</header>\n<main>\n", out);
    size_t no = 0;
    for (size_t i = 0; i < n; i++)
        if (render_finding_visible(f[i], o))
            finding_section(&c, f[i], ++no);
    for (size_t i = 0; i < ns; i++)
        snapshot_section(&c, s[i], i + 1);
    fprintf(out, "</main>\n<footer class=\"meta\"><p>poolguard %s</p></footer>\n<script>%s</script>\n"
                 "</body></html>\n", PG_TOOL_VERSION, script);
    return ferror(out) ? -EIO : 0;
}
