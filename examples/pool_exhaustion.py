# The hang poolguard exists for: a task on a thread pool waits synchronously for another task
# submitted to the same pool. With every worker inside a parent task, the children can never start.
from concurrent.futures import ThreadPoolExecutor

executor = ThreadPoolExecutor(max_workers=2)


def dependent_task():
    return "World"


def parent_task():
    # Submit a child task to the SAME executor, then wait for it (blocking the worker).
    f = executor.submit(dependent_task)
    return f.result()


print("submitting parent tasks", flush=True)
parents = [executor.submit(parent_task) for _ in range(4)]
print([p.result() for p in parents])
