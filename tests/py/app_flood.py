# A flood of parent tasks on 2 workers; an unrelated thread stays alive (and busy sleeping).
import threading
import time
from concurrent.futures import ThreadPoolExecutor

executor = ThreadPoolExecutor(max_workers=2)


def dependent_task(i):
    return i * 2


def parent_task(i):
    f = executor.submit(dependent_task, i)
    return f.result()


def heartbeat():
    while True:
        time.sleep(0.05)


threading.Thread(target=heartbeat, name="heartbeat", daemon=True).start()
print("app_flood: submitting 200 parents", flush=True)
futs = [executor.submit(parent_task, i) for i in range(200)]
print(sum(f.result() for f in futs))
