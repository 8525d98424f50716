/*
 * Naming locks by the data that holds them (see symbolizer_name_locks in symbolize.h). A lock
 * address is looked up among the data of its module file (symbolize_int.h): the ELF symbol
 * tables' objects, and DWARF's variables (read once per file into a table of address ranges) for
 * the definition's file:line and the member of a struct or element of an array the lock is.
 * Without either, the lock is named by the site that initialized or first took it.
 */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize_int.h"

enum { MAX_TYPE_DEPTH = 8, MAX_VARS = 1 << 20 };

/* The smallest object of the ELF symbol tables (.symtab, else .dynsym) whose [value, value+size)
 * holds addr; its name demangled, or NULL. */
static char *symtab_object(modfile *mf, Dwarf_Addr addr, Dwarf_Addr *start)
{
    int n = dwfl_module_getsymtab(mf->mod);
    const char *best = NULL;
    GElf_Xword best_size = 0;
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr value;
        const char *name = dwfl_module_getsym_info(mf->mod, i, &sym, &value, NULL, NULL, NULL);
        if (!name || !*name || GELF_ST_TYPE(sym.st_info) != STT_OBJECT ||
            sym.st_shndx == SHN_UNDEF || sym.st_size == 0 || addr < value ||
            addr - value >= sym.st_size)
            continue;
        if (!best || sym.st_size < best_size) {
            best = name;
            best_size = sym.st_size;
            *start = value;
        }
    }
    return best ? sym_demangle(best) : NULL;
}

static bool die_type(Dwarf_Die *die, Dwarf_Die *type)
{
    Dwarf_Attribute attr;
    return dwarf_attr_integrate(die, DW_AT_type, &attr) && dwarf_formref_die(&attr, type);
}

static void collect_vars(modfile *mf, Dwarf_Die *parent, Dwarf_Addr cubias, size_t *cap, int depth)
{
    Dwarf_Die die;
    if (depth > MAX_TYPE_DEPTH || dwarf_child(parent, &die) != 0)
        return;
    do {
        int tag = dwarf_tag(&die);
        if (tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block || tag == DW_TAG_namespace) {
            collect_vars(mf, &die, cubias, cap, depth + 1);
            continue;
        }
        Dwarf_Attribute attr;
        Dwarf_Op *ops;
        size_t nops;
        Dwarf_Die type;
        if (tag != DW_TAG_variable || !dwarf_attr(&die, DW_AT_location, &attr) ||
            dwarf_getlocation(&attr, &ops, &nops) != 0 || nops != 1 || ops[0].atom != DW_OP_addr ||
            !die_type(&die, &type))
            continue;
        Dwarf_Word size;
        if (dwarf_aggregate_size(&type, &size) != 0 || size == 0 || mf->nvars >= MAX_VARS)
            continue;
        if (mf->nvars == *cap) {
            size_t ncap = *cap ? *cap * 2 : 64;
            dvar *v = realloc(mf->vars, ncap * sizeof *v);
            if (!v)
                return;
            mf->vars = v;
            *cap = ncap;
        }
        mf->vars[mf->nvars++] =
            (dvar){ .addr = ops[0].number + cubias, .size = size, .die = dwarf_dieoffset(&die) };
    } while (dwarf_siblingof(&die, &die) == 0);
}

/* The variable whose storage holds addr, from DWARF; false when there is none (or no DWARF). */
static bool dwarf_variable(modfile *mf, Dwarf_Addr addr, Dwarf_Die *var, Dwarf_Addr *start)
{
    if (!mf->vars_read) {
        mf->vars_read = true;
        size_t cap = 0;
        Dwarf_Die *cu = NULL;
        Dwarf_Addr cubias;
        while ((cu = dwfl_module_nextcu(mf->mod, cu, &cubias)))
            collect_vars(mf, cu, cubias, &cap, 0);
    }
    Dwarf_Addr bias;
    Dwarf *dw = mf->nvars ? dwfl_module_getdwarf(mf->mod, &bias) : NULL;
    const dvar *best = NULL;
    for (size_t i = 0; dw && i < mf->nvars; i++)
        if (addr >= mf->vars[i].addr && addr - mf->vars[i].addr < mf->vars[i].size &&
            (!best || mf->vars[i].size < best->size))
            best = &mf->vars[i];
    if (!best || !dwarf_offdie(dw, best->die, var))
        return false;
    *start = best->addr;
    return true;
}

/* Names the implementation reserves (__data, _M_mutex): the inside of a library's lock type,
 * not the program's member. */
static bool reserved_name(const char *name)
{
    return name[0] == '_' && (name[1] == '_' || (name[1] >= 'A' && name[1] <= 'Z'));
}

static void append_path(char *buf, size_t len, const char *fmt, const char *name, Dwarf_Word idx)
{
    size_t used = strlen(buf);
    if (used < len)
        snprintf(buf + used, len - used, fmt, name ? name : "", (unsigned long long)idx);
}

/* The path to offset off inside an object of type type: ".lock", "[2].mu", "" at a lock type's
 * own members or an offset nothing more precise holds. */
static void member_path(Dwarf_Die *type, Dwarf_Word off, char *buf, size_t len, int depth)
{
    Dwarf_Die t;
    if (depth > MAX_TYPE_DEPTH || dwarf_peel_type(type, &t) != 0)
        return;
    int tag = dwarf_tag(&t);
    if (tag == DW_TAG_array_type) {
        Dwarf_Die elem;
        Dwarf_Word esize;
        if (!die_type(&t, &elem) || dwarf_aggregate_size(&elem, &esize) != 0 || esize == 0)
            return;
        append_path(buf, len, "%s[%llu]", NULL, off / esize);
        member_path(&elem, off % esize, buf, len, depth + 1);
        return;
    }
    if (tag != DW_TAG_structure_type && tag != DW_TAG_class_type && tag != DW_TAG_union_type)
        return;
    Dwarf_Die m;
    if (dwarf_child(&t, &m) != 0)
        return;
    do {
        int mtag = dwarf_tag(&m);
        if (mtag != DW_TAG_member && mtag != DW_TAG_inheritance)
            continue;
        Dwarf_Attribute attr;
        Dwarf_Word loc = 0, size;
        Dwarf_Die mtype;
        if (dwarf_attr(&m, DW_AT_data_member_location, &attr) && dwarf_formudata(&attr, &loc) != 0)
            continue;
        if (!die_type(&m, &mtype) || dwarf_aggregate_size(&mtype, &size) != 0 || off < loc ||
            off - loc >= size)
            continue;
        const char *name = mtag == DW_TAG_member ? dwarf_diename(&m) : NULL;
        if (name && reserved_name(name))
            return;
        if (name)
            append_path(buf, len, ".%s", name, 0);
        member_path(&mtype, off - loc, buf, len, depth + 1);
        return;
    } while (dwarf_siblingof(&m, &m) == 0);
}

/* Names one lock: the variable holding it, else its site. */
static int name_lock(symbolizer *s, const pg_process *p, pg_lockname *ln)
{
    if (ln->looked_up)
        return 0;
    ln->looked_up = true;
    const pg_module *m = module_for_pc(p, ln->address);
    modfile *mf = m ? sym_get_modfile(s, m) : NULL;
    if (m)
        ln->module = m->path;
    if (mf && mf->dwfl) {
        Dwarf_Addr addr = ln->address - m->base + mf->bias, start = 0;
        Dwarf_Die var;
        if (dwarf_variable(mf, addr, &var, &start)) {
            ln->symbol = sym_die_name(&var);
            ln->sym_offset = addr - start;
            const char *file = dwarf_decl_file(&var);
            int line = 0;
            if (file && dwarf_decl_line(&var, &line) == 0 && line > 0) {
                ln->decl_file = strndup(file, PG_MAX_STRING);
                ln->decl_line = (unsigned)line;
            }
            char path[512] = "";
            Dwarf_Die type;
            if (ln->sym_offset && die_type(&var, &type))
                member_path(&type, ln->sym_offset, path, sizeof path, 0);
            if (*path)
                ln->member = strdup(path);
        }
        if (!ln->symbol && (ln->symbol = symtab_object(mf, addr, &start)))
            ln->sym_offset = addr - start;
        if (ln->symbol)
            return 0;
    }
    uint64_t pc = ln->init_pc ? ln->init_pc : ln->first_taken_pc;
    if (!pc)
        return 0;
    ln->site_kind = ln->init_pc ? PG_SITE_INIT : PG_SITE_FIRST_TAKEN;
    return symbolizer_lookup(s, p, pc, true, &ln->site.frames, &ln->site.nframes);
}

int symbolizer_name_locks(symbolizer *s, const pg_process *p, pg_locknames *t)
{
    for (size_t i = 0; i < t->n; i++) {
        int r = name_lock(s, p, &t->v[i]);
        if (r)
            return r;
    }
    return 0;
}
