/*
 * What the subcommands share: exit codes, the render/noise-control options, and the last step
 * of every command (analyse, render, decide the exit code).
 */
#ifndef POOLGUARD_CLI_H
#define POOLGUARD_CLI_H

#include <getopt.h>

#include "render.h"
#include "report.h"

/* Fixed and documented (docs/cli.md). 124..127 follow timeout(1) and env(1). */
enum {
    PG_EXIT_FINDINGS = 66,  /* a finding at or above --fail-on */
    PG_EXIT_TIMEOUT = 124,  /* run: the time-out expired first */
    PG_EXIT_ERROR = 125,    /* poolguard's own error: usage, unreadable input, ... */
    PG_EXIT_NOEXEC = 126,   /* run: the command cannot be executed */
    PG_EXIT_NOTFOUND = 127, /* run: the command was not found */
};

enum { PG_FAIL_NEVER = PG_SEV_ERROR + 1 };

typedef struct cli_opts {
    render_opts render;
    const char *output;
    const char *svg;
    int fail_on; /* a pg_severity, or PG_FAIL_NEVER */
    const char *suppressions;
    const char *baseline;
    const char *write_baseline;
    int color;             /* -1 auto, 0 never, 1 always */
    bool min_severity_set; /* --min-severity given; otherwise it follows a lower --fail-on */
    FILE *default_out; /* where the report goes without --output (report: stdout; run: stderr) */
} cli_opts;

/* Long options every rendering command accepts; their values are >= 0x100. */
#define CLI_COMMON_LONGOPTS                                                                        \
    { "format", required_argument, NULL, 'f' }, { "output", required_argument, NULL, 'o' },        \
        { "svg", required_argument, NULL, 0x100 }, { "fail-on", required_argument, NULL, 0x101 },  \
        { "suppressions", required_argument, NULL, 0x102 },                                        \
        { "baseline", required_argument, NULL, 0x103 },                                            \
        { "write-baseline", required_argument, NULL, 0x104 },                                      \
        { "color", required_argument, NULL, 0x105 }, { "no-color", no_argument, NULL, 0x106 },     \
        { "all-frames", no_argument, NULL, 0x107 },                                                \
        { "min-severity", required_argument, NULL, 0x108 },                                        \
    {                                                                                              \
        "native", no_argument, NULL, 0x109                                                         \
    }

#define CLI_COMMON_HELP                                                                            \
    "  -f, --format FMT        text (default), json, sarif, junit, dot, svg, html\n"               \
    "  -o, --output FILE       write the rendered report to FILE instead of stdout\n"              \
    "      --svg FILE          also write the wait-for graph as SVG (needs Graphviz dot)\n"        \
    "      --fail-on LEVEL     error (default), warning, info or none: findings at or\n"           \
    "                          above LEVEL make the exit status 66\n"                              \
    "      --min-severity LVL  hide findings below LVL (default warning)\n"                        \
    "      --suppressions FILE hide findings matching the rules in FILE\n"                         \
    "      --baseline FILE     hide findings listed in FILE (from --write-baseline)\n"             \
    "      --write-baseline FILE  write the current findings as a baseline\n"                      \
    "      --color WHEN        auto (default), always, never; NO_COLOR turns auto off\n"           \
    "      --no-color          same as --color never\n"                                            \
    "      --all-frames        do not fold shim and libc frames in stacks\n"                       \
    "      --native            show Python threads' interpreter frames (folded by default)\n"

#define CLI_EXIT_HELP                                                                              \
    "Exit status:\n"                                                                               \
    "   0   no finding at or above --fail-on (run: the program's own status instead)\n"            \
    "  66   a finding at or above --fail-on\n"                                                     \
    " 124   run: the --timeout expired (a snapshot of every thread is shown)\n"                    \
    " 125   poolguard's own error (bad option, unreadable input, ...)\n"                           \
    " 126   run: the command cannot be executed;  127: the command was not found\n"

void cli_opts_init(cli_opts *o);
/* Handles a common option; returns 1 handled, 0 not a common option, -1 bad value (reported). */
int cli_handle_common(cli_opts *o, int c, const char *arg);
/* Prints "poolguard: error: ..." on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Milliseconds of CLOCK_MONOTONIC, for time-outs and deadlines. */
long long cli_now_ms(void);

/* Symbolizes, folds repeats, applies suppressions and baseline, renders to --output (or stdout)
 * and --svg, writes --write-baseline. Returns PG_EXIT_ERROR on a failure of its own, else
 * PG_EXIT_FINDINGS when a shown finding is at or above --fail-on, else 0. */
int cli_finish(pg_report *r, cli_opts *o);

int cmd_report(int argc, char **argv);
int cmd_run(int argc, char **argv);

#endif
