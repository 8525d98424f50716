// oneTBB: each pool is a tbb::task_arena whose slots are all for TBB's worker threads (none
// reserved for the thread that submits), fed with task_arena::enqueue. A task waits for another
// the blocking way (a std::future, not TBB's own wait, which would run other tasks meanwhile), so
// a task that waits for one queued in its own arena holds its worker. A tbb::global_control lets
// TBB start as many workers as the arenas have slots, whatever the number of CPUs.
// Scenarios: lib_scen.h.
#include <future>
#include <memory>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include "lib_scen.h"

static int slots_total;
static tbb::global_control *limit;

struct Event {
    std::promise<void> p;
    std::shared_future<void> f{p.get_future().share()};
};

static void *pool_new(int n, int)
{
    slots_total += n;
    delete limit;
    limit = new tbb::global_control(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(slots_total + 1));
    auto *arena = new tbb::task_arena(n, 0);
    arena->initialize();
    return arena;
}

static void post(void *pool, void (*fn)(void *), void *arg)
{
    static_cast<tbb::task_arena *>(pool)->enqueue([fn, arg] { fn(arg); });
}

static void *spawn(void *pool, void (*fn)(void *), void *arg)
{
    auto done = std::make_shared<std::promise<void>>();
    auto *f = new std::future<void>(done->get_future());
    static_cast<tbb::task_arena *>(pool)->enqueue([fn, arg, done] {
        fn(arg);
        done->set_value();
    });
    return f;
}

static void join(void *h)
{
    auto *f = static_cast<std::future<void> *>(h);
    f->get();
    delete f;
}

static void *event_new()
{
    return new Event;
}

static void event_set(void *ev)
{
    static_cast<Event *>(ev)->p.set_value();
}

static void event_wait(void *ev)
{
    static_cast<Event *>(ev)->f.wait();
}

static const scen_ops ops = {
    "lib_tbb", pool_new, post, spawn, join, event_new, event_set, event_wait, nullptr,
};

int main(int argc, char **argv)
{
    return scen_main(&ops, argc, argv);
}
