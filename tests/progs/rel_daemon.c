/*
 * Deadlocks on purpose, twice, like a daemon that manages its own file descriptors: before each
 * deadlock it closes every descriptor and dup2()s its log file over descriptors 0 to 15, so any
 * descriptor number the shim had (or will get) may now be the program's. The shim must still put
 * both findings in the one report file (it reopens the report for each finding) and must never
 * write into the program's log.
 *
 *   rel_daemon LOGFILE
 *
 * It prints "rel_daemon: start" before the first close (stdout is gone afterwards). Between the two
 * deadlocks it waits (up to 10 s) until the first finding is on disk, by reading $POOLGUARD_DIR.
 * Each deadlock is a two-thread lock inversion: daemon_first_a/_b, then daemon_second_a/_b, all
 * blocking in daemon_lock_second. Afterwards the main thread sleeps (nanosleep) until killed.
 */
#include "rel_common.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

struct pair {
    pthread_mutex_t a, b;
    pthread_barrier_t both_hold;
};

static struct pair first = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, { { 0 } } };
static struct pair second = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, { { 0 } } };

void daemon_lock_second(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
}

static void side(struct pair *p, int which)
{
    pthread_mutex_t *mine = which ? &p->b : &p->a, *other = which ? &p->a : &p->b;
    pthread_mutex_lock(mine);
    pthread_barrier_wait(&p->both_hold);
    daemon_lock_second(other);
    pthread_mutex_unlock(mine);
}

void *daemon_first_a(void *arg) { side(arg, 0); return NULL; }
void *daemon_first_b(void *arg) { side(arg, 1); return NULL; }
void *daemon_second_a(void *arg) { side(arg, 0); return NULL; }
void *daemon_second_b(void *arg) { side(arg, 1); return NULL; }

static const char *log_path;

/* Closes everything, then the log over 0..15, as daemons that redirect their output do. */
static void reset_descriptors(const char *note)
{
    for (int fd = 0; fd < 1024; fd++)
        close(fd);
    int log = open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (log < 0)
        _exit(3);
    for (int fd = 0; fd < 16; fd++)
        if (fd != log)
            dup2(log, fd);
    (void)!write(1, note, strlen(note));
}

/* Findings in $POOLGUARD_DIR, counted by their "type":"finding" lines. */
static int findings_on_disk(void)
{
    const char *dir = getenv("POOLGUARD_DIR");
    if (!dir)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int count = 0;
    struct dirent *e;
    static char buf[1 << 20];
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "poolguard.", 10) != 0)
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        int fd = open(p, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = 0;
        for (char *s = buf; (s = strstr(s, "\"type\":\"finding\"")) != NULL; s++)
            count++;
    }
    closedir(d);
    return count;
}

static void start_pair(struct pair *p, void *(*a)(void *), void *(*b)(void *))
{
    pthread_t t;
    pthread_barrier_init(&p->both_hold, NULL, 2);
    pthread_create(&t, NULL, a, p);
    pthread_create(&t, NULL, b, p);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    log_path = argv[1];
    printf("rel_daemon: start\n");
    fflush(stdout);

    reset_descriptors("daemon: first\n");
    start_pair(&first, daemon_first_a, daemon_first_b);
    long deadline = rel_now_ms() + 10000;
    while (findings_on_disk() < 1 && rel_now_ms() < deadline)
        rel_sleep_ms(20);

    reset_descriptors("daemon: second\n");
    start_pair(&second, daemon_second_a, daemon_second_b);
    for (;;)
        rel_sleep_ms(1000);
}
