# multiprocessing.dummy.Pool(2) (a ThreadPool): more parents than workers, each waits on a
# subtask applied to the same pool with AsyncResult.wait() then get(). Both workers end up
# waiting on subtasks queued behind the other parents.
from multiprocessing.dummy import Pool

pool = Pool(2)


def subtask(x):
    return x + 1


def parent(x):
    r = pool.apply_async(subtask, (x,))
    r.wait()
    return r.get()


print("app_mp_two: submitting 6 parents", flush=True)
results = [pool.apply_async(parent, (i,)) for i in range(6)]
print(sum(r.get() for r in results))
