# Program objects that would show it if any of their code ran in another thread than the
# program's own: a Thread subclass with a name property and __getattribute__, a callable object
# with __repr__/__getattr__, finalizers of cyclic garbage made all the time. The inspection must
# run none of them.
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor



def note(what):
    # The shim's threads are named poolguard*; the program's are not.
    with open("/proc/self/task/%d/comm" % threading.get_native_id()) as f:
        comm = f.read()
    if comm.startswith("poolguard"):
        sys.stderr.write("USER CODE RAN IN A FOREIGN THREAD (%s): %s\n" % (comm.strip(), what))


class Sneaky(threading.Thread):
    @property
    def _name(self):
        note("Thread._name property")
        return "sneaky"

    @_name.setter
    def _name(self, v):
        pass

    def __getattribute__(self, n):
        note("Thread.__getattribute__ " + n)
        return object.__getattribute__(self, n)

    def run(self):
        time.sleep(2.5)


class Task:
    def __call__(self):
        time.sleep(2.5)

    def __repr__(self):
        note("Task.__repr__")
        return "Task"

    def __getattr__(self, n):
        note("Task.__getattr__ " + n)
        raise AttributeError(n)


class Cycle:
    def __init__(self):
        self.me = self

    def __del__(self):
        note("Cycle.__del__")


print("safety_user_objects: start", flush=True)
Sneaky().start()
ex = ThreadPoolExecutor(max_workers=1)
f = ex.submit(Task())
end = time.monotonic() + 2.5
while time.monotonic() < end:
    for _ in range(200):
        Cycle()
    time.sleep(0.001)
f.result()
ex.shutdown()
print("safety_user_objects: done")
