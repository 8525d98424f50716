# examples/pool_exhaustion.py with max_workers=1: the parent waits on a child queued behind itself.
import sys
from concurrent.futures import ThreadPoolExecutor

executor = ThreadPoolExecutor(max_workers=1)


def dependent_task():
    return "World"


def parent_task():
    f = executor.submit(dependent_task)
    return f.result()


print("app_one_worker: submitting", flush=True)
fut = executor.submit(parent_task)
print(fut.result())
sys.exit(0)
