/*
 * Deadlocks on purpose: the classic two-thread lock-order inversion.
 * thread_a takes lock_a then lock_b; thread_b takes lock_b then lock_a. A barrier between the two
 * acquisitions makes the deadlock certain on every run. main joins thread_a and so ends up blocked
 * behind the cycle. The e2e test expects a two-thread mutex cycle whose stacks show thread_a,
 * thread_b and lock_second, and thread names "inv-a" / "inv-b" (set with pthread_setname_np).
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold_first;
static volatile int progress;

/* Kept out of line (and not a tail call) so that it shows in the blocked thread's stack. */
void lock_second(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    progress++;
}

void *thread_a(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "inv-a");
    pthread_mutex_lock(&lock_a);
    pthread_barrier_wait(&both_hold_first);
    lock_second(&lock_b);
    pthread_mutex_unlock(&lock_b);
    pthread_mutex_unlock(&lock_a);
    return NULL;
}

void *thread_b(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "inv-b");
    pthread_mutex_lock(&lock_b);
    pthread_barrier_wait(&both_hold_first);
    lock_second(&lock_a);
    pthread_mutex_unlock(&lock_a);
    pthread_mutex_unlock(&lock_b);
    return NULL;
}

int main(void)
{
    pthread_t a, b;

    printf("dl_lock_inversion: start\n");
    fflush(stdout);
    pthread_barrier_init(&both_hold_first, NULL, 2);
    pthread_create(&a, NULL, thread_a, NULL);
    pthread_create(&b, NULL, thread_b, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("dl_lock_inversion: unreachable\n");
    return 0;
}
