// boost::asio::thread_pool (header-only Boost.Asio): tasks go in with boost::asio::post, and a
// caller waits for one through a std::promise / std::future pair. Scenarios: lib_scen.h.
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <future>

#include "lib_scen.h"

struct Event {
    std::promise<void> p;
    std::shared_future<void> f{p.get_future().share()};
};

static void *pool_new(int n, int)
{
    return new boost::asio::thread_pool(static_cast<std::size_t>(n));
}

static void post(void *pool, void (*fn)(void *), void *arg)
{
    boost::asio::post(*static_cast<boost::asio::thread_pool *>(pool), [fn, arg] { fn(arg); });
}

static void *spawn(void *pool, void (*fn)(void *), void *arg)
{
    auto done = std::make_shared<std::promise<void>>();
    auto *f = new std::future<void>(done->get_future());
    boost::asio::post(*static_cast<boost::asio::thread_pool *>(pool), [fn, arg, done] {
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

static void pool_end(void *pool)
{
    auto *p = static_cast<boost::asio::thread_pool *>(pool);
    p->join();
    delete p;
}

static const scen_ops ops = {
    "lib_asio", pool_new, post, spawn, join, event_new, event_set, event_wait, pool_end,
};

int main(int argc, char **argv)
{
    return scen_main(&ops, argc, argv);
}
