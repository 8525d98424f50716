// A C++ pool of std::thread + std::condition_variable + std::packaged_task, the usual shape.
// Parent tasks submit a child to the same pool and block in std::future::get(), which waits on a
// futex through syscall(). With two workers and two parents, both children stay queued.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <future>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

class ThreadPool {
public:
    explicit ThreadPool(int n)
    {
        for (int i = 0; i < n; i++)
            workers_.emplace_back([this] { run(); });
    }

    template <class F> std::future<long> submit(F fn)
    {
        auto task = std::make_shared<std::packaged_task<long()>>(fn);
        std::future<long> f = task->get_future();
        {
            std::lock_guard<std::mutex> g(m_);
            q_.push([task] { (*task)(); });
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
                std::unique_lock<std::mutex> l(m_);
                cv_.wait(l, [this] { return !q_.empty(); });
                job = std::move(q_.front());
                q_.pop();
            }
            job();
        }
    }

    std::mutex m_;
    std::condition_variable cv_;
    std::queue<std::function<void()>> q_;
    std::vector<std::thread> workers_;
};

static ThreadPool *pool;
static std::atomic<int> parents_started{0};

long child_task(long x)
{
    return x * 2;
}

long parent_task(long x)
{
    parents_started++;
    while (parents_started.load() < 2)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::future<long> child = pool->submit([x] { return child_task(x); });
    return child.get() + 1;
}

int main()
{
    std::printf("pool_cxx: start\n");
    std::fflush(stdout);
    pool = new ThreadPool(2);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto a = pool->submit([] { return parent_task(1); });
    auto b = pool->submit([] { return parent_task(2); });
    for (;;)
        std::this_thread::sleep_for(std::chrono::seconds(1));
}
