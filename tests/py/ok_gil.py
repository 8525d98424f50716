# Several CPU-bound threads contending for the GIL for ~2.5 s.
import threading
import time


def spin(out, i):
    end = time.monotonic() + 2.5
    n = 0
    while time.monotonic() < end:
        n += sum(range(100))
    out[i] = n


print("ok_gil: start", flush=True)
out = [0] * 4
ts = [threading.Thread(target=spin, args=(out, i), name="spin-%d" % i) for i in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("ok_gil: done", len(out))
