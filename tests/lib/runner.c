/*
 * The one Check runner: every tests/<folder>/check_<module>.c exports `Suite *<module>_suite(void)`,
 * and the Makefile lists them in build/<runner>/suites.inc, so adding a test file needs no edit here.
 * Set CK_RUN_SUITE / CK_RUN_CASE to run a part; CK_VERBOSITY=verbose to see each test.
 *
 * Skips: Check knows only pass, failure and error. A test that cannot run on this machine calls
 * tu_skip() (tests/lib/testlib.h), which ends it as a failure whose message starts with
 * TU_SKIP_MARK; this runner counts those as skipped, prints each with its reason, and ends with
 * "N checks, F failures, S skipped". Check's result objects do not carry the test's name, so the
 * runner reads the results from Check's log file (one line per test: file:line:P|F|E:case:test:
 * iteration: message), which works alike with CK_FORK=no. Each suite runs in a runner of its own so
 * that its results show as soon as it ends.
 */
#include <check.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

#define SUITE(name) Suite *name##_suite(void);
#include "suites.inc"
#undef SUITE

struct totals {
    int checks, failures, skipped;
};

/* A test's result as Check logs it: "file:line:R:case:test:iteration: message", where the message
 * may run over several lines (up to the next result, or Check's closing lines). */
static const char RESULT_RE[] = "^[^ :]+:[0-9]+:[PFE]:[^:]+:[^:]+:[0-9]+: ";

static void print_result(char *rec, const char *suite, bool verbose, struct totals *t)
{
    /* rec: file:line:R:case:test:iteration: message */
    char *fields[6];
    char *p = rec;
    for (int i = 0; i < 6; i++) {
        fields[i] = p;
        p = strchr(p, ':');
        *p++ = '\0';
    }
    char *msg = p + 1;
    size_t len = strlen(msg);
    while (len > 0 && msg[len - 1] == '\n')
        msg[--len] = '\0';
    char kind = fields[2][0];
    t->checks++;
    if (kind != 'P' && strncmp(msg, TU_SKIP_MARK, strlen(TU_SKIP_MARK)) == 0) {
        t->skipped++;
        printf("SKIP %s: %s: %s\n", suite, fields[4], msg + strlen(TU_SKIP_MARK));
        return;
    }
    if (kind != 'P')
        t->failures++;
    if (kind != 'P' || verbose)
        printf("%s:%s:%s:%s:%s:%s: %s\n", fields[0], fields[1], fields[2], fields[3], fields[4],
               fields[5], msg);
}

/* Reads Check's log of one suite and prints its failures and skips (and passes when verbose). */
static void report_log(const char *path, const char *suite, bool verbose, struct totals *t)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("runner: cannot read Check's log %s\n", path);
        t->failures++;
        return;
    }
    regex_t re;
    if (regcomp(&re, RESULT_RE, REG_EXTENDED | REG_NOSUB) != 0)
        abort();
    char *rec = NULL, *line = NULL;
    size_t rec_len = 0, cap = 0;
    FILE *m = NULL;
    bool done = false;
    while (!done && getline(&line, &cap, f) > 0) {
        bool starts = regexec(&re, line, 0, NULL, 0) == 0;
        done = strncmp(line, "Results for all suites run:", 27) == 0;
        if (m && (starts || done)) {
            fclose(m);
            print_result(rec, suite, verbose, t);
            free(rec);
            m = NULL;
        }
        if (starts)
            m = open_memstream(&rec, &rec_len);
        if (m)
            fputs(line, m);
    }
    if (m) {
        fclose(m);
        print_result(rec, suite, verbose, t);
        free(rec);
    }
    free(line);
    regfree(&re);
    fclose(f);
}

/* Named so because the suites' own functions are <module>_suite (one module is "run"). */
static void runner_run_one(Suite *s, const char *name, bool verbose, struct totals *t)
{
    const char *only = getenv("CK_RUN_SUITE");
    SRunner *sr = srunner_create(s);
    if (only && *only && strcmp(only, name) != 0) {
        srunner_free(sr);
        return;
    }
    printf("Running suite %s\n", name);
    fflush(stdout);
    char log[] = "/tmp/poolguard-check-log.XXXXXX";
    int fd = mkstemp(log);
    if (fd < 0) {
        perror("runner: mkstemp");
        exit(EXIT_FAILURE);
    }
    close(fd);
    srunner_set_log(sr, log);
    srunner_run_all(sr, CK_SILENT);
    srunner_free(sr);
    report_log(log, name, verbose, t);
    unlink(log);
    fflush(stdout);
}

int main(void)
{
    const char *v = getenv("CK_VERBOSITY");
    bool verbose = v && strcmp(v, "verbose") == 0;
    struct totals t = { 0, 0, 0 };
#define SUITE(name) runner_run_one(name##_suite(), #name, verbose, &t);
#include "suites.inc"
#undef SUITE
    printf("%d checks, %d failures, %d skipped\n", t.checks, t.failures, t.skipped);
    return t.failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
