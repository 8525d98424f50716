"""Python ThreadPoolExecutor workload: many small tasks over two executors. Each outer task
submits CHILDREN small tasks to the inner executor and waits on their futures. Prints the same
"key value" lines as the C programs. Usage: python3 pool_py.py [tasks] [workers]"""
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor

CHILDREN = 4


def child(i):
    return sum(range(i % 50))


def parent(inner, i):
    kids = [inner.submit(child, i + k) for k in range(CHILDREN)]
    return sum(k.result() for k in kids)


def vm_hwm_kib():
    """Peak RSS of this process image (ru_maxrss would also count the parent's before exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    with ThreadPoolExecutor(workers) as outer, ThreadPoolExecutor(workers) as inner:
        # Warm-up: start every worker thread before timing.
        for f in [outer.submit(parent, inner, i) for i in range(4 * workers)]:
            f.result()
        t0 = time.perf_counter_ns()
        futures = [outer.submit(parent, inner, i) for i in range(tasks)]
        for f in futures:
            f.result()
        took = time.perf_counter_ns() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print("ns_per_task %.6g" % (took / tasks))
    print("maxrss_kib %d" % vm_hwm_kib())
    print("cpu_ms %.6g" % ((ru.ru_utime + ru.ru_stime) * 1e3))


main()
