# Long sleeps, in the main thread and in pool workers.
import time
from concurrent.futures import ThreadPoolExecutor


def nap(s):
    time.sleep(s)
    return s


print("ok_sleep: start", flush=True)
with ThreadPoolExecutor(max_workers=2) as ex:
    fs = [ex.submit(nap, 3) for _ in range(2)]
    time.sleep(3)
    print("ok_sleep:", sum(f.result() for f in fs))
