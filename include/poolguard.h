/*
 * poolguard.h: annotations for thread-pool authors.
 *
 * poolguard finds pool exhaustion in pools it knows nothing about by watching their threads; a pool
 * that describes itself gets exact findings instead: which task each worker runs, which task it
 * waits for, whether that task is still queued, and the queue's exact depth.
 *
 * The functions are weak references: in a program run without the shim they are null and the
 * macros below do nothing but one test of a pointer, so an annotated program links and runs the
 * same without poolguard. Under LD_PRELOAD=libpoolguard.so they resolve to the shim.
 *
 * Handles are any addresses that identify the pool and the task for their lifetime (the pool
 * object, the task object). A task handle may be reused once the task is done.
 *
 *     POOLGUARD_POOL_CREATE(pool, "io-pool", nworkers);
 *     POOLGUARD_TASK_SUBMIT(pool, task);      // producer, after queueing it
 *     POOLGUARD_TASK_START(pool, task);       // worker, after taking it off the queue
 *     POOLGUARD_TASK_DONE(pool, task);        // worker, when it has finished
 *     POOLGUARD_TASK_WAIT(task);              // anyone, before blocking on the task's result
 *     POOLGUARD_TASK_WAIT_DONE(task);         // ... and after
 *     POOLGUARD_POOL_DESTROY(pool);
 */
#ifndef POOLGUARD_H
#define POOLGUARD_H

#ifdef __cplusplus
extern "C" {
#endif

#define POOLGUARD_API_VERSION 1

void poolguard_pool_create(const void *pool, const char *name, int workers) __attribute__((weak));
void poolguard_pool_destroy(const void *pool) __attribute__((weak));
void poolguard_task_submit(const void *pool, const void *task) __attribute__((weak));
void poolguard_task_start(const void *pool, const void *task) __attribute__((weak));
void poolguard_task_done(const void *pool, const void *task) __attribute__((weak));
void poolguard_task_wait(const void *task) __attribute__((weak));
void poolguard_task_wait_done(const void *task) __attribute__((weak));

#define POOLGUARD_CALL_(fn, ...)                                                                   \
    do {                                                                                           \
        if (fn)                                                                                    \
            fn(__VA_ARGS__);                                                                       \
    } while (0)
#define POOLGUARD_POOL_CREATE(pool, name, workers)                                                 \
    POOLGUARD_CALL_(poolguard_pool_create, pool, name, workers)
#define POOLGUARD_POOL_DESTROY(pool) POOLGUARD_CALL_(poolguard_pool_destroy, pool)
#define POOLGUARD_TASK_SUBMIT(pool, task) POOLGUARD_CALL_(poolguard_task_submit, pool, task)
#define POOLGUARD_TASK_START(pool, task) POOLGUARD_CALL_(poolguard_task_start, pool, task)
#define POOLGUARD_TASK_DONE(pool, task) POOLGUARD_CALL_(poolguard_task_done, pool, task)
#define POOLGUARD_TASK_WAIT(task) POOLGUARD_CALL_(poolguard_task_wait, task)
#define POOLGUARD_TASK_WAIT_DONE(task) POOLGUARD_CALL_(poolguard_task_wait_done, task)

#ifdef __cplusplus
}
#endif

#endif
