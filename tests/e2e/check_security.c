/*
 * The shim's security contract (docs/security.md): report files never follow or overwrite what
 * someone planted, the default directory must be private, bad environment values only earn
 * warnings, secure-execution processes are left alone.
 *
 * Programs are in tests/progs. Every program runs under a hard time limit and is killed (its whole
 * process group) and reaped before any assertion may end a test. The helpers are shared with the
 * reliability and scale suites (reliability_util.h).
 */
#include "reliability_util.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * A symlink and a regular file planted at the report's exact name (and a symlink at the next
 * suffixed name) while the program waits: the shim must create its report under a fresh name, mode
 * 0600, leave the planted files' targets untouched and the symlinks symlinks.
 */
START_TEST(test_planted_symlinks_and_files_at_the_report_name_are_never_followed_or_overwritten)
{
    char path[PATH_MAX], go[PATH_MAX + 16], victim[PATH_MAX + 16], planted[PATH_MAX + 64];
    char planted1[PATH_MAX + 64], planted2[PATH_MAX + 64];
    tu_prog_path(path, sizeof path, "rel_go");
    struct dl_run d;
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "rel_go_symlink");
    snprintf(go, sizeof go, "%s/go", d.r.work);
    snprintf(victim, sizeof victim, "%s/victim", d.r.work);
    static const char original[] = "precious data\n";
    FILE *f = fopen(victim, "w");
    ck_assert(f && fputs(original, f) >= 0 && fclose(f) == 0);
    char *argv[] = { "rel_go", go, NULL };
    e2e_run_start(&d.r, path, argv, true, NULL);
    d.first = wait_for_line(&d.r, "rel_go: waiting", STARTUP_MS);
    ck_assert_msg(d.first != NULL, "rel_go did not start");
    int pid = (int)d.r.pid;
    snprintf(planted, sizeof planted, "%s/poolguard.rel_go.%d.jsonl", d.r.reports, pid);
    snprintf(planted1, sizeof planted1, "%s/poolguard.rel_go.%d.1.jsonl", d.r.reports, pid);
    snprintf(planted2, sizeof planted2, "%s/poolguard.rel_go.%d.2.jsonl", d.r.reports, pid);
    ck_assert(symlink(victim, planted) == 0);
    f = fopen(planted1, "w");
    ck_assert(f && fputs(original, f) >= 0 && fclose(f) == 0);
    ck_assert(symlink(victim, planted2) == 0);
    int gofd = open(go, O_CREAT | O_WRONLY, 0600);
    ck_assert(gofd >= 0);
    close(gofd);

    char *started = wait_for_line(&d.r, "rel_go: start", STARTUP_MS);
    /* The planted names hold no finding (they are not JSON): wait for the real report. */
    long deadline = tu_now_ms() + REPORT_MS;
    bool found = false;
    char real[PATH_MAX + 64];
    snprintf(real, sizeof real, "%s/poolguard.rel_go.%d.3.jsonl", d.r.reports, pid);
    while (started && !found && tu_now_ms() < deadline && !e2e_run_wait(&d.r, 0)) {
        char *text = tu_slurp_maybe(real, NULL);
        found = text && strstr(text, "\"type\":\"finding\"");
        free(text);
        if (!found)
            tu_sleep_ms(E2E_POLL_MS);
    }
    e2e_run_kill(&d.r);
    d.err = e2e_run_stderr(&d.r);
    free(started);

    char *v = tu_slurp_maybe(victim, NULL), *p1 = tu_slurp_maybe(planted1, NULL);
    struct stat st;
    ck_assert_msg(v && strcmp(v, original) == 0, "the symlink's target was written to: %.300s", v);
    ck_assert_msg(p1 && strcmp(p1, original) == 0, "the planted regular file was changed: %.300s",
                  p1);
    ck_assert_msg(lstat(planted, &st) == 0 && S_ISLNK(st.st_mode), "the planted symlink is gone");
    ck_assert_msg(lstat(planted2, &st) == 0 && S_ISLNK(st.st_mode), "the second symlink is gone");
    ck_assert_msg(found, "no finding in a fresh report %s; stderr: %.500s", real, d.err);
    ck_assert_msg(lstat(real, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600,
                  "the report %s must be a regular file of mode 0600 (mode %o)", real,
                  (unsigned)(st.st_mode & 07777));
    free(v);
    free(p1);
    unlink(planted1); /* the test's own file under a report's name: not checked as a report */
    dl_run_free(&d);
}
END_TEST

/*
 * The default directory, $TMPDIR/poolguard-<uid>, must be a directory of ours closed to others.
 * Each variant prepares it badly; the shim must refuse it with a poolguard: warning, write nothing
 * into it, and still say on stderr what it found.
 */
enum { DIR_GROUP_WRITABLE, DIR_WORLD_WRITABLE, DIR_OTHER_OWNER, DIR_SYMLINK, DIR_VARIANTS };
static const char *const dir_variant_names[] = { "group-writable (0770)", "world-writable (0777)",
                                                 "owned by nobody", "a symlink to a private dir" };

START_TEST(test_unsafe_default_report_dir_is_refused_with_a_warning)
{
    struct dl_run d;
    char tmpdir[PATH_MAX], dflt[PATH_MAX + 32], target[PATH_MAX + 16], tmpvar[PATH_MAX + 16];
    char preload[PATH_MAX + 16], path[PATH_MAX];
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "default_dir");
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", d.r.work);
    ck_assert(mkdir(tmpdir, 0700) == 0);
    snprintf(dflt, sizeof dflt, "%s/poolguard-%u", tmpdir, (unsigned)geteuid());
    switch (_i) {
    case DIR_GROUP_WRITABLE:
    case DIR_WORLD_WRITABLE:
        ck_assert(mkdir(dflt, 0700) == 0);
        ck_assert(chmod(dflt, _i == DIR_GROUP_WRITABLE ? 0770 : 0777) == 0);
        break;
    case DIR_OTHER_OWNER:
        if (geteuid() != 0) {
            dl_run_free(&d);
            return; /* only root can give a directory away; the other variants still run */
        }
        ck_assert(mkdir(dflt, 0700) == 0);
        ck_assert(chown(dflt, 65534, 65534) == 0);
        break;
    case DIR_SYMLINK:
        snprintf(target, sizeof target, "%s/target", d.r.work);
        ck_assert(mkdir(target, 0700) == 0);
        ck_assert(symlink(target, dflt) == 0);
        break;
    }
    snprintf(tmpvar, sizeof tmpvar, "TMPDIR=%s", tmpdir);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim_abs());
    const char *env[] = { preload, tmpvar, NULL };
    tu_prog_path(path, sizeof path, "dl_lock_inversion");
    char *argv[] = { "dl_lock_inversion", NULL };
    e2e_run_start(&d.r, path, argv, false, env);
    d.first = wait_for_line(&d.r, "dl_lock_inversion: start", STARTUP_MS);
    /* No report may appear; the finding is announced on stderr: wait for that line. */
    long deadline = tu_now_ms() + REPORT_MS;
    char *err = NULL;
    while (d.first && tu_now_ms() < deadline && !e2e_run_wait(&d.r, 0)) {
        free(err);
        err = e2e_run_stderr(&d.r);
        if (e2e_has_poolguard_line(err, "deadlock"))
            break;
        tu_sleep_ms(E2E_POLL_MS);
    }
    tu_sleep_ms(SETTLE_MS);
    e2e_run_kill(&d.r);
    free(err);
    d.err = e2e_run_stderr(&d.r);

    const char *variant = dir_variant_names[_i];
    ck_assert_msg(d.first != NULL, "%s: the program did not start", variant);
    ck_assert_msg(e2e_has_poolguard_line(d.err, "poolguard-"),
                  "%s: no poolguard: warning naming the "
                  "refused directory %s; stderr: %.800s",
                  variant, dflt, d.err);
    struct e2e_reports rs;
    e2e_reports_load(&rs, _i == DIR_SYMLINK ? target : dflt);
    ck_assert_msg(rs.n == 0, "%s: a report was written into the unsafe directory %s", variant,
                  _i == DIR_SYMLINK ? target : dflt);
    e2e_reports_free(&rs);
    ck_assert_msg(e2e_has_poolguard_line(d.err, "deadlock"),
                  "%s: the finding itself must still be "
                  "announced on stderr; stderr: %.800s",
                  variant, d.err);
    dl_run_free(&d);
}
END_TEST

START_TEST(test_missing_default_report_dir_is_created_private)
{
    struct dl_run d;
    char tmpdir[PATH_MAX], dflt[PATH_MAX + 32], tmpvar[PATH_MAX + 16], preload[PATH_MAX + 16];
    char path[PATH_MAX];
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "default_dir_new");
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", d.r.work);
    ck_assert(mkdir(tmpdir, 0755) == 0);
    snprintf(dflt, sizeof dflt, "%s/poolguard-%u", tmpdir, (unsigned)geteuid());
    snprintf(tmpvar, sizeof tmpvar, "TMPDIR=%s", tmpdir);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim_abs());
    const char *env[] = { preload, tmpvar, NULL };
    tu_prog_path(path, sizeof path, "dl_lock_inversion");
    char *argv[] = { "dl_lock_inversion", NULL };
    run_to_finding(&d, "default_dir_new", path, argv, false, env, "dl_lock_inversion: start", dflt,
                   1);
    struct stat st;
    ck_assert_msg(lstat(dflt, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700 &&
                      st.st_uid == geteuid(),
                  "the default directory %s must be created mode 0700, ours "
                  "(mode %o)",
                  dflt, (unsigned)(st.st_mode & 07777));
    struct e2e_reports rs;
    e2e_reports_load(&rs, dflt);
    ck_assert_msg(rs.n == 1 && (rs.r[0].mode & 07777) == 0600,
                  "one report of mode 0600 expected in %s", dflt);
    e2e_reports_free(&rs);
    dl_run_free(&d);
}
END_TEST

/* Bad values: each earns one poolguard: warning naming the variable, and the program is unchanged. */
START_TEST(test_invalid_environment_values_warn_and_change_nothing)
{
    static const char *const bad[][2] = {
        { "POOLGUARD_INTERVAL_MS=5", "POOLGUARD_INTERVAL_MS" },
        { "POOLGUARD_INTERVAL_MS=99999999999999999999999", "POOLGUARD_INTERVAL_MS" },
        { "POOLGUARD_INTERVAL_MS=-100", "POOLGUARD_INTERVAL_MS" },
        { "POOLGUARD_STALL_MS=0x10", "POOLGUARD_STALL_MS" },
        { "POOLGUARD_MAX_THREADS=1", "POOLGUARD_MAX_THREADS" },
        { "POOLGUARD_MAX_THREADS=4294967297", "POOLGUARD_MAX_THREADS" },
        { "POOLGUARD_STACK_DEPTH=0", "POOLGUARD_STACK_DEPTH" },
        { "POOLGUARD_STACK_DEPTH=100000", "POOLGUARD_STACK_DEPTH" },
        { "POOLGUARD_QUEUE_LIMIT= 5", "POOLGUARD_QUEUE_LIMIT" },
        { "POOLGUARD_ON_FINDING=exit:256", "POOLGUARD_ON_FINDING" },
        { "POOLGUARD_QUIET=maybe", "POOLGUARD_QUIET" },
        { "POOLGUARD_DISABLE=2", "POOLGUARD_DISABLE" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *env[] = { bad[i][0], NULL };
        static const char *const args[] = { "8", NULL };
        struct pair p;
        run_pair(&p, "ok_rel_threads", args, i == 0, NULL, env, E2E_HEALTHY_EXIT_MS);
        if (i == 0)
            assert_pair_healthy(&p, "ok_rel_threads", 0);
        else
            ck_assert_msg(p.shim_done && WIFEXITED(p.shim.status) &&
                              WEXITSTATUS(p.shim.status) == 0 &&
                              strcmp(p.sout, "ok_rel_threads: 8 threads, total 36\n") == 0,
                          "%s: the program did not run normally (status 0x%x, stdout %s, stderr "
                          "%.300s)",
                          bad[i][0], p.shim.status, p.sout, p.serr);
        ck_assert_msg(count_poolguard_lines(p.serr) == 1 &&
                          e2e_has_poolguard_line(p.serr, bad[i][1]),
                      "%s: expected exactly one poolguard: warning naming %s; stderr: %.500s",
                      bad[i][0], bad[i][1], p.serr);
        pair_free(&p);
    }
}
END_TEST

/* An over-long POOLGUARD_DIR: a warning, and the report goes to the default directory. */
START_TEST(test_too_long_report_dir_warns_and_falls_back_to_the_default)
{
    struct dl_run d;
    char tmpdir[PATH_MAX], dflt[PATH_MAX + 32], tmpvar[PATH_MAX + 16], preload[PATH_MAX + 16];
    char path[PATH_MAX];
    static char longdir[8192];
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "long_dir");
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", d.r.work);
    ck_assert(mkdir(tmpdir, 0700) == 0);
    snprintf(dflt, sizeof dflt, "%s/poolguard-%u", tmpdir, (unsigned)geteuid());
    snprintf(tmpvar, sizeof tmpvar, "TMPDIR=%s", tmpdir);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim_abs());
    int k = snprintf(longdir, sizeof longdir, "POOLGUARD_DIR=%s/", d.r.work);
    while (k < 6000)
        longdir[k++] = 'x';
    longdir[k] = 0;
    const char *env[] = { preload, tmpvar, longdir, NULL };
    tu_prog_path(path, sizeof path, "dl_lock_inversion");
    char *argv[] = { "dl_lock_inversion", NULL };
    run_to_finding(&d, "long_dir", path, argv, false, env, "dl_lock_inversion: start", dflt, 1);
    ck_assert_msg(e2e_has_poolguard_line(d.err, "POOLGUARD_DIR"),
                  "no warning about POOLGUARD_DIR; "
                  "stderr: %.500s",
                  d.err);
    dl_run_free(&d);
}
END_TEST

/*
 * Secure execution (AT_SECURE): a setuid-root copy of a deadlocking program run by "nobody". The
 * loader then preloads only libraries named without a slash, from its trusted directories, that
 * are set-user-ID themselves (docs/security.md); so the test installs a setuid copy of the shim in
 * /usr/lib for the duration of the test. The shim is loaded (its mapping is in /proc/pid/maps) but
 * must stay passive: no watchdog thread, no file, no line on stderr. A control run of the same
 * binary by root (no secure execution) must find the deadlock, so that silence means something.
 * Needs root; registered only then.
 */
START_TEST(test_secure_execution_process_gets_no_watchdog_and_no_files)
{
    struct dl_run d;
    char bin[PATH_MAX + 16], lib[PATH_MAX], libname[64], preload[128], dirvar[PATH_MAX + 32];
    char src[PATH_MAX];
    static char cmd[8 * PATH_MAX];
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "secure");
    ck_assert(chmod(d.r.work, 0755) == 0);
    ck_assert(chmod(d.r.reports, 0777) == 0); /* writable by nobody: the shim must not use it */
    snprintf(bin, sizeof bin, "%s/rel_go", d.r.work);
    tu_prog_path(src, sizeof src, "rel_go");
    snprintf(libname, sizeof libname, "libpoolguard-sectest-%d.so", (int)getpid());
    snprintf(lib, sizeof lib, "/usr/lib/%s", libname);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chmod 4755 '%s' && cp '%s' '%s' && chmod 4755 '%s'",
             src, bin, bin, shim_abs(), lib, lib);
    int rc = system(cmd);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", libname);
    snprintf(dirvar, sizeof dirvar, "POOLGUARD_DIR=%s", d.r.reports);
    const char *env[] = { preload, dirvar, NULL };

    bool loaded = false, watchdog = false, secure = false, control_found = false;
    char *first = NULL, *err = NULL;
    if (rc == 0) {
        char *argv[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, NULL };
        e2e_run_start(&d.r, "/usr/bin/setpriv", argv, false, env);
        first = wait_for_line(&d.r, "rel_go: start", STARTUP_MS);
        tu_sleep_ms(1500); /* 15 scans of the default interval */
        char p[PATH_MAX];
        snprintf(p, sizeof p, "/proc/%d/maps", (int)d.r.pid);
        char *maps = tu_slurp_maybe(p, NULL);
        loaded = maps && strstr(maps, libname);
        free(maps);
        snprintf(p, sizeof p, "/proc/%d/auxv", (int)d.r.pid);
        size_t len = 0;
        char *auxv = tu_slurp_maybe(p, &len);
        for (size_t i = 0; auxv && i + 16 <= len; i += 16) {
            unsigned long type, val;
            memcpy(&type, auxv + i, 8);
            memcpy(&val, auxv + i + 8, 8);
            if (type == 23 /* AT_SECURE */)
                secure = val != 0;
        }
        free(auxv);
        snprintf(p, sizeof p, "/proc/%d/task", (int)d.r.pid);
        DIR *dir = opendir(p);
        struct dirent *e;
        while (dir && (e = readdir(dir)) != NULL) {
            char cp[PATH_MAX + 300];
            snprintf(cp, sizeof cp, "%s/%s/comm", p, e->d_name);
            char *comm = tu_slurp_maybe(cp, NULL);
            watchdog = watchdog || (comm && tu_starts_with(comm, "poolguard"));
            free(comm);
        }
        if (dir)
            closedir(dir);
        e2e_run_kill(&d.r);
        err = e2e_run_stderr(&d.r);

        /* Control: root runs the same binary, not in secure-execution mode. */
        struct e2e_run c;
        e2e_run_init(&c, "secure_control");
        char cdir[PATH_MAX + 32];
        snprintf(cdir, sizeof cdir, "POOLGUARD_DIR=%s", c.reports);
        const char *cenv[] = { preload, cdir, NULL };
        char *cargv[] = { "rel_go", NULL };
        e2e_run_start(&c, bin, cargv, false, cenv);
        control_found = e2e_wait_for_finding(&c, STARTUP_MS);
        e2e_run_kill(&c);
        tu_rmtree(c.work);
    }
    unlink(lib);
    unlink(bin);

    ck_assert_msg(rc == 0, "could not install the setuid copies (%s)", cmd);
    ck_assert_msg(first != NULL, "the setuid program did not start as nobody; stderr: %.500s", err);
    ck_assert_msg(secure, "the setuid program did not run in secure-execution mode (AT_SECURE)");
    ck_assert_msg(loaded,
                  "the loader did not preload the setuid shim from /usr/lib: the test proves "
                  "nothing");
    ck_assert_msg(control_found, "control: the same program run by root found no deadlock");
    ck_assert_msg(!watchdog, "a secure-execution process got a poolguard watchdog thread");
    struct e2e_reports rs;
    e2e_reports_load(&rs, d.r.reports);
    ck_assert_msg(rs.n == 0, "a secure-execution process wrote a report into %s", d.r.reports);
    e2e_reports_free(&rs);
    ck_assert_msg(count_poolguard_lines(err) == 0,
                  "a secure-execution process wrote poolguard: lines: "
                  "%.500s",
                  err);
    free(first);
    free(err);
    dl_run_free(&d);
}
END_TEST

Suite *security_suite(void)
{
    Suite *s = suite_create("security");

    TCase *tc = tcase_create("security");
    tcase_set_timeout(tc, 60);
    tcase_add_test(
        tc, test_planted_symlinks_and_files_at_the_report_name_are_never_followed_or_overwritten);
    tcase_add_loop_test(tc, test_unsafe_default_report_dir_is_refused_with_a_warning, 0,
                        DIR_VARIANTS);
    tcase_add_test(tc, test_missing_default_report_dir_is_created_private);
    tcase_add_test(tc, test_invalid_environment_values_warn_and_change_nothing);
    tcase_add_test(tc, test_too_long_report_dir_warns_and_falls_back_to_the_default);
    if (geteuid() == 0)
        tcase_add_test(tc, test_secure_execution_process_gets_no_watchdog_and_no_files);
    suite_add_tcase(s, tc);
    return s;
}
