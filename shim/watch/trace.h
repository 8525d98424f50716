/*
 * POOLGUARD_TRACE (trace.c): the watchdog appends the pool analysis's input of every scan in which
 * a tracked thread waits or a pool has work queued to a file, one JSON line per scan, so that the rules (poolinfer.c) can be
 * replayed on real programs by the unit tests (tests/unit/check_pool_trace.c). Written with the shim's
 * JSON writer and write(2): no allocation, no stdio. Bounded by POOLGUARD_TRACE_MAX bytes.
 *
 * A line: {"v":1, "pid", "scan", "now", "interval_ms", "stall_ms", "queue_limit", "gaps":
 * [[start,len]...], "pools": [{handle, adapter, workers, submitted, started, done}...], "sems":
 * [{obj, value}...] (the semaphore values the rules asked for), "threads": [one object per thread,
 * the fields of struct pg_pi_thread's input, zeros left out; "runnable" only when the rules asked],
 * "verdicts": [{kind, severity, proof, evidence, queued, workers}...] (what the live scan decided)}.
 * Addresses and keys are "0x..." strings.
 */
#ifndef POOLGUARD_TRACE_H
#define POOLGUARD_TRACE_H

#include "poolinfer.h"

#define PG_TRACE_VERSION 1

/* Appends one scan (input as the rules left it, with the facts they read; and their verdicts). */
__attribute__((visibility("hidden"))) void pg_trace_scan(const struct pg_pi_in *in,
                                                         const struct pg_pi_out *out);

#endif
