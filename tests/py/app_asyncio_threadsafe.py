# asyncio's default executor starved through run_coroutine_threadsafe: blocking functions run
# with loop.run_in_executor(None, ...) call back into the loop and wait for a coroutine that
# itself awaits run_in_executor on the same (default) executor. More parents than workers: every
# worker waits on a coroutine whose executor job is queued behind the other parents.
import asyncio
import functools


def child(i):
    return i * 10


async def fetch(loop, i):
    return await loop.run_in_executor(None, child, i)


def parent(loop, i):
    fut = asyncio.run_coroutine_threadsafe(fetch(loop, i), loop)
    return fut.result()


async def main():
    loop = asyncio.get_running_loop()
    print("app_asyncio_threadsafe: submitting 40 parents", flush=True)
    jobs = [loop.run_in_executor(None, functools.partial(parent, loop, i)) for i in range(40)]
    print(sum(await asyncio.gather(*jobs)))


asyncio.run(main())
