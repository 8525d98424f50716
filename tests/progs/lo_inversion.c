/* Inversion that does not deadlock this run: one thread takes A then B; later (after a semaphore,
 * which orders nothing for poolguard) another takes B then A. Exits 0; a lock_order warning names
 * both. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static sem_t first_done;
static int balance;

void take_b_while_holding_a(void)
{
    pthread_mutex_lock(&lock_a);
    pthread_mutex_lock(&lock_b);
    balance++;
    pthread_mutex_unlock(&lock_b);
    pthread_mutex_unlock(&lock_a);
}

void take_a_while_holding_b(void)
{
    pthread_mutex_lock(&lock_b);
    pthread_mutex_lock(&lock_a);
    balance--;
    pthread_mutex_unlock(&lock_a);
    pthread_mutex_unlock(&lock_b);
}

static void *first(void *arg)
{
    (void)arg;
    take_b_while_holding_a();
    sem_post(&first_done);
    return NULL;
}

static void *second(void *arg)
{
    (void)arg;
    sem_wait(&first_done);
    take_a_while_holding_b();
    return NULL;
}

int main(void)
{
    pthread_t t1, t2;
    sem_init(&first_done, 0, 0);
    pthread_create(&t2, NULL, second, NULL);
    pthread_create(&t1, NULL, first, NULL);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    printf("lo_inversion: balance %d\n", balance);
    return 0;
}
