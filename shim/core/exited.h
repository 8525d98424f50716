/*
 * Threads that exited holding locks (exited.c): what the report needs to name the owner of a lock
 * nobody will release, after its slot in the thread table has gone to another thread.
 */
#ifndef POOLGUARD_EXITED_H
#define POOLGUARD_EXITED_H

#include "jsonw.h"
#include "pg.h"

/* t's thread is ending (called by that thread, before its slot is released). */
PG_HIDDEN void pg_exited_note(struct pg_thread *t);
/* Watchdog: writes "owner" for a lock at obj left held by thread tid, if it was seen exiting. */
PG_HIDDEN void pg_exited_write_owner(struct pg_jw *w, pid_t tid, uintptr_t obj);

#endif
