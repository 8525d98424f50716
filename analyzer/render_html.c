/*
 * One self-contained HTML page: no scripts, no external files. The wait-for graph is inlined as
 * SVG (when Graphviz is installed; the page says so when it is not), then each finding as the
 * text report shows it, every thread's stack included.
 */
#include "render.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xml_escape.h"

static const char style[] =
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}"
    "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}"
    ".error{color:#b00}.warning{color:#a60}.info{color:#06a}"
    "pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:.9em}"
    ".graph svg{max-width:100%;height:auto}";

int render_html(pg_report *r, const render_opts *o, FILE *out)
{
    render_opts plain = *o;
    plain.color = false;
    size_t n, shown = 0;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++)
        shown += render_finding_visible(f[i], o);
    size_t ns;
    pg_snapshot **s = report_snapshots(r, &ns);
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<title>poolguard report</title><style>%s</style></head><body>\n", style);
    fprintf(out, "<h1>poolguard: %zu finding%s%s</h1>\n", shown, shown == 1 ? "" : "s",
            o->timed_out ? " (the program ran past its time-out)" : "");
    char *svg = NULL;
    int sr = (shown || ns) ? render_svg_string(r, o, &svg) : 0;
    if (svg) {
        /* Inline SVG in HTML5 starts at the <svg> element: drop the XML prolog and doctype. */
        const char *start = strstr(svg, "<svg");
        fprintf(out, "<div class=\"graph\">%s</div>\n", start ? start : "");
        free(svg);
    } else if (sr == -ENOENT) {
        fprintf(out, "<p>(The wait-for graph needs Graphviz <code>dot</code>, which was not found.)</p>\n");
    }
    for (size_t i = 0; i < n; i++) {
        if (!render_finding_visible(f[i], o))
            continue;
        const char *sev = severity_name(f[i]->sev);
        fprintf(out, "<h2 class=\"%s\">%s: ", sev, sev);
        xml_escape(out, f[i]->kind);
        fprintf(out, " &mdash; ");
        xml_escape(out, f[i]->summary ? f[i]->summary : "");
        fprintf(out, "</h2>\n<pre>");
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (m) {
            render_text_finding(f[i], &plain, m);
            fclose(m);
            xml_escape(out, buf);
            free(buf);
        }
        fprintf(out, "</pre>\n");
    }
    for (size_t i = 0; i < ns; i++) {
        fprintf(out, "<h2 class=\"info\">snapshot</h2>\n<pre>");
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (m) {
            render_text_snapshot(s[i], &plain, m);
            fclose(m);
            xml_escape(out, buf);
            free(buf);
        }
        fprintf(out, "</pre>\n");
    }
    fprintf(out, "</body></html>\n");
    return ferror(out) ? -EIO : 0;
}
