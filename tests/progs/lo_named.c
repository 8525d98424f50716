/* Inversion between a global lock and a heap lock, for the lock names (check_render_names.c):
 * deposit() takes accounts_lock then the cache's lock; later (after a semaphore, which orders
 * nothing for poolguard) audit() takes them the other way round. The cache is made, used in a
 * pair, freed and made again at the same address first, so the shim knows where its lock was
 * (re)initialized: "the mutex initialized in cache_new()". Exits 0. Line numbers are asserted. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pthread_mutex_t accounts_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t warm_lock = PTHREAD_MUTEX_INITIALIZER;
static sem_t deposited;
static long balance;

struct cache {
    long entries;
    pthread_mutex_t lock;
};
static struct cache *cache;

struct cache *cache_new(void)
{
    /* malloc, not calloc: glibc's calloc skips the cache of freed chunks, and the test wants
     * the freed cache's memory back. */
    struct cache *c = malloc(sizeof *c);
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void cache_free(struct cache *c)
{
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void deposit(void)
{
    pthread_mutex_lock(&accounts_lock);
    pthread_mutex_lock(&cache->lock);
    balance++;
    cache->entries++;
    pthread_mutex_unlock(&cache->lock);
    pthread_mutex_unlock(&accounts_lock);
}

void audit(void)
{
    pthread_mutex_lock(&cache->lock);
    pthread_mutex_lock(&accounts_lock);
    balance--;
    pthread_mutex_unlock(&accounts_lock);
    pthread_mutex_unlock(&cache->lock);
}

static void *depositor(void *arg)
{
    (void)arg;
    deposit();
    sem_post(&deposited);
    return NULL;
}

static void *auditor(void *arg)
{
    (void)arg;
    sem_wait(&deposited);
    audit();
    return NULL;
}

int main(void)
{
    /* A pair makes the shim know the cache's lock; made again at the same address, it is a
     * new generation with its init site. */
    struct cache *first = cache_new();
    pthread_mutex_lock(&warm_lock);
    pthread_mutex_lock(&first->lock);
    pthread_mutex_unlock(&first->lock);
    pthread_mutex_unlock(&warm_lock);
    cache_free(first);
    cache = cache_new();
    if (cache != first)
        printf("lo_named: the cache moved; its lock is named where it was first taken\n");
    pthread_t t1, t2;
    sem_init(&deposited, 0, 0);
    pthread_create(&t2, NULL, auditor, NULL);
    pthread_create(&t1, NULL, depositor, NULL);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    printf("lo_named: balance %ld\n", balance);
    return 0;
}
