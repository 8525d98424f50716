# apply_async() faster than a ThreadPool of 2 completes the tasks, for ~3 s, then exit.
import os
import time
from multiprocessing.pool import ThreadPool

pool = ThreadPool(2)


def slow_task(i):
    time.sleep(0.01)
    return i


print("app_mp_growth: submitting for 3 s", flush=True)
end = time.monotonic() + float(os.environ.get("GROWTH_SECONDS", "3"))
n = 0
while time.monotonic() < end:
    pool.apply_async(slow_task, (n,))
    n += 1
    if n % 1000 == 0:
        time.sleep(0.001)
print("app_mp_growth: submitted", n, flush=True)
os._exit(0)   # do not wait for the backlog
