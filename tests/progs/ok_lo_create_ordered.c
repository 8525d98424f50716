/*
 * An inversion that cannot deadlock because thread creation orders it: main takes B then A, and
 * only then creates the thread that takes A then B (and main takes no lock afterwards). No finding.
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;

static void nested(pthread_mutex_t *x, pthread_mutex_t *y)
{
    pthread_mutex_lock(x);
    pthread_mutex_lock(y);
    pthread_mutex_unlock(y);
    pthread_mutex_unlock(x);
}

static void *grandchild(void *arg)
{
    (void)arg;
    nested(&lock_a, &lock_b);
    return NULL;
}

static void *child(void *arg)
{
    (void)arg;
    nested(&lock_a, &lock_b);
    pthread_t t;
    pthread_create(&t, NULL, grandchild, NULL);
    pthread_join(t, NULL);
    return NULL;
}

int main(void)
{
    nested(&lock_b, &lock_a);
    pthread_t t;
    pthread_create(&t, NULL, child, NULL);
    pthread_join(t, NULL);
    printf("ok_lo_create_ordered: done\n");
    return 0;
}
