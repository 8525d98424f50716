/*
 * The table of CPython layouts the outside reader and the shim use (shim/python/pyoffsets.c) against the
 * headers of every Python on this machine that has them (Debian's python3.X-dev in /usr/include,
 * pyenv's builds under /root/.pyenv): tests/lib/pyoffsets_probe.c is compiled against each and
 * every fact it prints must equal the table's row for that version. A wrong offset fails here.
 */
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pyoffsets.h"
#include "testlib.h"

/* Compiles the probe against one include directory and compares; returns facts compared. */
static int check_one(const char *inc, const char *dir)
{
    char exe[512], cmd[2048];
    snprintf(exe, sizeof exe, "%s/probe", dir);
    snprintf(cmd, sizeof cmd,
             "cc -w -DNDEBUG -I'%s' -I'%s/internal' -o '%s' tests/lib/pyoffsets_probe.c 2>&1", inc,
             inc, exe);
    int rc = system(cmd);
    ck_assert_msg(rc == 0, "the probe does not build against %s: %s", inc, cmd);
    snprintf(cmd, sizeof cmd, "'%s'", exe);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    const struct pyoffs *row = NULL;
    int n = 0, major = 0, minor = 0;
    while (fgets(line, sizeof line, f)) {
        char name[128];
        long v;
        if (sscanf(line, "version %d.%d", &major, &minor) == 2) {
            row = pyoff_for_minor(minor);
            ck_assert_msg(major == 3 && row, "%s: Python %d.%d has no row in the table", inc, major,
                          minor);
            continue;
        }
        ck_assert_msg(row && sscanf(line, "%127s %ld", name, &v) == 2, "%s: probe line \"%s\"", inc,
                      line);
        long have = 0;
        ck_assert_msg(pyoff_get(row, name, &have) == 0, "%s: %s is not in the table", inc, name);
        ck_assert_msg(have == v, "Python 3.%d (%s): %s is %ld, the table says %ld", minor, inc,
                      name, v, have);
        n++;
    }
    ck_assert_int_eq(pclose(f), 0);
    return n;
}

START_TEST(test_pyoffsets_match_every_installed_python)
{
    static const char *const patterns[] = { "/usr/include/python3.*",
                                            "/root/.pyenv/versions/3.*/include/python3.*" };
    char *dir = tu_tmpdir();
    int versions = 0;
    for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++) {
        glob_t g;
        if (glob(patterns[p], 0, NULL, &g) != 0)
            continue;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            char probe[1024];
            snprintf(probe, sizeof probe, "%s/internal/pycore_pystate.h", g.gl_pathv[i]);
            int minor = 0;
            const char *v = strstr(g.gl_pathv[i], "python3.");
            if (access(probe, R_OK) != 0 || !v || sscanf(v, "python3.%d", &minor) != 1 ||
                minor < 8 || minor > 13)
                continue; /* no internal headers, or a version the reader does not cover */
            ck_assert_int_gt(check_one(g.gl_pathv[i], dir), 50);
            versions++;
        }
        globfree(&g);
    }
    tu_rmtree(dir);
    free(dir);
    if (!versions)
        tu_skip("no CPython 3.8-3.13 headers with internal/ (python3.X-dev) on this machine");
}
END_TEST

Suite *pyoffsets_suite(void)
{
    Suite *s = suite_create("pyoffsets");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pyoffsets_match_every_installed_python);
    suite_add_tcase(s, tc);
    return s;
}
