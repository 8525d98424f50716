# Two executor workers wait 4 s on a threading.Event that the main thread then sets: long
# untimed waits inside tasks, with nothing queued, are not a stuck pool.
import threading
import time
from concurrent.futures import ThreadPoolExecutor

go = threading.Event()


def waiter(i):
    go.wait()
    return i


print("ok_event_set: start", flush=True)
with ThreadPoolExecutor(max_workers=2) as ex:
    fs = [ex.submit(waiter, i) for i in range(2)]
    time.sleep(4)
    go.set()
    print("ok_event_set:", sum(f.result() for f in fs))
