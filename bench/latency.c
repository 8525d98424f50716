/*
 * Detection latency: runs a deadlocking program under the shim again and again and measures the
 * time from the deadlock forming (the program writes its CLOCK_MONOTONIC time to $BENCH_TS_FILE
 * just before the blocking call that closes it) to the report appearing in POOLGUARD_DIR with a
 * finding line. The directory is polled every POLL_MS; the figure includes up to that much.
 * Each run's latency is printed in milliseconds ("latency_ms X"), or "latency_ms timeout" when no
 * finding appeared within the time limit.
 * Usage: latency SHIM RUNS TIMEOUT_MS PROGRAM [ARGS...]
 */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define POLL_MS 2

static int has_finding(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    static char buf[1 << 16];
    while (!found && (e = readdir(d))) {
        if (strncmp(e->d_name, "poolguard.", 10) != 0)
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        int fd = open(p, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            found = strstr(buf, "\"type\":\"finding\"") != NULL;
        }
    }
    closedir(d);
    return found;
}

static int read_stamp(const char *path, uint64_t *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned long long v;
    int ok = fscanf(f, "%llu", &v) == 1;
    fclose(f);
    if (!ok)
        return -1;
    *out = v;
    return 0;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: latency SHIM RUNS TIMEOUT_MS PROGRAM [ARGS...]\n");
        return 2;
    }
    const char *shim = argv[1];
    int runs = atoi(argv[2]);
    long timeout_ms = atol(argv[3]);
    for (int run = 0; run < runs; run++) {
        char dir[] = "/tmp/pg-bench-lat-XXXXXX";
        if (!mkdtemp(dir))
            bench_die("mkdtemp", errno);
        char reports[64], stamp[64];
        snprintf(reports, sizeof reports, "%s/reports", dir);
        snprintf(stamp, sizeof stamp, "%s/stamp", dir);
        mkdir(reports, 0700);
        pid_t pid = fork();
        if (pid < 0)
            bench_die("fork", errno);
        if (pid == 0) {
            setenv("LD_PRELOAD", shim, 1);
            setenv("POOLGUARD_DIR", reports, 1);
            setenv("POOLGUARD_QUIET", "1", 1);
            setenv("BENCH_TS_FILE", stamp, 1);
            execv(argv[4], argv + 4);
            _exit(127);
        }
        uint64_t start = bench_now_ns(), found_at = 0;
        while (bench_now_ns() - start < (uint64_t)timeout_ms * 1000000u) {
            if (has_finding(reports)) {
                found_at = bench_now_ns();
                break;
            }
            struct timespec nap = {0, POLL_MS * 1000000L};
            nanosleep(&nap, NULL);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        uint64_t formed;
        if (read_stamp(stamp, &formed) < 0)
            printf("latency_ms nostamp\n");
        else if (!found_at)
            printf("latency_ms timeout\n");
        else
            printf("latency_ms %.3f\n", ((double)found_at - (double)formed) / 1e6);
        fflush(stdout);
        remove_tree(reports);
        remove_tree(dir);
    }
    return 0;
}
