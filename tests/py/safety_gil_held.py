# A thread holds the GIL for 1.5 s inside C code (ctypes.PyDLL keeps the GIL across the call):
# the inspection must give up within its time limit, refuse while still stuck, and work again after.
import ctypes
import threading
import time

libc = ctypes.PyDLL(None)
print("safety_gil_held: holding the GIL", flush=True)
time.sleep(0.3)
libc.usleep(1500000)
print("safety_gil_held: released", flush=True)
time.sleep(1.5)
