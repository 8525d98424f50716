/*
 * Real programs, nothing changed, nothing lost: what `poolguard run` passes on to the program
 * (signal dispositions and mask, job control), what happens when a report cannot be written (a
 * read-only or full directory, a file size limit: the gate still learns of the finding), and that
 * the shim holds no descriptor of the program's. Heavy real workloads (32,768 live threads, the
 * fast subset of `make check-real`) are in check_real_workloads.c.
 *
 * Every program runs under a time limit and is killed (poolguard first with SIGTERM, which it
 * passes on, then its group and the program's with SIGKILL) before an assertion may end a test. A
 * test that the machine cannot host is skipped (tu_skip), with the reason and what it ran instead.
 * The helpers are in real_util.h.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "real_util.h"

/* ------------------------------------------------------------------------------------------ */
/* The program's environment under the gate                                                    */

/* rel_env prints its blocked, ignored and caught sets: the same natively and under the gate,
 * with SIGHUP, SIGINT, SIGTERM, SIGQUIT and SIGCHLD inherited as ignored and SIGUSR1, SIGUSR2
 * blocked, and with the defaults. */
START_TEST(test_run_passes_on_inherited_signal_dispositions_and_mask)
{
    static const int ignore[] = { SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGCHLD, 0 };
    static const int block[] = { SIGUSR1, SIGUSR2, 0 };
    char *pg = tu_build_path("poolguard"), *env = prog("rel_env");
    for (int variant = 0; variant < 2; variant++) {
        char *nargv[] = { env, "signals", NULL };
        char *gargv[] = { pg, "run", "--", env, "signals", NULL };
        struct xrun n = { .argv = nargv }, g = { .argv = gargv };
        if (variant == 0) {
            n.ignore = g.ignore = ignore;
            n.block = g.block = block;
        }
        xrun_all(&n, 20000);
        xrun_all(&g, 20000);
        ck_assert_msg(strstr(n.out, "SigIgn:") != NULL, "rel_env printed nothing: %s", n.err);
        ck_assert_msg(xcode(&g) == 0 && strcmp(n.out, g.out) == 0,
                      "%s: the program's signal state differs under poolguard run (exit %d):\n"
                      "--- native\n%s--- poolguard run\n%s--- stderr\n%.1000s",
                      variant == 0 ? "SIGHUP/INT/TERM/QUIT/CHLD ignored, USR1/USR2 blocked"
                                   : "defaults",
                      xcode(&g), n.out, g.out, g.err);
        xfree(&n);
        xfree(&g);
    }
    free(pg);
    free(env);
}
END_TEST

/* `nohup poolguard run -- CMD`: the SIGHUP CMD sends itself (as a hang-up would) is ignored, as
 * without the gate; and a SIGHUP sent to poolguard is not passed on either. */
START_TEST(test_nohup_poolguard_run_keeps_protecting_the_program)
{
    static const int ignore[] = { SIGHUP, 0 };
    char *pg = tu_build_path("poolguard");
    char *argv[] = {
        pg, "run", "--", "/bin/sh", "-c", "kill -HUP $$; sleep 0.3; echo alive", NULL
    };
    struct xrun g = { .argv = argv, .ignore = ignore };
    xstart(&g);
    tu_sleep_ms(100);
    kill(g.pid, SIGHUP);
    bool ended = xwait(&g, 20000);
    xfinish(&g);
    ck_assert_msg(ended && xcode(&g) == 0 && strcmp(g.out, "alive\n") == 0,
                  "with SIGHUP ignored, the program must survive hang-ups under the gate: exit %d, "
                  "stdout %s, stderr %.1000s",
                  xcode(&g), g.out, g.err);
    xfree(&g);
    free(pg);
}
END_TEST

static char proc_state(pid_t pid)
{
    char p[64], buf[512];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return '?';
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    char *rp = strrchr(buf, ')');
    return rp && rp[1] && rp[2] ? rp[2] : '?';
}

/* Job control: a program that stops (as on Ctrl-Z, or SIGTTIN) stops poolguard with it, so that
 * the shell sees the job stopped; continuing poolguard (fg, bg) continues the program. */
START_TEST(test_a_stopped_program_stops_the_gate_and_resumes_with_it)
{
    char *pg = tu_build_path("poolguard"), *env = prog("rel_env");
    char *argv[] = { pg, "run", "--", env, "stop", NULL };
    struct xrun g = { .argv = argv };
    xstart(&g);
    long deadline = tu_now_ms() + 10000;
    char st = '?';
    while (tu_now_ms() < deadline && (st = proc_state(g.pid)) != 'T')
        tu_sleep_ms(20);
    bool stopped = st == 'T';
    kill(g.pid, SIGCONT);
    bool ended = xwait(&g, 10000);
    xfinish(&g);
    ck_assert_msg(stopped,
                  "poolguard did not stop when its program stopped (state %c); stdout %s, "
                  "stderr %.1000s",
                  st, g.out, g.err);
    ck_assert_msg(
        ended && xcode(&g) == 0 && strcmp(g.out, "rel_env: stopping\nrel_env: resumed\n") == 0,
        "continuing poolguard must continue the program: exit %d, stdout %s, stderr %.1000s",
        xcode(&g), g.out, g.err);
    xfree(&g);
    free(pg);
    free(env);
}
END_TEST

/* On a terminal (a pseudo-terminal from script(1)), the program's group has the foreground: it can
 * change the terminal's settings (stty sane: tcsetattr, which stops a background process with
 * SIGTTOU). Natively and under the gate alike. */
START_TEST(test_on_a_terminal_the_program_has_the_foreground)
{
    tu_need_program("/usr/bin/script", "bsdutils"); /* script(1) gives the test a terminal */
    char *pg = tu_build_path("poolguard");
    char cmd[PATH_MAX + 128];
    snprintf(cmd, sizeof cmd, "%s run -- /bin/sh -c 'stty sane && echo foreground-ok'", pg);
    char *argv[] = { "/usr/bin/script", "-qec", cmd, "/dev/null", NULL };
    struct xrun g = { .argv = argv, .own_group = true };
    xstart(&g);
    bool ended = xwait(&g, 15000);
    xfinish(&g);
    ck_assert_msg(ended && xcode(&g) == 0 && strstr(g.out, "foreground-ok"),
                  "under script(1): exit %d (ended: %d), stdout %s, stderr %.1000s", xcode(&g),
                  ended, g.out, g.err);
    xfree(&g);
    free(pg);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* A finding is never lost                                                                     */

/* A directory nobody can write to, even root: a read-only tmpfs when this test may mount one,
 * else (not root) a directory of mode 0500. NULL when neither is possible. */
static char *read_only_dir(bool *mounted)
{
    work_init();
    char *d = malloc(PATH_MAX);
    snprintf(d, PATH_MAX, "%s/ro", workdir);
    mkdir(d, 0700);
    *mounted = mount("poolguard-test", d, "tmpfs", MS_RDONLY, "size=64k") == 0;
    if (*mounted)
        return d;
    if (geteuid() != 0 && chmod(d, 0500) == 0)
        return d;
    free(d);
    return NULL;
}

START_TEST(test_read_only_report_dir_is_an_error_before_the_program_starts)
{
    bool mounted;
    char *ro = read_only_dir(&mounted);
    if (!ro)
        tu_skip("running as root without permission to mount a read-only tmpfs");
    char *pg = tu_build_path("poolguard"), *dl = prog("dl_lock_inversion");
    char *argv[] = { pg, "run", "--dir", ro, "--", dl, NULL };
    struct xrun g = { .argv = argv };
    xstart(&g);
    bool ended = xwait(&g, 20000);
    xfinish(&g);
    if (mounted)
        umount(ro);
    ck_assert_msg(ended,
                  "poolguard run --dir READ-ONLY on a deadlocking program did not return "
                  "within 20 s; stderr %.1000s",
                  g.err);
    ck_assert_msg(xcode(&g) == 125 &&
                      strstr(g.err, "poolguard: error: cannot write reports to '") &&
                      strstr(g.err, ro),
                  "expected exit 125 and an error naming %s: exit %d, stderr %.1000s", ro,
                  xcode(&g), g.err);
    ck_assert_msg(!strstr(g.out, "dl_lock_inversion: start"), "the program was started: %s", g.out);
    xfree(&g);
    rmdir(ro);
    free(ro);
    free(pg);
    free(dl);
}
END_TEST

/* A full directory: a tmpfs of 8 KiB filled up when the test may mount one; else a file size
 * limit of 1 KiB with SIGXFSZ ignored (the write fails with EFBIG instead of ENOSPC). The shim
 * says which write failed and why, once, and does not name the cut-short file as a report. */
START_TEST(test_full_report_dir_earns_one_line_naming_the_failed_write)
{
    work_init();
    char dir[PATH_MAX + 16], dirvar[PATH_MAX + 32], pre[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/full", workdir);
    mkdir(dir, 0700);
    bool mounted = mount("poolguard-test", dir, "tmpfs", 0, "size=8k") == 0;
    if (mounted) {
        char fill[PATH_MAX + 32];
        snprintf(fill, sizeof fill, "%s/fill", dir);
        int fd = open(fill, O_WRONLY | O_CREAT, 0600);
        char block[1024] = { 0 };
        while (write(fd, block, sizeof block) > 0)
            ;
        close(fd);
    }
    char *shim = shim_path(), *dl = prog("dl_lock_inversion");
    snprintf(dirvar, sizeof dirvar, "POOLGUARD_DIR=%s", dir);
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", shim);
    const char *env[] = { pre, dirvar, NULL };
    static const int ignore[] = { SIGXFSZ, 0 };
    char *argv[] = { dl, NULL };
    struct xrun x = {
        .argv = argv, .env = env, .ignore = mounted ? NULL : ignore, .fsize = mounted ? 0 : 1024
    };
    xstart(&x);
    long deadline = tu_now_ms() + 10000;
    char *err = NULL;
    while (tu_now_ms() < deadline && !xwait(&x, 0)) {
        free(err);
        err = tu_slurp_maybe(x.err_path, NULL);
        if (err && strstr(err, "poolguard: deadlock"))
            break;
        tu_sleep_ms(50);
    }
    free(err);
    tu_sleep_ms(300);
    xfinish(&x);
    if (mounted)
        umount(dir);
    const char *why = mounted ? "(No space left on device)" : "(File too large)";
    ck_assert_msg(count_lines_with(x.err, "poolguard: cannot write to the report ") == 1 &&
                      strstr(x.err, dir) && strstr(x.err, why),
                  "expected one line naming the failed write in %s and %s; stderr: %.1500s", dir,
                  why, x.err);
    ck_assert_msg(strstr(x.err, "poolguard: deadlock: ") && !strstr(x.err, "(report: "),
                  "the finding's note must be there and must not name the cut-short file: %.1500s",
                  x.err);
    fprintf(stderr, "test_full_report_dir: %s\n",
            mounted ? "a full 8 KiB tmpfs" : "RLIMIT_FSIZE 1 KiB");
    xfree(&x);
    free(shim);
    free(dl);
}
END_TEST

/* No report can be written (a file size limit of 1 KiB, SIGXFSZ ignored: the directory passed the
 * gate's probe, the report does not fit): the gate learns of the deadlock through its FIFO, stops
 * the program, says the finding is in no report, and exits 66. */
START_TEST(test_gate_learns_of_a_finding_no_file_could_hold)
{
    char *pg = tu_build_path("poolguard"), *dl = prog("dl_lock_inversion");
    char *argv[] = { pg, "run", "--", dl, NULL };
    static const int ignore[] = { SIGXFSZ, 0 };
    struct xrun g = { .argv = argv, .ignore = ignore, .fsize = 1024 };
    xstart(&g);
    bool ended = xwait(&g, 20000);
    xfinish(&g);
    ck_assert_msg(ended, "the gate did not stop the deadlocked program within 20 s; stderr %.1500s",
                  g.err);
    ck_assert_msg(xcode(&g) == 66, "exit %d, wanted 66; stderr %.1500s", xcode(&g), g.err);
    const char *needles[] = { "poolguard: cannot write to the report ",
                              "(File too large)",
                              "poolguard: error: process ",
                              "found a deadlock (error) that is not in any report",
                              "poolguard: stopped the program",
                              NULL };
    tu_assert_in_order(g.err, needles);
    xfree(&g);
    free(pg);
    free(dl);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Descriptors                                                                                 */

/* After threads were tracked, unwound and scanned, the program's descriptors are its own. */
START_TEST(test_shim_holds_no_descriptor_while_the_program_runs)
{
    char *shim = shim_path(), *fds = prog("rel_fds");
    char pre[PATH_MAX + 16];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", shim);
    const char *env[] = { pre, "POOLGUARD_INTERVAL_MS=10", NULL };
    char *argv[] = { fds, "list", NULL };
    struct xrun n = { .argv = argv }, s = { .argv = argv, .env = env };
    xrun_all(&n, 20000);
    xrun_all(&s, 20000);
    ck_assert_msg(strncmp(n.out, "rel_fds:", 8) == 0 && strcmp(n.out, s.out) == 0,
                  "open descriptors differ under the shim:\n--- native\n%s--- shim\n%s", n.out,
                  s.out);
    xfree(&n);
    xfree(&s);
    free(shim);
    free(fds);
}
END_TEST

/* With its descriptor limit at what it uses, the program opens as many files under the shim as
 * without; and when it then deadlocks with every descriptor used, the finding is still reported. */
START_TEST(test_program_at_its_descriptor_limit_behaves_the_same_and_its_finding_is_kept)
{
    char *shim = shim_path(), *fds = prog("rel_fds"), *pg = tu_build_path("poolguard");
    char pre[PATH_MAX + 16];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", shim);
    const char *env[] = { pre, NULL };
    char *argv[] = { fds, "limit", "24", NULL };
    struct xrun n = { .argv = argv }, s = { .argv = argv, .env = env };
    xrun_all(&n, 20000);
    xrun_all(&s, 20000);
    ck_assert_msg(strstr(n.out, "opened") && strcmp(n.out, s.out) == 0,
                  "at its descriptor limit the program differs under the shim:\n--- native\n%s--- "
                  "shim\n%s",
                  n.out, s.out);
    char *gargv[] = { pg, "run", "--", fds, "limit", "24", "dl", NULL };
    struct xrun g = { .argv = gargv };
    xrun_all(&g, 30000);
    const char *needles[] = { "error: deadlock", "fds_thread_", "fds_lock_second", NULL };
    ck_assert_msg(xcode(&g) == 66, "exit %d, wanted 66 (the deadlock): %.1500s", xcode(&g), g.err);
    tu_assert_in_order(g.err, needles);
    xfree(&n);
    xfree(&s);
    xfree(&g);
    free(shim);
    free(fds);
    free(pg);
}
END_TEST

Suite *real_suite(void)
{
    Suite *s = suite_create("real");
    TCase *tc = tcase_create("environment");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_run_passes_on_inherited_signal_dispositions_and_mask);
    tcase_add_test(tc, test_nohup_poolguard_run_keeps_protecting_the_program);
    tcase_add_test(tc, test_a_stopped_program_stops_the_gate_and_resumes_with_it);
    tcase_add_test(tc, test_on_a_terminal_the_program_has_the_foreground);
    suite_add_tcase(s, tc);

    tc = tcase_create("lost");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_read_only_report_dir_is_an_error_before_the_program_starts);
    tcase_add_test(tc, test_full_report_dir_earns_one_line_naming_the_failed_write);
    tcase_add_test(tc, test_gate_learns_of_a_finding_no_file_could_hold);
    suite_add_tcase(s, tc);

    tc = tcase_create("descriptors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_shim_holds_no_descriptor_while_the_program_runs);
    tcase_add_test(tc,
                   test_program_at_its_descriptor_limit_behaves_the_same_and_its_finding_is_kept);
    suite_add_tcase(s, tc);
    return s;
}
