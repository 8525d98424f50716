/*
 * The poolguard command: dispatches to subcommands (cmd_*.c). Only argument handling lives here.
 */
#include <stdio.h>
#include <string.h>

#include "attach.h"
#include "cli.h"

static const char usage[] =
    "usage: poolguard <command> [options] ...\n"
    "\n"
    "Commands:\n"
    "  run [options] -- CMD [ARGS...]   run CMD under the poolguard shim; stop it and report\n"
    "                                   as soon as a deadlock or pool exhaustion is proven\n"
    "  report [options] PATH...         render saved raw reports\n"
    "  attach [options] PID             stop a running process for a moment (it need not run\n"
    "                                   under poolguard) and prove its deadlocks\n"
    "  core [options] FILE [EXE]        the same from a core dump (e.g. gdb's gcore)\n"
    "\n"
    "Run 'poolguard <command> --help' for the options of a command.\n"
    "\n" CLI_EXIT_HELP;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return PG_EXIT_ERROR;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("poolguard %s\n", PG_TOOL_VERSION);
        return 0;
    }
    if (strcmp(cmd, "report") == 0)
        return cmd_report(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "attach") == 0)
        return cmd_attach(argc - 1, argv + 1);
    if (strcmp(cmd, "core") == 0)
        return cmd_core(argc - 1, argv + 1);
    cli_error("'%s' is not a poolguard command (see poolguard --help)", cmd);
    return PG_EXIT_ERROR;
}
