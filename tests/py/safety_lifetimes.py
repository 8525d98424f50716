# Reading the program must not change when its objects die. Before 3.12 the shim reads a local
# variable of a frame through frame.f_locals, which copies every local into the frame's locals
# dict; a copy left there outlives the variable. Here a task raises after its worker was read,
# and main waits in Future.result() on it: both frames drop `self` (`self = None`) to break the
# cycle future -> exception -> traceback -> frame, so without the shim everything is freed by
# reference counting as soon as the program lets go. The collector is off: what is still alive
# then was kept by someone else. (This is what made CPython's test_concurrent_futures report
# dangling executor threads under the shim.)
#
# And a dict the program itself holds (a debugger's view of a worker's frame) must be left as
# the program's own reading would leave it; under a Python-level tracer, which writes a frame's
# locals dict back into the frame after each event, the workers' locals must stay intact.
import gc
import sys
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

gc.disable()


def fail_late():
    time.sleep(1.2)
    raise ValueError("the task failed")


held = {}


def watched():
    # What a debugger does: holds the locals of the frame that called this task (_WorkItem.run).
    held["locals"] = sys._getframe(1).f_locals
    time.sleep(1.2)
    return type(held["locals"].get("self")).__name__


print("safety_lifetimes: start", flush=True)

ex = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lifetimes")
fut = ex.submit(fail_late)
try:
    fut.result()
except ValueError:
    pass
ex.shutdown(wait=True)
refs = {"the executor": weakref.ref(ex), "the future": weakref.ref(fut)}
for t in ex._threads:
    refs["thread " + t.name] = weakref.ref(t)
del ex, fut, t
kept = [what for what, r in refs.items() if r() is not None]
if kept:
    print("KEPT ALIVE after the program let go: " + ", ".join(kept), flush=True)
else:
    print("freed: %d objects" % len(refs), flush=True)

with ThreadPoolExecutor(max_workers=1, thread_name_prefix="debugged") as ex:
    seen = ex.submit(watched).result()
print("the program's own view of the frame: self is a %s" % seen, flush=True)


def traced_task(i):
    x = i * 2
    time.sleep(1.0)
    return x + 1


def tracer(frame, event, arg):
    return tracer if frame.f_code.co_name in ("run", "traced_task") else None


threading.settrace(tracer)
with ThreadPoolExecutor(max_workers=2, thread_name_prefix="traced") as ex:
    futs = [ex.submit(traced_task, i) for i in range(2)]
    print("traced: %r" % [f.result() for f in futs], flush=True)
threading.settrace(None)
gc.enable()

# A Python-level tracer that blocks in the middle of its call for a worker's _WorkItem.run frame
# (the interpreter copied the frame's locals into its dict before the call and writes that dict
# back into the frame after it, unbinding what is missing): readings taken meanwhile must leave
# the frame's variables exactly as they were.
gate = threading.Event()


def blocking_tracer(frame, event, arg):
    code = frame.f_code
    if code.co_name == "run" and code.co_filename.endswith("thread.py"):
        if event == "line" and not gate.is_set():
            gate.wait()
        return blocking_tracer
    return None


threading.settrace(blocking_tracer)
ex = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracer-held")
fut = ex.submit(traced_task, 20)
threading.settrace(None)
time.sleep(1.2)
gate.set()
try:
    print("tracer-held: %r" % fut.result(timeout=5), flush=True)
except Exception as e:  # the worker lost its locals: its task never finished
    print("tracer-held: BROKE (%s)" % type(e).__name__, flush=True)
ex.shutdown(wait=False)
