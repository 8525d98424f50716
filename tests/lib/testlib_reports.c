/*
 * The tests' helper library (see testlib.h): reading the shim's raw reports (docs/report-format.md)
 * while they are being written, names in stacks and messages, and symbolizing raw stacks against
 * the program's own symbols with nm, independently of the analyzer.
 */
#include "testlib.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------------------------------ */
/* Names in stacks and messages                                                               */

/*
 * Does a symbol name (as nm -C or the analyzer prints it) name the function `want`? C names match
 * exactly; C++ names come demangled with their parameters ("waits_on_future(std::future<int>&)");
 * GCC clones carry a suffix (".isra.0").
 */
bool e2e_names_function(const char *sym, const char *want)
{
    size_t n = strlen(want);
    if (!sym || strncmp(sym, want, n) != 0)
        return false;
    return sym[n] == '\0' || sym[n] == '(' || sym[n] == '.';
}

/* Does a JSON array of function names hold one that names function `want`? */
bool e2e_names_have(json_t *names, const char *want)
{
    size_t i;
    json_t *v;
    json_array_foreach (names, i, v)
        if (e2e_names_function(json_string_value(v), want))
            return true;
    return false;
}

/* Does `text` have a line that starts with "poolguard:" and contains `needle`? */
bool e2e_has_poolguard_line(const char *text, const char *needle)
{
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        if (tu_starts_with(line, "poolguard:") && memmem(line, len, needle, strlen(needle)))
            return true;
        line += len;
        if (*line == '\n')
            line++;
    }
    return false;
}

bool e2e_parse_addr(json_t *v, unsigned long *out)
{
    const char *s = json_string_value(v);
    if (!s || !tu_starts_with(s, "0x"))
        return false;
    char *end;
    errno = 0;
    *out = strtoul(s + 2, &end, 16);
    return errno == 0 && end != s + 2 && *end == '\0';
}

/* ------------------------------------------------------------------------------------------ */
/* Raw reports                                                                                */

void e2e_reports_free(struct e2e_reports *rs)
{
    for (int i = 0; i < rs->n; i++) {
        json_decref(rs->r[i].header);
        json_decref(rs->r[i].modules);
        json_decref(rs->r[i].findings);
    }
    rs->n = 0;
}

/*
 * Reads every poolguard.*.jsonl file in `dir`. Only complete lines count: the shim may be writing
 * the last one while we read.
 */
void e2e_reports_load(struct e2e_reports *rs, const char *dir)
{
    memset(rs, 0, sizeof *rs);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && rs->n < E2E_MAX_REPORTS) {
        size_t len = strlen(e->d_name);
        if (!tu_starts_with(e->d_name, "poolguard.") || len < 6 ||
            strcmp(e->d_name + len - 6, ".jsonl") != 0)
            continue;
        struct e2e_report *rp = &rs->r[rs->n++];
        snprintf(rp->path, sizeof rp->path, "%s/%s", dir, e->d_name);
        struct stat st;
        rp->mode = lstat(rp->path, &st) == 0 ? st.st_mode : 0;
        rp->modules = json_array();
        rp->findings = json_array();
        char *text = tu_slurp_maybe(rp->path, NULL);
        if (!text)
            continue;
        char *line = text, *nl;
        int lineno = 0;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = '\0';
            json_error_t jerr;
            json_t *obj = json_loads(line, 0, &jerr);
            const char *type = json_string_value(json_object_get(obj, "type"));
            if (!json_is_object(obj) || !type) {
                rp->bad_lines++;
            } else if (strcmp(type, "header") == 0) {
                rp->headers++;
                if (lineno == 0) {
                    rp->first_is_header = true;
                    rp->header = json_incref(obj);
                }
            } else if (strcmp(type, "module") == 0) {
                json_array_append(rp->modules, obj);
            } else if (strcmp(type, "finding") == 0) {
                json_array_append(rp->findings, obj);
            }
            json_decref(obj);
            line = nl + 1;
            lineno++;
        }
        free(text);
    }
    closedir(d);
}

size_t e2e_reports_count_findings(const struct e2e_reports *rs)
{
    size_t n = 0;
    for (int i = 0; i < rs->n; i++)
        n += json_array_size(rs->r[i].findings);
    return n;
}

/* The first report that holds a finding, or NULL. */
struct e2e_report *e2e_reports_with_finding(struct e2e_reports *rs)
{
    for (int i = 0; i < rs->n; i++)
        if (json_array_size(rs->r[i].findings) > 0)
            return &rs->r[i];
    return NULL;
}

/* A one-line description of every finding, for failure messages. */
void e2e_describe_findings(const struct e2e_reports *rs, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < rs->n; i++) {
        size_t j;
        json_t *f;
        json_array_foreach (rs->r[i].findings, j, f) {
            const char *kind = json_string_value(json_object_get(f, "kind"));
            const char *sum = json_string_value(json_object_get(f, "summary"));
            int w = snprintf(buf + used, size - used, "[%s: %s: %s] ", tu_base_name(rs->r[i].path),
                             kind ? kind : "?", sum ? sum : "?");
            if (w < 0 || (size_t)w >= size - used)
                return;
            used += (size_t)w;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Symbolizing raw stacks against the binary (independent of the analyzer)                    */

/* Function symbols of `binary`, demangled, from `nm -C -S --defined-only`. */
void e2e_symtab_load(struct e2e_symtab *st, const char *binary)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "nm -C -S --defined-only '%s' 2>/dev/null", binary);
    st->v = NULL;
    st->n = 0;
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen nm: %s", strerror(errno));
    char line[4096];
    size_t cap = 0;
    while (fgets(line, sizeof line, p)) {
        unsigned long addr, size;
        char type;
        int off = 0;
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "%lx %lx %c %n", &addr, &size, &type, &off) != 3 || off == 0)
            continue;
        if (type != 't' && type != 'T' && type != 'w' && type != 'W')
            continue;
        if (st->n == cap) {
            cap = cap ? cap * 2 : 256;
            st->v = realloc(st->v, cap * sizeof *st->v);
            ck_assert(st->v != NULL);
        }
        st->v[st->n++] = (struct e2e_sym){ addr, size, strdup(line + off) };
    }
    pclose(p);
    ck_assert_msg(st->n > 0, "nm found no function symbols in %s", binary);
}

void e2e_symtab_free(struct e2e_symtab *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->v[i].name);
    free(st->v);
    st->v = NULL;
    st->n = 0;
}

const char *e2e_symtab_lookup(const struct e2e_symtab *st, unsigned long addr)
{
    for (size_t i = 0; i < st->n; i++)
        if (addr >= st->v[i].addr && addr < st->v[i].addr + st->v[i].size)
            return st->v[i].name;
    return NULL;
}

/* The function names of an analyzer-rendered stack (frames without one are left out). */
json_t *e2e_stack_function_names(json_t *stack)
{
    json_t *names = json_array();
    size_t j;
    json_t *fr;
    json_array_foreach (stack, j, fr) {
        const char *fn = json_string_value(json_object_get(fr, "function"));
        if (fn)
            json_array_append_new(names, json_string(fn));
    }
    return names;
}

/*
 * The program's own functions in a raw stack: each address inside the module whose path names the
 * program is looked up at pc - base - 1 (a return address points after its call). Returns a JSON
 * array of names (the other frames are left out).
 */
json_t *e2e_raw_stack_functions(json_t *modules, json_t *stack, const char *prog,
                                const struct e2e_symtab *st)
{
    json_t *names = json_array();
    size_t i;
    json_t *pcv;
    json_array_foreach (stack, i, pcv) {
        unsigned long pc;
        if (!e2e_parse_addr(pcv, &pc))
            continue;
        size_t j;
        json_t *m;
        json_array_foreach (modules, j, m) {
            unsigned long base, start, end;
            const char *path = json_string_value(json_object_get(m, "path"));
            if (!path || !e2e_parse_addr(json_object_get(m, "base"), &base) ||
                !e2e_parse_addr(json_object_get(m, "start"), &start) ||
                !e2e_parse_addr(json_object_get(m, "end"), &end))
                continue;
            if (pc < start || pc >= end)
                continue;
            if (strcmp(tu_base_name(path), prog) == 0) {
                const char *name = e2e_symtab_lookup(st, pc - base - 1);
                if (name)
                    json_array_append_new(names, json_string(name));
            }
            break;
        }
    }
    return names;
}
