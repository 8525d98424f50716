# multiprocessing.pool.ThreadPool with 2000 short tasks, as apply_async and as map, then closed.
from multiprocessing.pool import ThreadPool


def square(i):
    return i * i


print("ok_mp_many: start", flush=True)
total = 0
with ThreadPool(4) as pool:
    for _ in range(20):   # a fixed amount of work: the output must not depend on speed
        rs = [pool.apply_async(square, (i,)) for i in range(2000)]
        total += sum(r.get() for r in rs)
        total += sum(pool.map(square, range(2000), chunksize=7))
        total += sum(pool.imap_unordered(square, range(2000)))
print("ok_mp_many:", total)
