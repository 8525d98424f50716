# The usual fix of examples/pool_exhaustion.py: parents on one executor, children on another.
import time
from concurrent.futures import ThreadPoolExecutor

parents = ThreadPoolExecutor(max_workers=2, thread_name_prefix="parents")
children = ThreadPoolExecutor(max_workers=2, thread_name_prefix="children")


def dependent_task(i):
    time.sleep(0.002)
    return i * 2


def parent_task(i):
    return children.submit(dependent_task, i).result()


print("ok_two_executors: start", flush=True)
total = 0
for _ in range(25):   # a fixed amount of work: the output must not depend on speed
    total += sum(f.result() for f in [parents.submit(parent_task, i) for i in range(50)])
print("ok_two_executors:", total)
