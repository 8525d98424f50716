/*
 * Healthy: a bounded soak. `ok_rel_soak SECONDS` (default 5) runs random lock, condition-variable,
 * semaphore, read-write lock, barrier and join workloads on 16 worker threads, 4 consumer threads
 * of a bounded queue and a barrier group of 3, until the time is up; then everything stops and main
 * checks its invariants (every queued item consumed once, every counter equal to the increments
 * made). Deadlock-free by construction: mutexes are always taken in increasing order (trylock in
 * any order), every other wait has a waker that keeps running. main samples VmRSS every 250 ms to
 * stderr ("rel_rss: <ms> <kB>") and prints "ok_rel_soak: ok" at the end.
 */
#include "rel_common.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#define WORKERS 16
#define CONSUMERS 4
#define NLOCKS 8
#define QCAP 64

static pthread_mutex_t locks[NLOCKS];
static long lock_counts[NLOCKS];
static _Atomic long lock_increments[NLOCKS];

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long rw_value;
static _Atomic long rw_writes;

static pthread_mutex_t qm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static long queue[QCAP];
static int qhead, qlen;
static _Atomic long produced_sum, consumed_sum, produced_n, consumed_n;

static sem_t resources;
static _Atomic int in_use, max_in_use;

static pthread_mutex_t ev_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_c = PTHREAD_COND_INITIALIZER;
static long ev_gen;

static pthread_barrier_t bar;
static int bar_stop;
static _Atomic long bar_rounds;

static _Atomic long helper_sum;
static _Atomic int stop;
static long deadline_ms;

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffff;
}

static void abs_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += (ms % 1000) * 1000000L;
    ts->tv_sec += ms / 1000 + ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

static void op_ordered_locks(unsigned *seed)
{
    int first = (int)(next_rand(seed) % NLOCKS);
    int count = 1 + (int)(next_rand(seed) % 3);
    int taken[3], n = 0;
    for (int k = first; k < NLOCKS && n < count; k += 1 + (int)(next_rand(seed) % 3)) {
        pthread_mutex_lock(&locks[k]);
        taken[n++] = k;
    }
    for (int i = 0; i < n; i++) {
        lock_counts[taken[i]]++;
        lock_increments[taken[i]]++;
    }
    if (next_rand(seed) % 50 == 0)
        rel_sleep_ms(1 + next_rand(seed) % 3);
    for (int i = n; i-- > 0;)
        pthread_mutex_unlock(&locks[taken[i]]);
}

static void op_trylocks(unsigned *seed)
{
    int a = (int)(next_rand(seed) % NLOCKS), b = (int)(next_rand(seed) % NLOCKS);
    if (pthread_mutex_trylock(&locks[a]) != 0)
        return;
    if (b != a && pthread_mutex_trylock(&locks[b]) == 0) {
        lock_counts[b]++;
        lock_increments[b]++;
        pthread_mutex_unlock(&locks[b]);
    }
    lock_counts[a]++;
    lock_increments[a]++;
    pthread_mutex_unlock(&locks[a]);
}

static void op_rwlock(unsigned *seed)
{
    if (next_rand(seed) % 4 == 0) {
        pthread_rwlock_wrlock(&rw);
        rw_value++;
        rw_writes++;
        pthread_rwlock_unlock(&rw);
    } else {
        pthread_rwlock_rdlock(&rw);
        volatile long v = rw_value;
        (void)v;
        pthread_rwlock_unlock(&rw);
    }
}

static void op_produce(unsigned *seed)
{
    long item = 1 + next_rand(seed) % 1000;
    pthread_mutex_lock(&qm);
    while (qlen == QCAP && !stop) {
        struct timespec ts;
        abs_in(&ts, 50);
        pthread_cond_timedwait(&not_full, &qm, &ts);
    }
    if (qlen < QCAP) {
        queue[(qhead + qlen) % QCAP] = item;
        qlen++;
        produced_sum += item;
        produced_n++;
        pthread_cond_signal(&not_empty);
    }
    pthread_mutex_unlock(&qm);
}

static void op_semaphore(unsigned *seed)
{
    if (next_rand(seed) % 2) {
        while (sem_wait(&resources) != 0)
            ;
    } else {
        struct timespec ts;
        abs_in(&ts, 20);
        if (sem_timedwait(&resources, &ts) != 0)
            return;
    }
    int now = ++in_use;
    int seen = max_in_use;
    while (now > seen && !atomic_compare_exchange_weak(&max_in_use, &seen, now))
        ;
    if (next_rand(seed) % 20 == 0)
        rel_sleep_ms(1);
    in_use--;
    sem_post(&resources);
}

static void *helper(void *arg)
{
    helper_sum += (long)arg;
    pthread_mutex_lock(&locks[NLOCKS - 1]);
    lock_counts[NLOCKS - 1]++;
    lock_increments[NLOCKS - 1]++;
    pthread_mutex_unlock(&locks[NLOCKS - 1]);
    return arg;
}

static void op_join(unsigned *seed)
{
    pthread_t t;
    long v = next_rand(seed) % 100;
    if (pthread_create(&t, NULL, helper, (void *)v) != 0)
        return;
    void *ret;
    pthread_join(t, &ret);
    REL_CHECK((long)ret == v);
}

static void op_event(unsigned *seed)
{
    pthread_mutex_lock(&ev_m);
    if (next_rand(seed) % 3 == 0) {
        ev_gen++;
        pthread_cond_broadcast(&ev_c);
    } else {
        long gen = ev_gen;
        struct timespec ts;
        abs_in(&ts, 5);
        while (gen == ev_gen && pthread_cond_timedwait(&ev_c, &ev_m, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&ev_m);
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(long)arg * 7919u + 17u;
    while (!stop) {
        switch (next_rand(&seed) % 8) {
        case 0: case 1: op_ordered_locks(&seed); break;
        case 2: op_trylocks(&seed); break;
        case 3: op_rwlock(&seed); break;
        case 4: op_produce(&seed); break;
        case 5: op_semaphore(&seed); break;
        case 6: if (next_rand(&seed) % 8 == 0) op_join(&seed); break;
        case 7: op_event(&seed); break;
        }
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&qm);
    for (;;) {
        while (qlen == 0 && !stop)
            pthread_cond_wait(&not_empty, &qm);
        if (qlen == 0)
            break;
        long item = queue[qhead];
        qhead = (qhead + 1) % QCAP;
        qlen--;
        consumed_sum += item;
        consumed_n++;
        pthread_cond_signal(&not_full);
        if (item % 97 == 0) {
            pthread_mutex_unlock(&qm);
            rel_sleep_ms(1);
            pthread_mutex_lock(&qm);
        }
    }
    pthread_mutex_unlock(&qm);
    return NULL;
}

static void *barrier_member(void *arg)
{
    (void)arg;
    for (;;) {
        if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD)
            bar_stop = stop;
        pthread_barrier_wait(&bar);   /* everyone reads the same decision */
        if (bar_stop)
            break;
        bar_rounds++;
        if (bar_rounds % 100 == 0)
            rel_sleep_ms(1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long seconds = argc > 1 ? atol(argv[1]) : 5;
    REL_CHECK(seconds > 0 && seconds < 100000);
    long start = rel_now_ms();
    deadline_ms = start + seconds * 1000;
    for (int i = 0; i < NLOCKS; i++)
        pthread_mutex_init(&locks[i], NULL);
    sem_init(&resources, 0, 3);
    pthread_barrier_init(&bar, NULL, 3);

    pthread_t w[WORKERS], c[CONSUMERS], b[3];
    for (long i = 0; i < WORKERS; i++)
        pthread_create(&w[i], NULL, worker, (void *)i);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_create(&c[i], NULL, consumer, NULL);
    for (int i = 0; i < 3; i++)
        pthread_create(&b[i], NULL, barrier_member, NULL);

    while (rel_now_ms() < deadline_ms) {
        rel_sleep_ms(250);
        fprintf(stderr, "rel_rss: %ld %ld\n", rel_now_ms() - start, rel_status_kb("VmRSS"));
    }
    stop = 1;
    for (int i = 0; i < WORKERS; i++)
        pthread_join(w[i], NULL);
    pthread_mutex_lock(&qm);
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&qm);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(c[i], NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(b[i], NULL);

    REL_CHECK(produced_n == consumed_n && produced_sum == consumed_sum);
    for (int i = 0; i < NLOCKS; i++)
        REL_CHECK(lock_counts[i] == lock_increments[i]);
    REL_CHECK(rw_value == rw_writes);
    REL_CHECK(max_in_use <= 3);
    fprintf(stderr, "rel_soak: items %ld, lock ops %ld, rw writes %ld, barrier rounds %ld, helpers %ld\n",
            (long)consumed_n, (long)(lock_increments[0] + lock_increments[NLOCKS - 1]), (long)rw_writes,
            (long)bar_rounds, (long)helper_sum);
    rel_print_mem();
    printf("ok_rel_soak: ok\n");
    return 0;
}
