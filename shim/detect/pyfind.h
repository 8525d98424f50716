/*
 * A Python rules verdict (pyrules.h) as a finding: its summary sentence and its "pool" member,
 * written from one reading of the interpreter (python.h). Shared by the shim's watchdog
 * (shim/python/pyscan.c, a reading taken inside the process) and by `poolguard attach` / `core`
 * (analyzer/attach, a reading taken from outside), so both say the same words in the same format.
 * Pure: no globals, no allocation, no system calls beyond pg_jw's writes.
 */
#ifndef POOLGUARD_PYFIND_H
#define POOLGUARD_PYFIND_H

#include <stddef.h>

#include "jsonw.h"
#include "pyrules.h"
#include "python.h"

/* The Python thread with that ident in the reading, or NULL. */
const struct pg_py_thread *pg_pf_thread(const struct pg_py_state *st, unsigned long ident);

/* The pool's name in the program's terms: a ThreadPoolExecutor's thread name prefix; for an event
 * loop's default executor, that loop's; for a ThreadPool, the global that holds it. */
const char *pg_pf_pool_name(const struct pg_py_state *st, const struct pg_py_executor *e, char *buf,
                            size_t len);

/* The finding's summary for verdict v of the reading st. */
void pg_pf_summary(const struct pg_py_state *st, const struct pg_pr_verdict *v, char *buf,
                   size_t len);

/* Writes the finding's members "growth" (when rate > 0), "pool" (with its tasks[]) and "python"
 * (the whole reading) for pool ei. proof is the format's pg_proof. */
void pg_pf_write_pool(struct pg_jw *w, const struct pg_py_state *st, int ei, int proof,
                      double rate);

/* The threads a finding about pool ei lists, in order: its workers, then the other threads blocked
 * without a time limit in a recognised wait. Fills idx[] (indexes in st->threads) and role[]
 * (PG_ROLE_WORKER or PG_ROLE_BLOCKED, pg_format.h), each of PG_PY_MAX_THREADS entries; returns
 * how many. */
int pg_pf_finding_threads(const struct pg_py_state *st, int ei, int *idx, int *role);

#endif
