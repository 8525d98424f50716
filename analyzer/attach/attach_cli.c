/*
 * The command line `poolguard attach` and `poolguard core` share (see attach.h): their options,
 * and the last step, which writes the raw report (kept with --raw, else in an unlinked temporary
 * file) and reads it back through the ordinary report path to render it and decide the exit code.
 */
#include "attach.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ext_cli_parse(ext_cli *c, const char *cmd, const char *usage, int argc, char **argv,
                  int *exit_code)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS,
        { "raw", required_argument, NULL, 0x180 },
        { "all-threads", no_argument, NULL, 0x181 },
        { "help", no_argument, NULL, 'h' },
        { 0, 0, 0, 0 },
    };
    memset(c, 0, sizeof *c);
    cli_opts_init(&c->o);
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "f:o:h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            fputs(usage, stdout);
            *exit_code = 0;
            return -1;
        }
        if (ch == 0x180) {
            c->raw = optarg;
            continue;
        }
        if (ch == 0x181) {
            c->all_threads = true;
            continue;
        }
        if (ch == '?' || ch == ':') {
            cli_error("%s: %s '%s' (see poolguard %s --help)", cmd,
                      ch == ':' ? "option needs a value:" : "unknown option", argv[optind - 1],
                      cmd);
            *exit_code = PG_EXIT_ERROR;
            return -1;
        }
        if (cli_handle_common(&c->o, ch, optarg) <= 0) {
            *exit_code = PG_EXIT_ERROR;
            return -1;
        }
    }
    return optind;
}

int ext_cli_finish(ext_cli *c, ext_proc *p)
{
    char tmpl[] = "/tmp/poolguard-attach-XXXXXX";
    const char *path = c->raw;
    int fd =
        path ? open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0) {
        cli_error("cannot write the raw report '%s': %s", path ? path : tmpl, strerror(errno));
        return PG_EXIT_ERROR;
    }
    if (!path)
        unlink(tmpl); /* read back through the descriptor; nothing is left behind */
    int nf = ext_write_report(p, fd, c->all_threads);
    if (nf < 0) {
        cli_error("cannot write the raw report: %s", strerror(-nf));
        close(fd);
        return PG_EXIT_ERROR;
    }
    lseek(fd, 0, SEEK_SET);
    pg_report *r = report_new();
    if (!r) {
        close(fd);
        cli_error("out of memory");
        return PG_EXIT_ERROR;
    }
    int err = report_add_fd(r, fd, path ? path : p->source);
    close(fd);
    int status = err < 0 ? PG_EXIT_ERROR : cli_finish(r, &c->o);
    report_free(r);
    return status;
}
