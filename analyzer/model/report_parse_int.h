/*
 * What the files of the report parser share, and nothing else includes: report.h is the
 * parser's interface (report_parse_object). The rp_ prefix marks what crosses files.
 *   report_parse.c   one record of a report (header, module, finding, snapshot)
 *   locknames.c      the lock table of a finding or snapshot
 */
#ifndef POOLGUARD_REPORT_PARSE_INT_H
#define POOLGUARD_REPORT_PARSE_INT_H

#include "report.h"

/* locknames.c: fills t from the mentions of a finding or snapshot and points each mention at its
 * entry. cyc and ord may be NULL with a count of 0. Returns 0 or -ENOMEM. */
int rp_locknames_build(pg_locknames *t, pg_mthread *th, size_t nth, pg_edge *cyc, size_t ncyc,
                       pg_order_edge *ord, size_t nord);

#endif
