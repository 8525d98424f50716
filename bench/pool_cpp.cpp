// Two C++ pools of std::thread running std::packaged_task, as pool_c.c does in C: each outer
// task submits CHILDREN tasks to the inner pool and waits on their std::futures (libstdc++ waits
// on a future with syscall(SYS_futex), which the shim hooks). Usage: pool_cpp [tasks] [workers]
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <future>
#include <mutex>
#include <sys/resource.h>
#include <thread>
#include <vector>

namespace {

constexpr int CHILDREN = 4;

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
            std::lock_guard<std::mutex> g(lock_);
            stopping_ = true;
        }
        work_.notify_all();
        for (auto &t : workers_)
            t.join();
    }
    template <class F> std::future<void> submit(F f)
    {
        std::packaged_task<void()> task(std::move(f));
        auto fut = task.get_future();
        {
            std::lock_guard<std::mutex> g(lock_);
            queue_.push_back(std::move(task));
        }
        work_.notify_one();
        return fut;
    }

private:
    void run()
    {
        for (;;) {
            std::packaged_task<void()> task;
            {
                std::unique_lock<std::mutex> g(lock_);
                work_.wait(g, [this] { return stopping_ || !queue_.empty(); });
                if (queue_.empty())
                    return;
                task = std::move(queue_.front());
                queue_.pop_front();
            }
            task();
        }
    }
    std::mutex lock_;
    std::condition_variable work_;
    std::deque<std::packaged_task<void()>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

std::atomic<unsigned long> sink;

void child()
{
    unsigned long x = 0;
    for (int i = 0; i < 200; i++)
        x += (unsigned long)i * 2654435761u;
    sink.fetch_add(x, std::memory_order_relaxed);
}

}  // namespace

int main(int argc, char **argv)
{
    long tasks = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
    int workers = argc > 2 ? (int)std::strtol(argv[2], nullptr, 10) : 4;
    std::chrono::steady_clock::duration took;
    {
        Pool outer(workers), inner(workers);
        std::vector<std::future<void>> results;
        results.reserve((size_t)tasks);
        auto t0 = std::chrono::steady_clock::now();
        for (long i = 0; i < tasks; i++) {
            results.push_back(outer.submit([&inner] {
                std::future<void> kids[CHILDREN];
                for (auto &k : kids)
                    k = inner.submit(child);
                for (auto &k : kids)
                    k.get();
            }));
        }
        for (auto &r : results)
            r.get();
        took = std::chrono::steady_clock::now() - t0;
    }
    double ns = (double)std::chrono::duration_cast<std::chrono::nanoseconds>(took).count();
    std::printf("ns_per_task %.6g\n", ns / (double)tasks);
    long hwm = -1;
    if (FILE *f = std::fopen("/proc/self/status", "r")) {
        char line[256];
        while (std::fgets(line, sizeof line, f))
            if (std::sscanf(line, "VmHWM: %ld kB", &hwm) == 1)
                break;
        std::fclose(f);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    std::printf("maxrss_kib %ld\n", hwm);
    std::printf("cpu_ms %.6g\n", (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                                     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
    return 0;
}
