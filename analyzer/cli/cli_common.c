/*
 * The options and the final step shared by `report` and `run` (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "analyze.h"
#include "symbolize.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("poolguard: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

long long cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cli_opts_init(cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->render.format = PG_FMT_TEXT;
    o->render.min_severity = PG_SEV_WARNING;
    o->fail_on = PG_SEV_ERROR;
    o->color = -1;
    o->default_out = stdout;
}

static int parse_level(const char *arg, const char *opt, bool allow_none, int *out)
{
    pg_severity s = severity_parse(arg);
    if (s != PG_SEV_NONE) {
        *out = (int)s;
        return 1;
    }
    if (allow_none && strcmp(arg, "none") == 0) {
        *out = PG_FAIL_NEVER;
        return 1;
    }
    cli_error("%s: unknown level '%s' (error, warning, info%s)", opt, arg,
              allow_none ? ", none" : "");
    return -1;
}

int cli_handle_common(cli_opts *o, int c, const char *arg)
{
    switch (c) {
    case 'f':
        if (format_parse(arg, &o->render.format) < 0) {
            cli_error("--format: unknown format '%s' (text, json, sarif, junit, dot, svg, html)",
                      arg);
            return -1;
        }
        return 1;
    case 'o': o->output = arg; return 1;
    case 0x100: o->svg = arg; return 1;
    case 0x101: return parse_level(arg, "--fail-on", true, &o->fail_on);
    case 0x102: o->suppressions = arg; return 1;
    case 0x103: o->baseline = arg; return 1;
    case 0x104: o->write_baseline = arg; return 1;
    case 0x105:
        if (strcmp(arg, "auto") == 0)
            o->color = -1;
        else if (strcmp(arg, "always") == 0)
            o->color = 1;
        else if (strcmp(arg, "never") == 0)
            o->color = 0;
        else {
            cli_error("--color: expected auto, always or never, not '%s'", arg);
            return -1;
        }
        return 1;
    case 0x106: o->color = 0; return 1;
    case 0x107: o->render.all_frames = true; return 1;
    case 0x109: o->render.native = true; return 1;
    case 0x108: {
        int lvl;
        if (parse_level(arg, "--min-severity", false, &lvl) < 0)
            return -1;
        o->render.min_severity = (pg_severity)lvl;
        o->min_severity_set = true;
        return 1;
    }
    }
    return 0;
}

/* Colour only for people: a terminal, and never when NO_COLOR is set (https://no-color.org). */
static bool want_color(const cli_opts *o, FILE *out)
{
    if (o->color >= 0)
        return o->color == 1;
    const char *nc = getenv("NO_COLOR");
    if (nc && *nc)
        return false;
    return isatty(fileno(out));
}

/* The text report is wrapped for a person at a terminal: its width, else $COLUMNS; a file or a
 * pipe gets lines as long as they are (tools and tests read them whole). */
static int terminal_width(FILE *out)
{
    if (!isatty(fileno(out)))
        return 0;
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *cols = getenv("COLUMNS");
    return cols ? atoi(cols) : 0;
}

static int render_to(pg_report *r, render_opts *ro, const char *path, const cli_opts *o)
{
    FILE *out = o->default_out;
    if (path && strcmp(path, "-") == 0)
        out = stdout;
    else if (path) {
        out = fopen(path, "we");
        if (!out) {
            cli_error("cannot write '%s': %s", path, strerror(errno));
            return -errno;
        }
    }
    ro->color = ro->format == PG_FMT_TEXT && want_color(o, out);
    ro->width = ro->format == PG_FMT_TEXT ? terminal_width(out) : 0;
    int ret = render(r, ro, out);
    if (out != stdout && out != stderr && fclose(out) != 0 && ret == 0)
        ret = -EIO;
    if (ret == -ENOENT && (ro->format == PG_FMT_SVG || ro->format == PG_FMT_HTML))
        cli_error("cannot render %s: Graphviz 'dot' was not found (install graphviz, or use "
                  "--format dot)",
                  ro->format == PG_FMT_SVG ? "SVG" : "HTML");
    else if (ret < 0)
        cli_error("cannot write the report to %s: %s",
                  path            ? path
                  : out == stderr ? "stderr"
                                  : "stdout",
                  strerror(-ret));
    return ret;
}

int cli_finish(pg_report *r, cli_opts *o)
{
    int status = 0;
    /* What fails the gate must be shown: --fail-on info shows info findings too. */
    if (!o->min_severity_set && o->fail_on < (int)o->render.min_severity)
        o->render.min_severity = (pg_severity)o->fail_on;
    /* libdw would ask debuginfod servers for every library without local debug info: minutes
     * of network in a CI job, for frames that are folded anyway. Only when asked. */
    if (!getenv("POOLGUARD_DEBUGINFOD"))
        unsetenv("DEBUGINFOD_URLS");
    symbolizer *sym = symbolizer_new(stderr);
    if (!sym || symbolizer_run(sym, r) < 0 || analyze_dedup(r) < 0) {
        cli_error("out of memory");
        symbolizer_free(sym);
        return PG_EXIT_ERROR;
    }
    symbolizer_free(sym);
    if (o->suppressions) {
        int err;
        suppressions *s = suppressions_load(o->suppressions, stderr, &err);
        if (!s)
            return PG_EXIT_ERROR;
        suppressions_apply(s, r);
        suppressions_free(s);
    }
    if (o->write_baseline) {
        int err = baseline_write(r, o->write_baseline);
        if (err < 0) {
            cli_error("cannot write baseline '%s': %s", o->write_baseline, strerror(-err));
            status = PG_EXIT_ERROR;
        }
    }
    if (o->baseline) {
        int err;
        baseline *b = baseline_load(o->baseline, stderr, &err);
        if (!b)
            return PG_EXIT_ERROR;
        baseline_apply(b, r);
        baseline_free(b);
    }
    if (render_to(r, &o->render, o->output, o) < 0)
        status = PG_EXIT_ERROR;
    if (o->svg) {
        render_opts svg = o->render;
        svg.format = PG_FMT_SVG;
        if (render_to(r, &svg, o->svg, o) < 0)
            status = PG_EXIT_ERROR;
    }
    if (status)
        return status;
    size_t n;
    pg_finding **f = report_findings(r, &n);
    /* A stall proves nothing: it is shown when asked for, and never fails, not even with
     * --fail-on info (which fails on other info findings). */
    for (size_t i = 0; i < n; i++)
        if (pg_finding_shown(f[i]) && (int)f[i]->sev >= o->fail_on &&
            f[i]->kind_id != PG_KIND_STALL)
            return PG_EXIT_FINDINGS;
    return 0;
}
