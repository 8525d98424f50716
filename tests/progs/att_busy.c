/*
 * A healthy, busy program for `poolguard attach` (tests/e2e/check_attach.c): threads contend for a
 * mutex, pass work through a condition variable and sleep, for about ARGV[1] milliseconds
 * (default 3000), then print a checksum and exit 0. Being stopped and resumed any number of
 * times must change neither its output nor its status. Started with a count of threads as
 * ARGV[2] (default 4), it is also the 10- and 100-thread timing target. It stops early when the
 * file ARGV[3] exists.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter, items;
static volatile int stop;

static void *busy_worker(void *arg)
{
    long id = (long)arg;
    while (!stop) {
        pthread_mutex_lock(&lock);
        counter += id;
        if (id % 2) {
            items++;
            pthread_cond_signal(&cv);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 2000000;
            if (ts.tv_nsec >= 1000000000)
                ts.tv_sec++, ts.tv_nsec -= 1000000000;
            while (!items && !stop && pthread_cond_timedwait(&cv, &lock, &ts) == 0)
                ;
            if (items)
                items--;
        }
        pthread_mutex_unlock(&lock);
        usleep(100);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long ms = argc > 1 ? atol(argv[1]) : 3000;
    int n = argc > 2 ? atoi(argv[2]) : 4;
    pthread_t *t = calloc((size_t)n, sizeof *t);
    for (long i = 0; i < n; i++)
        pthread_create(&t[i], NULL, busy_worker, (void *)(i + 1));
    printf("ready\n");
    fflush(stdout);
    for (long waited = 0; waited < ms; waited += 10) {
        if (argc > 3 && access(argv[3], F_OK) == 0)
            break;
        usleep(10000);
    }
    stop = 1;
    pthread_mutex_lock(&lock);
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    printf("done %d threads\n", n);
    return 0;
}
