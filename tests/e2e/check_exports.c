/*
 * The shim's exported symbols: exactly the functions it interposes and its public poolguard_* API.
 * No program runs; the built library is read with `nm`.
 */
#include "testlib.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The shim exports exactly the functions it interposes, as shim/core/hooks.def lists them (the
 * build writes the names to <build>/shim/exports.list), and its public poolguard_* API (STYLE.md).
 * Version-definition symbols (type A, the names of the version script's nodes) are not functions
 * and are ignored.
 */
START_TEST(test_shim_exports_only_hooks_and_public_api)
{
    char shim[PATH_MAX], list[PATH_MAX], cmd[PATH_MAX + 64];
    snprintf(shim, sizeof shim, "%s/libpoolguard.so", tu_build());
    snprintf(list, sizeof list, "%s/shim/exports.list", tu_build());
    ck_assert_msg(access(shim, R_OK) == 0, "the shim is not built: %s", shim);
    char *names = tu_slurp_maybe(list, NULL);
    ck_assert_msg(names != NULL, "the list of hooked functions is not built: %s", list);
    const char *hooks[256];
    bool have[256] = { false };
    size_t nhooks = 0;
    for (char *save = NULL, *tok = strtok_r(names, " \t\n", &save); tok;
         tok = strtok_r(NULL, " \t\n", &save)) {
        ck_assert_msg(nhooks < sizeof hooks / sizeof hooks[0], "more names in %s than expected",
                      list);
        hooks[nhooks++] = tok;
    }
    ck_assert_msg(nhooks > 0, "%s lists no function", list);

    snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s'", shim);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen: %s", strerror(errno));
    char extra[4096] = "";
    char line[1024];
    int count = 0;
    while (fgets(line, sizeof line, p)) {
        char type, name[512];
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "%*s %c %511s", &type, name) != 2)
            continue;
        if (type == 'A')
            continue;
        name[strcspn(name, "@")] = '\0'; /* newer nm prints name@@VERSION */
        count++;
        bool listed = false;
        for (size_t i = 0; i < nhooks; i++)
            if (strcmp(name, hooks[i]) == 0)
                listed = have[i] = true;
        if (!listed && !tu_starts_with(name, "poolguard_")) {
            strncat(extra, " ", sizeof extra - strlen(extra) - 1);
            strncat(extra, name, sizeof extra - strlen(extra) - 1);
        }
    }
    int rc = pclose(p);
    ck_assert_msg(rc == 0 && count > 0, "`%s` failed or listed nothing", cmd);
    ck_assert_msg(extra[0] == '\0',
                  "the shim exports symbols that are neither hooks nor poolguard_* "
                  "API:%s",
                  extra);
    for (size_t i = 0; i < nhooks; i++)
        ck_assert_msg(have[i], "the shim does not export the hook %s", hooks[i]);
    free(names);
}
END_TEST

Suite *exports_suite(void)
{
    Suite *s = suite_create("exports");

    TCase *tc = tcase_create("contract");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_shim_exports_only_hooks_and_public_api);
    suite_add_tcase(s, tc);
    return s;
}
