/*
 * What a program sees of its environment, for the tests that hold `poolguard run` to changing
 * nothing but LD_PRELOAD and its own variables (tests/e2e/check_real.c).
 *
 *   rel_env signals   prints its blocked, ignored and caught signal sets (from /proc/self/status)
 *   rel_env stop      prints "rel_env: stopping", stops itself with SIGSTOP, then, once continued,
 *                     prints "rel_env: resumed" and exits 0
 *
 * Only stdout is compared: the lines are the same with and without the shim or the gate.
 */
#include "rel_common.h"

#include <signal.h>
#include <unistd.h>

static void print_status_sets(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7) || !strncmp(line, "SigCgt:", 7))
            fputs(line, stdout);
    if (f)
        fclose(f);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "signals";
    if (!strcmp(mode, "signals")) {
        print_status_sets();
        return 0;
    }
    if (!strcmp(mode, "stop")) {
        printf("rel_env: stopping\n");
        fflush(stdout);
        raise(SIGSTOP);
        printf("rel_env: resumed\n");
        return 0;
    }
    fprintf(stderr, "usage: rel_env signals|stop\n");
    return 2;
}
