# Nested pools done right: outer tasks wait on inner tasks that run on other pools
# (ThreadPool -> ThreadPoolExecutor -> ThreadPool), never on their own.
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.pool import ThreadPool

outer = ThreadPool(2)
middle = ThreadPoolExecutor(max_workers=2, thread_name_prefix="middle")
inner = ThreadPool(2)


def leaf(i):
    time.sleep(0.001)
    return i


def mid(i):
    return inner.apply_async(leaf, (i,)).get()


def top(i):
    return middle.submit(mid, i).result()


print("ok_nested: start", flush=True)
total = 0
for _ in range(60):
    total += sum(r.get() for r in [outer.apply_async(top, (i,)) for i in range(40)])
outer.close()
outer.join()
inner.close()
inner.join()
middle.shutdown()
print("ok_nested:", total)
