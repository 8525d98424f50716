# Thousands of short tasks.
import time
from concurrent.futures import ThreadPoolExecutor, as_completed, wait


def square(i):
    return i * i


print("ok_many_tasks: start", flush=True)
with ThreadPoolExecutor(max_workers=4) as ex:
    end = time.monotonic() + 2.5
    total = 0
    while time.monotonic() < end:
        fs = [ex.submit(square, i) for i in range(5000)]
        wait(fs)
        total += sum(f.result() for f in as_completed(fs))
print("ok_many_tasks:", total)
