// A C++ pool in the shape of progschj/ThreadPool, written afresh: a std::vector<std::thread>
// filled with emplace_back (no reserve, so the vector reallocates and moves the first threads
// while later ones are being created), a std::queue of std::function under one std::mutex, a
// std::condition_variable, and enqueue() returning the std::future of a std::packaged_task.
// Scenarios: tests/progs/lib_scen.h.
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "lib_scen.h"

class ThreadPool {
public:
    explicit ThreadPool(int threads)
    {
        for (int i = 0; i < threads; i++)
            workers.emplace_back([this] { worker_loop(); });
    }

    template <class F> std::future<void> enqueue(F f)
    {
        auto task = std::make_shared<std::packaged_task<void()>>(std::move(f));
        std::future<void> res = task->get_future();
        {
            std::unique_lock<std::mutex> lock(queue_mutex);
            tasks.emplace([task] { (*task)(); });
        }
        condition.notify_one();
        return res;
    }

    ~ThreadPool()
    {
        {
            std::unique_lock<std::mutex> lock(queue_mutex);
            stop = true;
        }
        condition.notify_all();
        for (std::thread &w : workers)
            w.join();
    }

private:
    void worker_loop()
    {
        for (;;) {
            std::function<void()> task;
            {
                std::unique_lock<std::mutex> lock(queue_mutex);
                condition.wait(lock, [this] { return stop || !tasks.empty(); });
                if (stop && tasks.empty())
                    return;
                task = std::move(tasks.front());
                tasks.pop();
            }
            task();
        }
    }

    std::vector<std::thread> workers;
    std::queue<std::function<void()>> tasks;
    std::mutex queue_mutex;
    std::condition_variable condition;
    bool stop = false;
};

struct Event {
    std::promise<void> p;
    std::shared_future<void> f{p.get_future().share()};
};

static void *pool_new(int n, int)
{
    return new ThreadPool(n);
}

static void post(void *pool, void (*fn)(void *), void *arg)
{
    static_cast<ThreadPool *>(pool)->enqueue([fn, arg] { fn(arg); });
}

static void *spawn(void *pool, void (*fn)(void *), void *arg)
{
    return new std::future<void>(static_cast<ThreadPool *>(pool)->enqueue([fn, arg] { fn(arg); }));
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
    delete static_cast<ThreadPool *>(pool);
}

static const scen_ops ops = {
    "lib_cxxpool", pool_new, post, spawn, join, event_new, event_set, event_wait, pool_end,
};

int main(int argc, char **argv)
{
    return scen_main(&ops, argc, argv);
}
