/*
 * Healthy: main ends with pthread_exit() while its threads go on. One thread joins the exited main
 * thread; two threads then play a condition-variable ping-pong for a while (several watchdog
 * scans), waiting without a time limit; the last thread returns, and the process exits with status
 * 0 (the C library calls exit(0) when the last thread ends), running the atexit handler.
 */
#include "rel_common.h"

#include <pthread.h>
#include <unistd.h>

static pthread_t main_thread;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int turn;
static long rounds;

static void *ping(void *arg)
{
    long me = (long)arg;
    long deadline = rel_now_ms() + 500;
    pthread_mutex_lock(&m);
    for (;;) {
        while (turn != me && turn != 2)
            pthread_cond_wait(&c, &m);
        if (turn == 2)
            break;
        rounds++;
        if (rel_now_ms() > deadline) {
            turn = 2;   /* both stop */
        } else {
            turn = !me;
            if (rounds % 50 == 0) {
                pthread_mutex_unlock(&m);
                rel_sleep_ms(2);
                pthread_mutex_lock(&m);
            }
        }
        pthread_cond_broadcast(&c);
    }
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *joins_main(void *arg)
{
    (void)arg;
    void *ret;
    int r = pthread_join(main_thread, &ret);
    printf("joined main: %d, value %ld\n", r, (long)ret);
    fflush(stdout);
    pthread_t a, b;
    pthread_create(&a, NULL, ping, (void *)0L);
    pthread_create(&b, NULL, ping, (void *)1L);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("ping-pong done\n");
    fflush(stdout);
    return NULL;
}

static void at_exit(void)
{
    printf("atexit ran\n");
    fflush(stdout);
}

int main(void)
{
    atexit(at_exit);
    main_thread = pthread_self();
    pthread_t t;
    pthread_create(&t, NULL, joins_main, NULL);
    pthread_detach(t);
    printf("main: pthread_exit\n");
    fflush(stdout);
    pthread_exit((void *)42L);
}
