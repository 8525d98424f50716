# sqlite3 from 8 threads and from an executor: short transactions, a shared lock, joins.
import os
import sqlite3
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

path = os.path.join(tempfile.mkdtemp(prefix="ok_sqlite-"), "t.db")
con = sqlite3.connect(path)
con.execute("create table t (k integer, v integer)")
con.commit()
con.close()
lock = threading.Lock()


def writer(k):
    c = sqlite3.connect(path, timeout=30)
    for v in range(150):
        with lock:
            c.execute("insert into t values (?, ?)", (k, v))
            c.commit()
    c.close()


def reader(k):
    c = sqlite3.connect(path, timeout=30)
    n = c.execute("select count(*) from t where k = ?", (k,)).fetchone()[0]
    c.close()
    return n


print("ok_sqlite: start", flush=True)
ts = [threading.Thread(target=writer, args=(k,), name="writer-%d" % k) for k in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
with ThreadPoolExecutor(max_workers=4) as ex:
    print("ok_sqlite:", sum(ex.map(reader, range(8))))
os.remove(path)
os.rmdir(os.path.dirname(path))
