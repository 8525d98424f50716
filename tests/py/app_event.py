# Tasks of one executor waiting on each other through threading.Event: the task that would set
# the event is queued behind the two that wait for it.
import threading
from concurrent.futures import ThreadPoolExecutor

executor = ThreadPoolExecutor(max_workers=2)
ready = threading.Event()


def consumer(i):
    ready.wait()
    return i


def producer():
    ready.set()


print("app_event: submitting", flush=True)
futs = [executor.submit(consumer, i) for i in range(2)]
futs.append(executor.submit(producer))
print([f.result() for f in futs])
