/*
 * GLib's GThreadPool, exclusive (its own threads, started at creation) or, with the argument
 * `shared`, shared (threads taken from and given back to GLib's global set of unused threads).
 * Every item pushed is a job { function, argument }; a caller waits for a job on a GMutex and a
 * GCond. Scenarios: tests/progs/lib_scen.h.
 */
#include <glib.h>

#include "lib_scen.h"

struct gjob {
    void (*fn)(void *);
    void *arg;
};

struct gevent {
    GMutex m;
    GCond c;
    gboolean set;
};

static void run_job(gpointer data, gpointer user_data)
{
    (void)user_data;
    struct gjob *j = data;
    j->fn(j->arg);
    g_free(j);
}

static void *gpool_new(int n, int role)
{
    (void)role;
    GError *err = NULL;
    GThreadPool *p = g_thread_pool_new(run_job, NULL, n, !scen_shared, &err);
    if (!p) {
        fprintf(stderr, "lib_glib: g_thread_pool_new: %s\n", err->message);
        exit(1);
    }
    return p;
}

static void gpool_push(void *pool, void (*fn)(void *), void *arg)
{
    struct gjob *j = g_new(struct gjob, 1);
    j->fn = fn;
    j->arg = arg;
    g_thread_pool_push(pool, j, NULL);
}

static void gpool_end(void *pool)
{
    g_thread_pool_free(pool, FALSE, TRUE);
}

static void *gevent_new(void)
{
    struct gevent *e = g_new0(struct gevent, 1);
    g_mutex_init(&e->m);
    g_cond_init(&e->c);
    return e;
}

static void gevent_set(void *ev)
{
    struct gevent *e = ev;
    g_mutex_lock(&e->m);
    e->set = TRUE;
    g_cond_broadcast(&e->c);
    g_mutex_unlock(&e->m);
}

static void gevent_wait(void *ev)
{
    struct gevent *e = ev;
    g_mutex_lock(&e->m);
    while (!e->set)
        g_cond_wait(&e->c, &e->m);
    g_mutex_unlock(&e->m);
}

static const struct scen_ops ops = {
    "lib_glib", gpool_new, gpool_push, scen_spawn_with_event, scen_join_with_event,
    gevent_new, gevent_set, gevent_wait, gpool_end,
};

int main(int argc, char **argv)
{
    return scen_main(&ops, argc, argv);
}
