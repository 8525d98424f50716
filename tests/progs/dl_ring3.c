/*
 * Deadlocks on purpose: three threads and three mutexes in a ring. ring_thread_<i> takes ring[i],
 * waits at a barrier until all three hold their first lock, then takes ring[(i+1) % 3] in
 * ring_lock_next. The e2e test expects a three-thread mutex cycle, each thread's own
 * ring_thread_<i> plus ring_lock_next in its stack, and the names "ring-0".."ring-2", set with
 * prctl(PR_SET_NAME) rather than pthread_setname_np.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/prctl.h>

#define RING 3

static pthread_mutex_t ring[RING] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
};
static pthread_barrier_t all_hold_first;
static volatile int progress;

void ring_lock_next(int i)
{
    pthread_mutex_lock(&ring[(i + 1) % RING]);
    progress++;
}

static void ring_step(int i)
{
    char name[16];

    snprintf(name, sizeof name, "ring-%d", i);
    prctl(PR_SET_NAME, name, 0, 0, 0);
    pthread_mutex_lock(&ring[i]);
    pthread_barrier_wait(&all_hold_first);
    ring_lock_next(i);
    pthread_mutex_unlock(&ring[(i + 1) % RING]);
    pthread_mutex_unlock(&ring[i]);
}

/* One entry point per thread, so that the test can tell the three stacks apart. */
void *ring_thread_0(void *arg) { (void)arg; ring_step(0); return NULL; }
void *ring_thread_1(void *arg) { (void)arg; ring_step(1); return NULL; }
void *ring_thread_2(void *arg) { (void)arg; ring_step(2); return NULL; }

int main(void)
{
    void *(*entry[RING])(void *) = { ring_thread_0, ring_thread_1, ring_thread_2 };
    pthread_t t[RING];

    printf("dl_ring3: start\n");
    fflush(stdout);
    pthread_barrier_init(&all_hold_first, NULL, RING);
    for (int i = 0; i < RING; i++)
        pthread_create(&t[i], NULL, entry[i], NULL);
    for (int i = 0; i < RING; i++)
        pthread_join(t[i], NULL);
    printf("dl_ring3: unreachable\n");
    return 0;
}
