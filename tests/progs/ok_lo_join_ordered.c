/*
 * An inversion that cannot deadlock because thread join orders it: a thread takes A then B and is
 * joined; only then does main take B then A, and so does a thread main creates after the join.
 * Neither of the later orders can overlap the first: no finding (Goblint agrees; Helgrind and
 * TSan report it).
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

static void *a_then_b(void *arg)
{
    (void)arg;
    nested(&lock_a, &lock_b);
    return NULL;
}

static void *b_then_a(void *arg)
{
    (void)arg;
    nested(&lock_b, &lock_a);
    return NULL;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, a_then_b, NULL);
    pthread_join(t, NULL);
    nested(&lock_b, &lock_a);
    pthread_create(&t, NULL, b_then_a, NULL);
    pthread_join(t, NULL);
    printf("ok_lo_join_ordered: done\n");
    return 0;
}
