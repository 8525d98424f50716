/*
 * libuv's thread pool (uv_queue_work, UV_THREADPOOL_SIZE threads). uv_queue_work may only be
 * called on the loop's thread, so the loop runs on a thread of its own and every submission, from
 * main or from a task, goes through a locked list and uv_async_send; the loop thread's async
 * callback queues the work. A caller waits for a job on a uv_mutex_t and a uv_cond_t.
 * The child "pool" of ok-nested is the event loop itself (role 1): a task on the pool waits for a
 * callback on the loop thread, which is how libuv programs nest work.
 * Scenarios: tests/progs/lib_scen.h.
 */
#include <uv.h>

#include "lib_scen.h"

struct ureq {
    uv_work_t work;
    void (*fn)(void *);
    void *arg;
    int on_loop;   /* run on the loop thread instead of the pool */
    struct ureq *next;
};

struct uevent {
    uv_mutex_t m;
    uv_cond_t c;
    int set;
};

static uv_loop_t loop;
static uv_async_t wakeup;
static uv_mutex_t pending_lock;
static struct ureq *pending_head, *pending_tail;
static uv_thread_t loop_thread;
static int loop_started;
static char pool_marker, loop_marker;

static void work_cb(uv_work_t *w)
{
    struct ureq *r = (struct ureq *)w;
    r->fn(r->arg);
}

static void after_work_cb(uv_work_t *w, int status)
{
    (void)status;
    free(w);
}

static void async_cb(uv_async_t *a)
{
    (void)a;
    uv_mutex_lock(&pending_lock);
    struct ureq *r = pending_head;
    pending_head = pending_tail = NULL;
    uv_mutex_unlock(&pending_lock);
    while (r) {
        struct ureq *next = r->next;
        if (r->on_loop) {
            r->fn(r->arg);
            free(r);
        } else {
            uv_queue_work(&loop, &r->work, work_cb, after_work_cb);
        }
        r = next;
    }
}

static void run_loop(void *arg)
{
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
}

static void *upool_new(int n, int role)
{
    if (role == 1)
        return &loop_marker;
    if (!loop_started) {
        char size[16];
        snprintf(size, sizeof size, "%d", n);
        setenv("UV_THREADPOOL_SIZE", size, 1);
        uv_loop_init(&loop);
        uv_mutex_init(&pending_lock);
        uv_async_init(&loop, &wakeup, async_cb);
        uv_thread_create(&loop_thread, run_loop, NULL);
        loop_started = 1;
    }
    return &pool_marker;
}

static void upool_post(void *pool, void (*fn)(void *), void *arg)
{
    struct ureq *r = calloc(1, sizeof *r);
    r->fn = fn;
    r->arg = arg;
    r->on_loop = pool == &loop_marker;
    uv_mutex_lock(&pending_lock);
    if (pending_tail)
        pending_tail->next = r;
    else
        pending_head = r;
    pending_tail = r;
    uv_mutex_unlock(&pending_lock);
    uv_async_send(&wakeup);
}

static void *uevent_new(void)
{
    struct uevent *e = calloc(1, sizeof *e);
    uv_mutex_init(&e->m);
    uv_cond_init(&e->c);
    return e;
}

static void uevent_set(void *ev)
{
    struct uevent *e = ev;
    uv_mutex_lock(&e->m);
    e->set = 1;
    uv_cond_broadcast(&e->c);
    uv_mutex_unlock(&e->m);
}

static void uevent_wait(void *ev)
{
    struct uevent *e = ev;
    uv_mutex_lock(&e->m);
    while (!e->set)
        uv_cond_wait(&e->c, &e->m);
    uv_mutex_unlock(&e->m);
}

static const struct scen_ops ops = {
    "lib_uv", upool_new, upool_post, scen_spawn_with_event, scen_join_with_event,
    uevent_new, uevent_set, uevent_wait, NULL,
};

int main(int argc, char **argv)
{
    return scen_main(&ops, argc, argv);
}
