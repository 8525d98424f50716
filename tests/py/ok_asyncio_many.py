# asyncio with run_in_executor of many short blocking tasks, on the default executor and an
# explicit one, and coroutines handed back to the loop with run_coroutine_threadsafe from a
# thread that is not a worker.
import asyncio
import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def work(i, pause=0.0):
    if pause:
        time.sleep(pause)
    return i


async def twice(i):
    await asyncio.sleep(0)
    return 2 * i


async def main():
    loop = asyncio.get_running_loop()
    total = 0
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="explicit") as ex:
        for _ in range(10):
            total += sum(await asyncio.gather(*[loop.run_in_executor(None, work, i)
                                                for i in range(1000)]))
            total += sum(await asyncio.gather(*[loop.run_in_executor(
                ex, functools.partial(work, i, 0.0005)) for i in range(200)]))
    out = []
    t = threading.Thread(target=lambda: out.append(sum(
        asyncio.run_coroutine_threadsafe(twice(i), loop).result() for i in range(300))))
    t.start()
    await loop.run_in_executor(None, t.join)
    return total + out[0]


print("ok_asyncio_many: start", flush=True)
print("ok_asyncio_many:", asyncio.run(main()))
