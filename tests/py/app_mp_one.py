# examples/pool_exhaustion.py's pattern on multiprocessing.pool.ThreadPool(1): the parent task waits, through
# AsyncResult.get(), on a subtask queued on the same pool behind itself.
import sys
from multiprocessing.pool import ThreadPool

pool = ThreadPool(1)


def subtask(x):
    return x * 2


def parent(x):
    r = pool.apply_async(subtask, (x,))
    return r.get()


print("app_mp_one: submitting", flush=True)
res = pool.apply_async(parent, (21,))
print(res.get())
sys.exit(0)
