# Exits while the inspection is asked for every millisecond: nothing must happen during start-up
# or finalization (no crash, no hang, the program's exit status).
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

print("safety_exit: start", flush=True)
ex = ThreadPoolExecutor(max_workers=2)
ex.submit(time.sleep, 0.2)
threading.Thread(target=time.sleep, args=(0.3,)).start()
time.sleep(0.25)
sys.exit(3)
