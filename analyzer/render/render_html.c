/*
 * The HTML report: one self-contained page (no network, no external file) that works when
 * opened from a CI artifact. At the top a summary of every finding (severity, kind, its
 * sentence, the process), then each finding with its graph and its threads
 * (render_html_int.h says which file writes what). Here: the page itself, its style and
 * script, the summary table and the filters.
 *
 * Every word is in the HTML itself; the few lines of script only add the filters by kind and
 * severity and the graphs' zoom and pan, so the page reads the same without JavaScript. Reads
 * the model only.
 */
#include "render_html_int.h"

#include <errno.h>
#include <string.h>

static const char style[] =
    ":root{--err:#b3261e;--warn:#9a5b00;--info:#1b5e9a;--line:#ddd;--muted:#666}"
    "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;padding:1em 2em "
    "4em;max-width:95em;color:#222}"
    "h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.2em;margin:0 0 "
    ".4em}h3{font-size:1.05em;margin:.2em 0}"
    "h4{font-size:.95em;margin:.8em 0 .2em;color:var(--muted)}"
    "a{color:#0b57d0}code,pre,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:."
    "9em}"
    ".badge{display:inline-block;padding:0 .5em;border-radius:.7em;color:#fff;font-size:.8em;"
    "font-weight:600;vertical-align:middle;text-transform:uppercase}"
    ".badge.error{background:var(--err)}.badge.warning{background:var(--warn)}.badge.info{"
    "background:var(--info)}"
    "table.summary{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}"
    ".summary th,.summary td{border-bottom:1px solid var(--line);padding:.35em "
    ".5em;text-align:left;vertical-align:top}"
    ".summary th{font-size:.85em;color:var(--muted);font-weight:600}"
    "#filters{margin:.5em 0;font-size:.9em}#filters fieldset{display:inline-block;border:1px solid "
    "var(--line);"
    "margin-right:1em;padding:.2em .7em}#filters label{margin-right:.8em;white-space:nowrap}"
    "section.finding,section.snapshot{border:1px solid var(--line);border-left:6px solid "
    "var(--info);"
    "border-radius:4px;padding:1em 1.2em;margin:1.5em 0}"
    "section.sev-error{border-left-color:var(--err)}section.sev-warning{border-left-color:var(--"
    "warn)}"
    ".sentence{font-size:1.05em;margin:.3em 0 .8em}.meta{color:var(--muted);font-size:.85em}"
    "ol.chain{list-style:none;padding-left:1em;margin:.3em 0}ol.chain li{margin:.1em 0}"
    "ol.chain .arrow{color:var(--err);font-weight:700;margin-right:.4em}"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.4em 0}"
    "dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}"
    "figure.graph{margin:1em 0}figure.graph .viewport{overflow:auto;max-height:75vh;border:1px "
    "solid var(--line);"
    "border-radius:4px;background:#fff;cursor:grab}figure.graph .viewport svg{display:block}"
    "figure.graph .tools{font-size:.85em;margin-bottom:.3em}figure.graph .tools "
    "button{margin-right:.3em}"
    "figcaption{color:var(--muted);font-size:.85em}"
    "section.thread{border-top:1px solid var(--line);padding:.6em 0 .4em;margin-top:.6em}"
    "section.thread:target{background:#fffbe6}.role{color:var(--muted);font-weight:400}"
    "ol.stack{margin:.2em 0;padding-left:3em}ol.stack li{margin:.1em 0}ol.stack "
    "li.fold{list-style:none}"
    "ol.stack li.own .fn{font-weight:600}ol.stack li.lib{color:#444}ol.stack "
    ".loc{color:var(--muted)}"
    "details.fold{color:var(--muted);margin:.1em 0}details.native{margin-left:1.8em}details.fold "
    "summary{cursor:pointer;font-size:.9em}"
    "details.fold ol{padding-left:3em}"
    "pre.src{background:#f6f8fa;border:1px solid #e5e5e5;border-radius:3px;padding:.3em "
    "0;margin:.2em 0 .5em;"
    "overflow-x:auto;max-width:100%}pre.src span{display:block;padding:0 .6em}pre.src "
    ".here{background:#fff1c2}"
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
    "p={x:e.clientX,y:e.clientY,l:v.scrollLeft,t:v.scrollTop};v.style.cursor='grabbing';e."
    "preventDefault()});"
    "window.addEventListener('mousemove',function(e){if(!p)return;v.scrollLeft=p.l-(e.clientX-p.x);"
    "v.scrollTop=p.t-(e.clientY-p.y)});"
    "window.addEventListener('mouseup',function(){p=null;v.style.cursor=''})});"
    "d.documentElement.setAttribute('data-js','ok')})();";

/* ----- The page ----- */

static void summary_row(hctx *c, const char *anchor, const char *sev, const char *kind,
                        const char *sentence, const pg_process *p)
{
    fputs("<tr data-kind=\"", c->out);
    esc(c, kind);
    fprintf(c->out,
            "\" data-severity=\"%s\"><td><a href=\"#%s\">%s</a></td><td><span class=\"badge %s\">%s"
            "</span></td><td>",
            sev, anchor, anchor, sev, sev);
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
            fprintf(c->out,
                    "<label><input type=\"checkbox\" name=\"severity\" value=\"%s\" checked> "
                    "%s</label>",
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
    size_t n, ns, shown = 0, deadlocks = 0;
    pg_finding **f = report_findings(r, &n);
    pg_snapshot **s = report_snapshots(r, &ns);
    const char *kinds[16];
    size_t nkinds = 0;
    bool sevs[4] = { false };
    for (size_t i = 0; i < n; i++) {
        if (!render_finding_visible(f[i], o))
            continue;
        shown++;
        deadlocks += f[i]->kind_id == PG_KIND_DEADLOCK;
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
    fprintf(out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>poolguard: %zu finding%s</title><style>%s</style></head><body>\n",
            shown, shown == 1 ? "" : "s", style);
    fprintf(out, "<header><h1>poolguard: %zu finding%s%s</h1>\n", shown, shown == 1 ? "" : "s",
            ns ? (o->timed_out ? ", and where every thread was at the time-out" : ", and snapshots")
               : "");
    if (o->timed_out)
        fprintf(out,
                "<p>The program ran past its time-out%s; the snapshot shows where each thread "
                "was.</p>\n",
                deadlocks ? "" : " without a proven deadlock");
    if (shown || ns) {
        filters(&c, kinds, nkinds, sevs);
        fputs("<table class=\"summary\"><thead><tr><th>#</th><th>severity</th><th>kind</th>"
              "<th>what happened</th><th>process</th></tr></thead><tbody>\n",
              out);
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
        fputs("<p>No finding: no deadlock, pool exhaustion or lock-order problem was seen.</p>\n",
              out);
    }
    fputs("</header>\n<main>\n", out);
    size_t no = 0;
    for (size_t i = 0; i < n; i++)
        if (render_finding_visible(f[i], o))
            html_finding_section(&c, f[i], ++no);
    for (size_t i = 0; i < ns; i++)
        html_snapshot_section(&c, s[i], i + 1);
    fprintf(out,
            "</main>\n<footer class=\"meta\"><p>poolguard %s</p></footer>\n<script>%s</script>\n"
            "</body></html>\n",
            PG_TOOL_VERSION, script);
    return ferror(out) ? -EIO : 0;
}
