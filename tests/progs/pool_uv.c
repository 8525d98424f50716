/*
 * libuv's thread pool (uv_queue_work), two threads. Each "waiter" job blocks until a "releaser"
 * job posts its semaphore, but the releasers were queued after the waiters: both pool threads
 * wait for work queued behind them, while the event loop thread sits in epoll_wait. The shim's
 * libuv adapter knows the queue exactly, but nothing shows what the workers wait for (the loop
 * thread could post the semaphores), so the finding is a stall (info), never an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

static uv_sem_t released[2];
static uv_work_t waiters[2], releasers[2];
static uv_timer_t keepalive;

void wait_for_release(uv_work_t *req)
{
    uv_sem_wait(&released[req - waiters]);
}

void release(uv_work_t *req)
{
    uv_sem_post(&released[req - releasers]);
}

static void warm_up(uv_work_t *req)
{
    (void)req;
}

static void after(uv_work_t *req, int status)
{
    (void)req;
    (void)status;
}

static void tick(uv_timer_t *t)
{
    (void)t;
}

int main(void)
{
    setenv("UV_THREADPOOL_SIZE", "2", 1);
    printf("pool_uv: start\n");
    fflush(stdout);
    uv_loop_t *loop = uv_default_loop();
    for (int i = 0; i < 2; i++)
        uv_sem_init(&released[i], 0);
    /* A warm-up job starts the pool's threads, which then go idle before the real work. */
    static uv_work_t warm;
    uv_queue_work(loop, &warm, warm_up, after);
    uv_timer_init(loop, &keepalive);
    uv_timer_start(&keepalive, tick, 50, 50);
    uv_run(loop, UV_RUN_ONCE);
    for (int i = 0; i < 2; i++)
        uv_queue_work(loop, &waiters[i], wait_for_release, after);
    for (int i = 0; i < 2; i++)
        uv_queue_work(loop, &releasers[i], release, after);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
