/*
 * Deadlocks on purpose by locking a default (non-recursive, non-error-checking) mutex twice from
 * the same thread: glibc blocks forever. Without arguments main does it; with the argument
 * "threaded" a second thread (self_relock_thread) does it while main joins that thread. The e2e
 * test expects a cycle of one mutex wait whose stack shows relock_again.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int progress;

void relock_again(void)
{
    pthread_mutex_lock(&state_lock);
    progress++;
}

void update_state(void)
{
    pthread_mutex_lock(&state_lock);
    relock_again();
    pthread_mutex_unlock(&state_lock);
    pthread_mutex_unlock(&state_lock);
}

void *self_relock_thread(void *arg)
{
    (void)arg;
    update_state();
    return NULL;
}

int main(int argc, char **argv)
{
    int threaded = argc > 1 && strcmp(argv[1], "threaded") == 0;

    printf("dl_self_relock: start%s\n", threaded ? " threaded" : "");
    fflush(stdout);
    if (threaded) {
        pthread_t t;
        pthread_create(&t, NULL, self_relock_thread, NULL);
        pthread_join(t, NULL);
    } else {
        update_state();
    }
    printf("dl_self_relock: unreachable\n");
    return 0;
}
