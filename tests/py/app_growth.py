# The problem's memory section: submit() faster than the tasks complete, for ~3 s, then exit.
import os
import time
from concurrent.futures import ThreadPoolExecutor

executor = ThreadPoolExecutor(max_workers=2)


def slow_task(i):
    time.sleep(0.01)
    return i


print("app_growth: submitting for 3 s", flush=True)
end = time.monotonic() + float(os.environ.get("GROWTH_SECONDS", "3"))
n = 0
while time.monotonic() < end:
    executor.submit(slow_task, n)
    n += 1
    if n % 1000 == 0:
        time.sleep(0.001)
print("app_growth: submitted", n, flush=True)
os._exit(0)   # do not wait for the backlog
