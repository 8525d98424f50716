/*
 * libFuzzer target for the raw-report reader: any bytes, as a report file, must be read without
 * a crash, a hang or unbounded memory, and what was kept must render. Symbolization is left out
 * on purpose: it opens the files a report names, which a fuzzer must not steer.
 *   make fuzz         a longer run (FUZZ_SECONDS, default 300)
 *   make check        a short run when clang is installed
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "analyze.h"
#include "lines.h"
#include "render.h"
#include "report.h"

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    int fd = memfd_create("report", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    lseek(fd, 0, SEEK_SET);
    pg_report *r = report_new();
    report_set_diagnostics(r, NULL);
    report_add_fd(r, fd, "fuzz");
    analyze_dedup(r);
    render_opts o = { .format = PG_FMT_TEXT, .min_severity = PG_SEV_INFO };
    render(r, &o, devnull);
    o.format = PG_FMT_JSON;
    render(r, &o, devnull);
    o.format = PG_FMT_SARIF;
    render(r, &o, devnull);
    o.format = PG_FMT_JUNIT;
    render(r, &o, devnull);
    o.format = PG_FMT_DOT;
    render(r, &o, devnull);
    report_free(r);

    /* The line reader with a tiny cap, so over-long and cut-short lines are exercised. */
    lseek(fd, 0, SEEK_SET);
    lines *l = lines_new(fd, 16);
    char *line;
    size_t len;
    int flags;
    while (l && lines_next(l, true, &line, &len, &flags) > 0)
        if (len > 16)
            abort();
    lines_free(l);
    close(fd);
    return 0;
}
