# An explicit executor given to run_in_executor, tasks wrapped in functools.partial: each task
# submits a subtask to the same executor and waits on it, with both workers busy.
import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

db = ThreadPoolExecutor(max_workers=2, thread_name_prefix="db")


def write_log(i):
    return i


def query(i):
    return db.submit(write_log, i).result()


async def main():
    loop = asyncio.get_running_loop()
    print("app_asyncio_named: submitting", flush=True)
    jobs = [loop.run_in_executor(db, functools.partial(query, i)) for i in range(4)]
    print(await asyncio.gather(*jobs))


asyncio.run(main())
