/*
 * What the files of the report parser share, and nothing else includes: report.h is the
 * parser's interface (report_parse_object). The rp_ prefix marks what crosses files.
 *   report_parse.c         one record of a report (header, module, finding, snapshot), and the
 *                          readers of single members every part uses
 *   report_parse_thread.c  threads: stacks, waits, holds, tasks
 *   report_parse_pool.c    the pool of a finding, with what the Python layer says of it
 *   locknames.c            the lock table of a finding or snapshot
 */
#ifndef POOLGUARD_REPORT_PARSE_INT_H
#define POOLGUARD_REPORT_PARSE_INT_H

#include "report.h"

/* report_parse.c: one member of an object. A wrong type counts as absent (NULL, dflt, 0). */
char *rp_str_dup_capped(const char *s);
char *rp_get_str(json_t *o, const char *key);
long rp_get_long(json_t *o, const char *key, long dflt);
int64_t rp_get_i64(json_t *o, const char *key, int64_t dflt);
bool rp_parse_addr(json_t *v, uint64_t *out);
uint64_t rp_get_addr(json_t *o, const char *key);

/* report_parse_thread.c: a thread's parts that pools and lock orders have too, and the threads
 * of a finding or snapshot. Return 0 or -ENOMEM where they return an int. */
void rp_parse_task_ref(json_t *o, pg_task_ref *t);
void rp_parse_sites(json_t *o, pg_lock_sites *s);
int rp_parse_stack(json_t *arr, pg_stack *s);
bool rp_python_library_file(const char *file);
int rp_parse_threads(json_t *arr, pg_mthread **out, size_t *n, size_t *dropped);

/* report_parse_pool.c: the "pool" member of a finding of a report at version. Returns 0 or
 * -ENOMEM. */
int rp_parse_pool(json_t *o, pg_pool *p, long version);

/* locknames.c: fills t from the mentions of a finding or snapshot and points each mention at its
 * entry. cyc and ord may be NULL with a count of 0. Returns 0 or -ENOMEM. */
int rp_locknames_build(pg_locknames *t, pg_mthread *th, size_t nth, pg_edge *cyc, size_t ncyc,
                       pg_order_edge *ord, size_t nord);

#endif
