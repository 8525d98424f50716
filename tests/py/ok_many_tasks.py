# Thousands of short tasks.
from concurrent.futures import ThreadPoolExecutor, as_completed, wait


def square(i):
    return i * i


print("ok_many_tasks: start", flush=True)
with ThreadPoolExecutor(max_workers=4) as ex:
    total = 0
    for _ in range(12):   # a fixed amount of work: the output must not depend on speed
        fs = [ex.submit(square, i) for i in range(5000)]
        wait(fs)
        total += sum(f.result() for f in as_completed(fs))
print("ok_many_tasks:", total)
