/*
 * Lock-order inversion that does not deadlock this run: thread one takes A then B, finishes; only
 * then thread two takes B then A. The program exits 0 with its normal output, and the report must
 * carry a lock_order warning naming both orders.
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
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
    return NULL;
}

static void *second(void *arg)
{
    (void)arg;
    take_a_while_holding_b();
    return NULL;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, first, NULL);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, second, NULL);
    pthread_join(t, NULL);
    printf("lo_inversion: balance %d\n", balance);
    return 0;
}
