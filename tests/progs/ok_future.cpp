/*
 * Healthy C++: std::async tasks, a promise fulfilled by another thread after a pause, a
 * shared_future released to several waiters, and a small pool (std::condition_variable + queue)
 * running std::packaged_task jobs whose futures main waits on. libstdc++ waits for futures through
 * syscall(SYS_futex) and joins, so every wait here goes through the shim's hooks, and each ends.
 * Under the shim: no finding, same output.
 */
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

static long sum_range(long from, long to)
{
    long s = 0;
    for (long i = from; i < to; i++)
        s += i;
    return s;
}

class tiny_pool {
public:
    explicit tiny_pool(int n)
    {
        for (int i = 0; i < n; i++)
            workers_.emplace_back([this] { run(); });
    }
    ~tiny_pool()
    {
        {
            std::lock_guard<std::mutex> g(m_);
            stopping_ = true;
        }
        cv_.notify_all();
        for (auto &w : workers_)
            w.join();
    }
    std::future<long> submit(std::function<long()> fn)
    {
        auto task = std::make_shared<std::packaged_task<long()>>(std::move(fn));
        std::future<long> f = task->get_future();
        {
            std::lock_guard<std::mutex> g(m_);
            queue_.push_back([task] { (*task)(); });
        }
        cv_.notify_one();
        return f;
    }

private:
    void run()
    {
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock<std::mutex> lk(m_);
                cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
                if (queue_.empty())
                    return;
                job = std::move(queue_.front());
                queue_.pop_front();
            }
            job();
        }
    }
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    std::vector<std::thread> workers_;
    bool stopping_ = false;
};

int main()
{
    std::printf("ok_future: start\n");

    std::vector<std::future<long>> parts;
    for (long i = 0; i < 8; i++)
        parts.push_back(std::async(std::launch::async, sum_range, i * 100000, (i + 1) * 100000));
    long total = 0;
    for (auto &f : parts)
        total += f.get();
    std::printf("async total=%ld\n", total);

    std::promise<int> late;
    std::future<int> late_f = late.get_future();
    std::thread fulfiller([&late] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        late.set_value(99);
    });
    std::printf("promise value=%d\n", late_f.get());
    fulfiller.join();

    std::promise<void> go;
    std::shared_future<void> go_f = go.get_future().share();
    std::vector<std::future<int>> waiters;
    for (int i = 0; i < 4; i++)
        waiters.push_back(std::async(std::launch::async, [go_f, i] { go_f.wait(); return i * i; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    go.set_value();
    int squares = 0;
    for (auto &w : waiters)
        squares += w.get();
    std::printf("shared_future squares=%d\n", squares);

    long pool_total = 0;
    {
        tiny_pool pool(3);
        std::vector<std::future<long>> jobs;
        for (long i = 0; i < 200; i++)
            jobs.push_back(pool.submit([i] { return sum_range(0, i); }));
        for (auto &j : jobs)
            pool_total += j.get();
    }
    std::printf("pool total=%ld\n", pool_total);
    std::printf("ok_future: done\n");
    return 0;
}
