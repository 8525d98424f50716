/*
 * JUnit XML for CI systems that show test results: one testcase per shown finding (a failure for
 * errors and warnings, a passing case with the details for info), and a single passing testcase
 * when there is nothing to report, so the CI page says poolguard ran. Each failure carries the
 * finding as the text report shows it.
 */
#include "render.h"

#include <errno.h>
#include <stdlib.h>

#include "xml_escape.h"

static char *finding_text(const pg_finding *f, const render_opts *o)
{
    render_opts plain = *o;
    plain.color = false;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return NULL;
    render_text_finding(f, &plain, m);
    fclose(m);
    return buf;
}

int render_junit(pg_report *r, const render_opts *o, FILE *out)
{
    size_t n, tests = 0, failures = 0;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++)
        if (render_finding_visible(f[i], o)) {
            tests++;
            failures += f[i]->sev >= PG_SEV_WARNING;
        }
    size_t shown_tests = tests ? tests : 1;
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(out, "<testsuites name=\"poolguard\" tests=\"%zu\" failures=\"%zu\" errors=\"0\">\n",
            shown_tests, failures);
    fprintf(out,
            "  <testsuite name=\"poolguard\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
            "skipped=\"0\">\n",
            shown_tests, failures);
    if (tests == 0)
        fprintf(out, "    <testcase classname=\"poolguard\" name=\"no deadlock or pool exhaustion "
                     "found\"/>\n");
    for (size_t i = 0; i < n; i++) {
        if (!render_finding_visible(f[i], o))
            continue;
        char *text = finding_text(f[i], o);
        fprintf(out, "    <testcase classname=\"poolguard.");
        xml_escape(out, f[i]->kind);
        fprintf(out, "\" name=\"");
        xml_escape(out, f[i]->summary ? f[i]->summary : f[i]->kind);
        fprintf(out, " (%s, pid %ld)\">\n", render_exe_name(f[i]->proc),
                f[i]->proc ? f[i]->proc->pid : -1L);
        if (f[i]->sev >= PG_SEV_WARNING) {
            fprintf(out, "      <failure type=\"");
            xml_escape(out, f[i]->kind);
            fprintf(out, "\" message=\"");
            xml_escape(out, f[i]->summary ? f[i]->summary : f[i]->kind);
            fprintf(out, "\">");
            xml_escape(out, text);
            fprintf(out, "</failure>\n");
        } else {
            fprintf(out, "      <system-out>");
            xml_escape(out, text);
            fprintf(out, "</system-out>\n");
        }
        fprintf(out, "    </testcase>\n");
        free(text);
    }
    fprintf(out, "  </testsuite>\n</testsuites>\n");
    return ferror(out) ? -EIO : 0;
}
