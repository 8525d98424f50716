/*
 * Deadlocks on purpose through a read lock: reader_thread holds table_lock for reading and then
 * wants stats_mutex; writer_thread holds stats_mutex and then wants table_lock for writing, which
 * cannot be granted while the reader holds it. The e2e test expects a two-thread cycle with one
 * thread blocked on a mutex (reader_wants_mutex) and one on a rwlock write lock
 * (writer_wants_write_lock).
 */
#include <pthread.h>
#include <stdio.h>

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t stats_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold_first;
static volatile int progress;

void reader_wants_mutex(void)
{
    pthread_mutex_lock(&stats_mutex);
    progress++;
}

void writer_wants_write_lock(void)
{
    pthread_rwlock_wrlock(&table_lock);
    progress++;
}

void *reader_thread(void *arg)
{
    (void)arg;
    pthread_rwlock_rdlock(&table_lock);
    pthread_barrier_wait(&both_hold_first);
    reader_wants_mutex();
    pthread_mutex_unlock(&stats_mutex);
    pthread_rwlock_unlock(&table_lock);
    return NULL;
}

void *writer_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&stats_mutex);
    pthread_barrier_wait(&both_hold_first);
    writer_wants_write_lock();
    pthread_rwlock_unlock(&table_lock);
    pthread_mutex_unlock(&stats_mutex);
    return NULL;
}

int main(void)
{
    pthread_t r, w;

    printf("dl_rwlock: start\n");
    fflush(stdout);
    pthread_barrier_init(&both_hold_first, NULL, 2);
    pthread_create(&r, NULL, reader_thread, NULL);
    pthread_create(&w, NULL, writer_thread, NULL);
    pthread_join(r, NULL);
    pthread_join(w, NULL);
    printf("dl_rwlock: unreachable\n");
    return 0;
}
