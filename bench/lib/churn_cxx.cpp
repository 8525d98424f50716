/*
 * A C++ pool of the common header-only shape (std::thread workers added with emplace_back, a
 * std::condition_variable queue, std::packaged_task + std::future) under churn: main submits many
 * short tasks and waits for each future in turn. Usage: churn_cxx [tasks]
 */
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include <time.h>

static unsigned long long now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

class Pool {
  public:
    explicit Pool(int n)
    {
        for (int i = 0; i < n; i++)
            workers_.emplace_back([this] { run(); });
    }
    ~Pool()
    {
        {
            std::lock_guard<std::mutex> g(m_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto &t : workers_)
            t.join();
    }
    std::future<unsigned long> submit(std::function<unsigned long()> f)
    {
        auto task = std::make_shared<std::packaged_task<unsigned long()>>(std::move(f));
        auto fut = task->get_future();
        {
            std::lock_guard<std::mutex> g(m_);
            q_.push([task] { (*task)(); });
        }
        cv_.notify_one();
        return fut;
    }

  private:
    void run()
    {
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock<std::mutex> l(m_);
                cv_.wait(l, [this] { return stop_ || !q_.empty(); });
                if (stop_ && q_.empty())
                    return;
                job = std::move(q_.front());
                q_.pop();
            }
            job();
        }
    }
    std::vector<std::thread> workers_;
    std::queue<std::function<void()>> q_;
    std::mutex m_;
    std::condition_variable cv_;
    bool stop_ = false;
};

int main(int argc, char **argv)
{
    long tasks = argc > 1 ? atol(argv[1]) : 200000;
    unsigned long sink = 0;
    Pool pool(4);
    std::vector<std::future<unsigned long>> fs;
    fs.reserve(1024);
    unsigned long long t0 = now_ns();
    for (long i = 0; i < tasks; i += 1024) {
        for (long j = i; j < i + 1024 && j < tasks; j++)
            fs.push_back(pool.submit([j] {
                unsigned long x = (unsigned long)j;
                for (int k = 0; k < 100; k++)
                    x = x * 6364136223846793005ul + 1442695040888963407ul;
                return x;
            }));
        for (auto &f : fs)
            sink += f.get();
        fs.clear();
    }
    unsigned long long t1 = now_ns();
    printf("ns_per_task %.1f\n", (double)(t1 - t0) / (double)tasks);
    printf("sink %lu\n", sink & 1);
    return 0;
}
