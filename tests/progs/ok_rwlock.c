/*
 * Healthy: six readers and two writers share a table under a rwlock (with tryrdlock / trywrlock
 * mixed in). Readers check that the table is never seen half-written. Under the shim: no finding,
 * same output.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#define READERS 6
#define WRITERS 2
#define SLOTS 16
#define WRITES 3000
#define READS 20000

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static long table[SLOTS];
static long torn_reads, odd_try_returns;

static void *reader(void *arg)
{
    (void)arg;
    for (int i = 0; i < READS; i++) {
        int rc = 0;
        if (i % 16 == 0) {
            rc = pthread_rwlock_tryrdlock(&table_lock);
            if (rc != 0 && rc != EBUSY)
                __atomic_add_fetch(&odd_try_returns, 1, __ATOMIC_RELAXED);
        }
        if (i % 16 != 0 || rc != 0)
            pthread_rwlock_rdlock(&table_lock);
        for (int s = 1; s < SLOTS; s++)
            if (table[s] != table[0]) {
                __atomic_add_fetch(&torn_reads, 1, __ATOMIC_RELAXED);
                break;
            }
        pthread_rwlock_unlock(&table_lock);
    }
    return NULL;
}

static void *writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < WRITES; i++) {
        int rc = 0;
        if (i % 8 == 0) {
            rc = pthread_rwlock_trywrlock(&table_lock);
            if (rc != 0 && rc != EBUSY)
                __atomic_add_fetch(&odd_try_returns, 1, __ATOMIC_RELAXED);
        }
        if (i % 8 != 0 || rc != 0)
            pthread_rwlock_wrlock(&table_lock);
        for (int s = 0; s < SLOTS; s++)
            table[s]++;
        pthread_rwlock_unlock(&table_lock);
    }
    return NULL;
}

int main(void)
{
    pthread_t r[READERS], w[WRITERS];

    printf("ok_rwlock: start\n");
    for (int i = 0; i < READERS; i++)
        pthread_create(&r[i], NULL, reader, NULL);
    for (int i = 0; i < WRITERS; i++)
        pthread_create(&w[i], NULL, writer, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(w[i], NULL);
    printf("writes=%ld torn_reads=%ld odd_try_returns=%ld\n", table[0], torn_reads, odd_try_returns);
    printf("ok_rwlock: done\n");
    return 0;
}
