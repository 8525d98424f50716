/*
 * Deadlocks on purpose through a C++ future, in two flavours chosen by argv[1]:
 *  - "promise" (default): main takes registry_mutex and, in waits_on_future, waits for a
 *    std::future whose promise fulfil_promise_thread sets only after taking registry_mutex.
 *    libstdc++ waits for the future with syscall(SYS_futex, ...), not through pthreads, so this
 *    exercises the shim's syscall() hook: main waits on a futex, the thread on a mutex that main
 *    holds. Nothing can wake main: the test expects a deadlock finding (a cycle if the shim learns
 *    who fulfils the future, otherwise a whole-program hang) with blocked_on kinds futex and mutex.
 *  - "async": the same with std::async(std::launch::async, ...); libstdc++ waits for an async
 *    future by joining its thread, so the test expects a join/mutex cycle.
 * Function names the test looks for: waits_on_future, fulfil_promise_thread, async_task_needs_lock.
 */
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>

static std::mutex registry_mutex;
static volatile int progress;

void fulfil_promise_thread(std::promise<int> *result)
{
    std::lock_guard<std::mutex> guard(registry_mutex);
    result->set_value(42);
    progress++;
}

int async_task_needs_lock()
{
    std::lock_guard<std::mutex> guard(registry_mutex);
    progress++;
    return 42;
}

int waits_on_future(std::future<int> &f)
{
    int v = f.get();
    progress++;
    return v;
}

int main(int argc, char **argv)
{
    bool use_async = argc > 1 && std::strcmp(argv[1], "async") == 0;

    std::printf("dl_future: start %s\n", use_async ? "async" : "promise");
    std::fflush(stdout);
    std::unique_lock<std::mutex> hold(registry_mutex);
    if (use_async) {
        std::future<int> f = std::async(std::launch::async, async_task_needs_lock);
        std::printf("%d\n", waits_on_future(f));
    } else {
        std::promise<int> result;
        std::future<int> f = result.get_future();
        std::thread t(fulfil_promise_thread, &result);
        std::printf("%d\n", waits_on_future(f));
        t.join();
    }
    std::printf("dl_future: unreachable\n");
    return 0;
}
