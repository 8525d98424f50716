/*
 * Symbolization of raw addresses with libdw: function (C++ demangled), file:line, inlined calls,
 * for executables (PIE or not) and shared libraries, from DWARF when present, the ELF symbol
 * tables when not, and module+offset when nothing is known. Files are opened once and cached by
 * path and build-id; a file whose build-id differs from the one the process recorded is not
 * trusted (a warning says so) and its frames stay module+offset.
 */
#ifndef POOLGUARD_SYMBOLIZE_H
#define POOLGUARD_SYMBOLIZE_H

#include <stdio.h>

#include "model.h"
#include "report.h"

typedef struct symbolizer symbolizer;

/* Warnings go to diag (NULL: silent). */
symbolizer *symbolizer_new(FILE *diag);
void symbolizer_free(symbolizer *s);

/* Appends the frames for one address of process p to *frames (realloc'd). is_return: pc is a
 * return address, so the call before it is looked up (pc - 1). Returns 0 or -ENOMEM. */
int symbolizer_lookup(symbolizer *s, const pg_process *p, uint64_t pc, bool is_return,
                      pg_frame **frames, size_t *nframes);
/* Names the locks of one finding or snapshot of process p (model.h, pg_lockname): by the data
 * symbol of the module holding the address (DWARF's variable, with its definition's file:line
 * and the member the lock is, else the symbol table's object), else by where the lock was
 * initialized, else where it was first taken. Returns 0 or -ENOMEM. */
int symbolizer_name_locks(symbolizer *s, const pg_process *p, pg_locknames *t);
/* Fills every stack of every finding and snapshot of r, and names their locks. */
int symbolizer_run(symbolizer *s, pg_report *r);
unsigned symbolizer_warnings(const symbolizer *s);

/* The module of p holding pc, or NULL. */
const pg_module *module_for_pc(const pg_process *p, uint64_t pc);
/* True for the shim, libc and the dynamic loader: frames renderers fold away. */
bool module_is_folded(const char *path);

#endif
