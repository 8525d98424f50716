/*
 * Lock order with spin locks: two threads, one after the other (a semaphore orders them, not a
 * join), take a spin lock and a mutex in opposite orders. Nothing deadlocks this run; the
 * inconsistent order is the finding, whatever kind of lock each is.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

static pthread_spinlock_t spin;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static sem_t first_done;
static volatile long counter;

__attribute__((noinline)) static void take_mutex_while_spinning(void)
{
    pthread_spin_lock(&spin);
    pthread_mutex_lock(&mutex);
    counter++;
    pthread_mutex_unlock(&mutex);
    pthread_spin_unlock(&spin);
}

__attribute__((noinline)) static void take_spin_while_holding_mutex(void)
{
    pthread_mutex_lock(&mutex);
    pthread_spin_lock(&spin);
    counter--;
    pthread_spin_unlock(&spin);
    pthread_mutex_unlock(&mutex);
}

static void *first(void *arg)
{
    (void)arg;
    take_mutex_while_spinning();
    sem_post(&first_done);
    return NULL;
}

static void *second(void *arg)
{
    (void)arg;
    sem_wait(&first_done);
    take_spin_while_holding_mutex();
    return NULL;
}

int main(void)
{
    pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
    sem_init(&first_done, 0, 0);
    pthread_t a, b;
    pthread_create(&a, NULL, first, NULL);
    pthread_create(&b, NULL, second, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("lo_spin: counter %ld\n", counter);
    return 0;
}
