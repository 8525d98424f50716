/*
 * `poolguard report [options] PATH...`: reads saved raw reports (files or directories) and
 * renders them. Unreadable or foreign inputs are errors (exit 125) but do not stop the others
 * from being shown.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: poolguard report [options] PATH...\n"
    "\n"
    "Reads raw poolguard reports (files, directories of *.jsonl files as written by the shim\n"
    "into POOLGUARD_DIR, or - for stdin) and renders their findings.\n"
    "\n"
    "Options:\n" CLI_COMMON_HELP "  -h, --help              show this help\n"
    "\n" CLI_EXIT_HELP;

int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        { "help", no_argument, NULL, 'h' },
        { 0, 0, 0, 0 },
    };
    cli_opts o;
    cli_opts_init(&o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+f:o:h", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        }
        if (c == '?' || c == ':') {
            cli_error("report: %s '%s' (see poolguard report --help)",
                      c == ':' ? "option needs a value:" : "unknown option", argv[optind - 1]);
            return PG_EXIT_ERROR;
        }
        int h = cli_handle_common(&o, c, optarg);
        if (h < 0)
            return PG_EXIT_ERROR;
    }
    if (optind >= argc) {
        cli_error("report: no report given (usage: poolguard report [options] PATH...)");
        return PG_EXIT_ERROR;
    }
    pg_report *r = report_new();
    if (!r) {
        cli_error("out of memory");
        return PG_EXIT_ERROR;
    }
    for (int i = optind; i < argc; i++)
        report_add_path(r, argv[i]);
    bool input_errors = report_errors(r) > 0;
    int status = cli_finish(r, &o);
    report_free(r);
    if (status == PG_EXIT_ERROR || input_errors)
        return PG_EXIT_ERROR;
    return status;
}
