/*
 * The raw report format: the one contract between the shim (libpoolguard.so, which writes it) and
 * the analyzer (poolguard, which reads it, and which writes it too for `attach` and `core`).
 * docs/report-format.md describes it; docs/report-format.schema.json checks it.
 *
 * Everything here is a constant, an enum or a lookup in a constant table: no allocation, no lock,
 * no stdio, so the shim's watchdog and hooks may use it as freely as the analyzer. Each vocabulary
 * is one X-macro list, and its enum, its name table and its parser are all made from that list.
 * A value is written and compared by its enum only; the strings appear nowhere else.
 */
#ifndef POOLGUARD_FORMAT_H
#define POOLGUARD_FORMAT_H

#include <string.h>

/* The header's "format" and "version". The version changes when a reader of the previous one
 * would misread a report of the new one. Version 2: pool evidence is a code (idle_signals,
 * semaphore) where version 1 wrote an English phrase. The analyzer reads versions
 * PG_FORMAT_OLDEST to PG_FORMAT_VERSION and refuses others. */
#define PG_FORMAT_NAME "poolguard-report"
#define PG_FORMAT_VERSION 2
#define PG_FORMAT_OLDEST 1

/* The version of poolguard (shim and analyzer are released together): the header's "shim", the
 * analyzer's --version and the tool version of its rendered outputs. */
#define PG_TOOL_VERSION "0.1.0"

/* ---- Vocabularies ------------------------------------------------------------------------ */

#define PG_FMT_ENUM_(id, name) id,
#define PG_FMT_NAME_(id, name) name,

/* Defines enum `type` from LIST, `prefix_name(v)` (NULL for a value outside the list or one
 * without a name) and `prefix_parse(s)` (the value, or -1 when s is NULL or not in the list). */
#define PG_FMT_VOCAB(type, prefix, LIST)                                                           \
    typedef enum type { LIST(PG_FMT_ENUM_) } type;                                                 \
    static inline const char *prefix##_name(int v)                                                 \
    {                                                                                              \
        static const char *const names[] = { LIST(PG_FMT_NAME_) };                                 \
        return v >= 0 && (unsigned)v < sizeof names / sizeof *names ? names[v] : NULL;             \
    }                                                                                              \
    static inline int prefix##_parse(const char *s)                                                \
    {                                                                                              \
        static const char *const names[] = { LIST(PG_FMT_NAME_) };                                 \
        for (unsigned i = 0; s && i < sizeof names / sizeof *names; i++)                           \
            if (names[i] && strcmp(names[i], s) == 0)                                              \
                return (int)i;                                                                     \
        return -1;                                                                                 \
    }

/* Record types: a line's "type". */
#define PG_RECORDS(X)                                                                              \
    X(PG_REC_HEADER, "header")                                                                     \
    X(PG_REC_MODULE, "module")                                                                     \
    X(PG_REC_FINDING, "finding")                                                                   \
    X(PG_REC_SNAPSHOT, "snapshot")
PG_FMT_VOCAB(pg_record, pg_record, PG_RECORDS)

/* A finding's "kind". PG_KIND_NONE: absent or unknown (an analyzer keeps the string it read). */
#define PG_KINDS(X)                                                                                \
    X(PG_KIND_NONE, NULL)                                                                          \
    X(PG_KIND_DEADLOCK, "deadlock")                                                                \
    X(PG_KIND_POOL_EXHAUSTION, "pool_exhaustion")                                                  \
    X(PG_KIND_QUEUE_GROWTH, "queue_growth")                                                        \
    X(PG_KIND_LOCK_ORDER, "lock_order")                                                            \
    X(PG_KIND_STALL, "stall")
PG_FMT_VOCAB(pg_kind, pg_kind, PG_KINDS)

/* A finding's "severity", in increasing order. */
#define PG_SEVERITIES(X)                                                                           \
    X(PG_SEV_NONE, NULL)                                                                           \
    X(PG_SEV_INFO, "info")                                                                         \
    X(PG_SEV_WARNING, "warning")                                                                   \
    X(PG_SEV_ERROR, "error")
PG_FMT_VOCAB(pg_severity, pg_sev, PG_SEVERITIES)

/* pool.proof: what shows that the pool cannot continue. */
#define PG_PROOFS(X)                                                                               \
    X(PG_PROOF_NONE, "none")                                                                       \
    X(PG_PROOF_GRAPH, "graph")                                                                     \
    X(PG_PROOF_EXACT, "exact")                                                                     \
    X(PG_PROOF_INFERRED, "inferred")
PG_FMT_VOCAB(pg_proof, pg_proof, PG_PROOFS)

/* pool.evidence: what the shim saw of the pool's queue (a code; version 1 wrote phrases for
 * idle_signals and semaphore, which pg_evidence_parse_v1 reads). */
#define PG_EVIDENCES(X)                                                                            \
    X(PG_EV_STALL, "stall")                                                                        \
    X(PG_EV_IDLE_SIGNALS, "idle_signals")                                                          \
    X(PG_EV_SEMAPHORE, "semaphore")                                                                \
    X(PG_EV_ADAPTER, "adapter")                                                                    \
    X(PG_EV_ANNOTATION, "annotation")                                                              \
    X(PG_EV_PYTHON, "python")
PG_FMT_VOCAB(pg_evidence, pg_evidence, PG_EVIDENCES)

static inline int pg_evidence_parse_v1(const char *s)
{
    if (s && strcmp(s, "signals with no idle worker") == 0)
        return PG_EV_IDLE_SIGNALS;
    if (s && strcmp(s, "semaphore count") == 0)
        return PG_EV_SEMAPHORE;
    return pg_evidence_parse(s);
}

/* pool.source: who told the shim about the pool. */
#define PG_SOURCES(X)                                                                              \
    X(PG_SRC_INFERRED, "inferred")                                                                 \
    X(PG_SRC_ADAPTER, "adapter")                                                                   \
    X(PG_SRC_ANNOTATION, "annotation")                                                             \
    X(PG_SRC_PYTHON, "python")
PG_FMT_VOCAB(pg_source, pg_source, PG_SOURCES)

/* pool.library: the library that runs an adapter's (or the Python layer's) pool. */
#define PG_LIBRARIES(X)                                                                            \
    X(PG_LIB_LIBUV, "libuv")                                                                       \
    X(PG_LIB_GLIB, "glib")                                                                         \
    X(PG_LIB_TBB, "oneTBB")                                                                        \
    X(PG_LIB_PYTHON, "python")
PG_FMT_VOCAB(pg_library, pg_library, PG_LIBRARIES)

/* A thread's "role" in a finding or snapshot. */
#define PG_ROLES(X)                                                                                \
    X(PG_ROLE_CYCLE, "cycle")                                                                      \
    X(PG_ROLE_BLOCKED, "blocked")                                                                  \
    X(PG_ROLE_HANG, "hang")                                                                        \
    X(PG_ROLE_SNAPSHOT, "snapshot")                                                                \
    X(PG_ROLE_WORKER, "worker")                                                                    \
    X(PG_ROLE_SUBMITTER, "submitter")
PG_FMT_VOCAB(pg_role, pg_role, PG_ROLES)

/* blocked_on.kind and cycle[].kind: what a thread waits in. The order up to PG_WAIT_ONCE is the
 * shim's own (enum pg_wait_kind, shim/core/pg.h); task and future are read from older reports
 * and hand-written ones only. */
#define PG_WAITS(X)                                                                                \
    X(PG_WAIT_NONE, "none")                                                                        \
    X(PG_WAIT_MUTEX, "mutex")                                                                      \
    X(PG_WAIT_RWLOCK_READ, "rwlock_read")                                                          \
    X(PG_WAIT_RWLOCK_WRITE, "rwlock_write")                                                        \
    X(PG_WAIT_JOIN, "join")                                                                        \
    X(PG_WAIT_COND, "cond")                                                                        \
    X(PG_WAIT_SEM, "sem")                                                                          \
    X(PG_WAIT_FUTEX, "futex")                                                                      \
    X(PG_WAIT_BARRIER, "barrier")                                                                  \
    X(PG_WAIT_COND_DESTROY, "cond_destroy")                                                        \
    X(PG_WAIT_ONCE, "once")                                                                        \
    X(PG_WAIT_TASK, "task")                                                                        \
    X(PG_WAIT_FUTURE, "future")
PG_FMT_VOCAB(pg_wait_kind_t, pg_wait, PG_WAITS)

/* holds[].kind and order[].first/then.kind: a lock a thread holds. The order is the shim's
 * (enum pg_held_kind, from 1). */
#define PG_LOCKS(X)                                                                                \
    X(PG_LOCK_NONE, NULL)                                                                          \
    X(PG_LOCK_MUTEX, "mutex")                                                                      \
    X(PG_LOCK_RWLOCK_READ, "rwlock_read")                                                          \
    X(PG_LOCK_RWLOCK_WRITE, "rwlock_write")                                                        \
    X(PG_LOCK_SPINLOCK, "spinlock")
PG_FMT_VOCAB(pg_lock_kind_t, pg_lock, PG_LOCKS)

/* snapshot.reason: what asked for it. */
#define PG_REASONS(X)                                                                              \
    X(PG_REASON_REQUEST, "request")                                                                \
    X(PG_REASON_ATTACH, "attach")                                                                  \
    X(PG_REASON_CORE, "core")
PG_FMT_VOCAB(pg_reason, pg_reason, PG_REASONS)

/* ---- Member names ------------------------------------------------------------------------ */

/* Every record. */
#define PG_K_TYPE "type"
/* header */
#define PG_K_FORMAT "format"
#define PG_K_VERSION "version"
#define PG_K_PID "pid"
#define PG_K_PPID "ppid"
#define PG_K_EXE "exe"
#define PG_K_ARGV "argv"
#define PG_K_START_UNIX_MS "start_unix_ms"
#define PG_K_SHIM "shim"
#define PG_K_INTERVAL_MS "interval_ms"
#define PG_K_STALL_MS "stall_ms"
#define PG_K_SOURCE "source" /* header (attach, core) and pool */
/* finding */
#define PG_K_SEQ "seq"
#define PG_K_KIND "kind"
#define PG_K_SEVERITY "severity"
#define PG_K_TIME_UNIX_MS "time_unix_ms"
#define PG_K_SUMMARY "summary"
#define PG_K_THREADS "threads"
#define PG_K_CYCLE "cycle"
#define PG_K_HANG "hang"
#define PG_K_ABANDONED "abandoned"
#define PG_K_POOL "pool"
#define PG_K_GROWTH "growth"
#define PG_K_ORDER "order"
/* snapshot */
#define PG_K_REASON "reason"
/* pool: its identity and counts */
#define PG_K_POOL_ID "id"
#define PG_K_POOL_NAME "name"
#define PG_K_POOL_LIBRARY "library"
#define PG_K_POOL_WORKERS "workers"
#define PG_K_POOL_DECLARED "declared_workers"
#define PG_K_POOL_MAX "max_workers"
#define PG_K_POOL_QUEUED "queued"
#define PG_K_POOL_EVIDENCE "evidence"
#define PG_K_POOL_PROOF "proof"
/* thread */
#define PG_K_ROLE "role"
#define PG_K_BLOCKED_ON "blocked_on"
#define PG_K_HOLDS "holds"

/* The line the shim writes to the FIFO named by POOLGUARD_NOTIFY for each finding, read by
 * `poolguard run` (run_watch.c): pid, kind, severity, proof ("-" when none), written (0/1),
 * report (the file's path, "-" when none). */
#define PG_NOTICE_PREFIX "finding "
#define PG_NOTICE_FMT "finding pid=%d kind=%s severity=%s proof=%s written=%d report=%s\n"
#define PG_NOTICE_NO_PROOF "-"

/* The file a `poolguard run --timeout` touches in POOLGUARD_DIR to ask for a snapshot. */
#define PG_SNAPSHOT_REQUEST_FILE "snapshot.request"

#endif
