/*
 * What the symbolizer's files share (symbolize.c, symbolize_locks.c): the cached module file,
 * with its libdw session and its DWARF variables once read, and the few helpers both use.
 * Private to analyzer/symbols/.
 */
#ifndef POOLGUARD_SYMBOLIZE_INT_H
#define POOLGUARD_SYMBOLIZE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include "symbolize.h"

/* A variable with a fixed address, as DWARF defines it. */
typedef struct dvar {
    Dwarf_Addr addr; /* in the session's addresses (offset + bias) */
    Dwarf_Word size;
    Dwarf_Off die; /* its DIE in .debug_info */
} dvar;

typedef struct modfile {
    char *path;
    char *build_id; /* as the process recorded it; NULL when it did not */
    Dwfl *dwfl;     /* NULL: the file cannot be used */
    Dwfl_Module *mod;
    Dwarf_Addr bias;
    bool vars_read; /* vars holds every variable of the file's DWARF (maybe none) */
    dvar *vars;
    size_t nvars;
} modfile;

/* The cache entry of m's file, opened on first use (its dwfl is NULL when the file cannot be
 * used), or NULL when out of memory or the cache is full. */
modfile *sym_get_modfile(symbolizer *s, const pg_module *m);
/* A name from an ELF symbol table or DWARF, demangled for C++; NULL for NULL. */
char *sym_demangle(const char *name);
/* A DIE's name: its linkage name demangled, else DW_AT_name. */
char *sym_die_name(Dwarf_Die *die);

#endif
