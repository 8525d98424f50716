/*
 * Locks by name (analyze.h): by the variable that holds one (symbol, member, where it is
 * declared) when the symbolizer found it, else by the site where the lock was initialized or
 * first taken, else by its kind and address. Reads a finding's or snapshot's lock table once it
 * is symbolized; writes only into the caller's buffer.
 */
#include "analyze.h"

#include "render.h"

#include <inttypes.h>
#include <string.h>

/* The object a lock kind is a state of: a read or write lock is held on an rwlock. */
static const char *object_word(const char *kind)
{
    int k = pg_wait_parse(kind);
    return k == PG_WAIT_RWLOCK_READ || k == PG_WAIT_RWLOCK_WRITE ? "rwlock"
                                                                 : render_wait_words(kind);
}

static const char *base_of(const char *path)
{
    const char *b = path ? strrchr(path, '/') : NULL;
    return b ? b + 1 : path;
}

/* A data symbol: "registry.lock" (name) and "reg.c:30" (details); "inside registry" and
 * "offset 8" when no member is known. False when no symbol names the lock. */
static bool symbol_words(const pg_lockname *n, char *name, size_t nlen, char *details, size_t dlen)
{
    if (!n || !n->symbol)
        return false;
    int used = 0;
    details[0] = '\0';
    if (n->decl_file && n->decl_line)
        used = snprintf(details, dlen, "%s:%u", base_of(n->decl_file), n->decl_line);
    else if (n->decl_file)
        used = snprintf(details, dlen, "%s", base_of(n->decl_file));
    if (n->member)
        snprintf(name, nlen, "%s%s", n->symbol, n->member);
    else if (n->sym_offset)
        snprintf(name, nlen, "inside %s", n->symbol);
    else
        snprintf(name, nlen, "%s", n->symbol);
    if (!n->member && n->sym_offset && used >= 0 && (size_t)used < dlen)
        snprintf(details + used, dlen - (size_t)used, "%soffset %" PRIu64, used ? ", " : "",
                 n->sym_offset);
    return true;
}

const pg_frame *describe_lock_site(const pg_lockname *n)
{
    if (!n || n->symbol || n->site_kind == PG_SITE_NONE || !n->site.nframes)
        return NULL;
    return &n->site.frames[0];
}

/* "the mutex initialized in cache_new() at cache.c:88": the innermost frame of the call, the
 * line the user wrote. False when the lock has no site. */
static bool site_words(const pg_lockname *n, const char *kind, char *buf, size_t len)
{
    const pg_frame *f = describe_lock_site(n);
    if (!f)
        return false;
    const char *verb = n->site_kind == PG_SITE_INIT ? "initialized" : "first taken";
    char where[PG_MAX_STRING + 600];
    if (f->function)
        snprintf(buf, len, "the %s %s in %s", object_word(kind), verb,
                 describe_frame(f, where, sizeof where));
    else if (f->module)
        snprintf(buf, len, "the %s %s at %s+0x%" PRIx64, object_word(kind), verb,
                 base_of(f->module), f->offset);
    else
        snprintf(buf, len, "the %s %s at 0x%" PRIx64, object_word(kind), verb, f->pc);
    return true;
}

const char *describe_lock_name(const pg_lockname *n, const char *kind, char *buf, size_t len)
{
    char name[PG_MAX_STRING + 64], details[PG_MAX_STRING + 64];
    buf[0] = '\0';
    if (symbol_words(n, name, sizeof name, details, sizeof details))
        snprintf(buf, len, "%s%s%s%s", name, *details ? " (" : "", details, *details ? ")" : "");
    else
        site_words(n, kind, buf, len);
    return buf;
}

const char *describe_lock(const pg_lockname *n, const char *kind, uint64_t address, char *buf,
                          size_t len)
{
    char name[PG_MAX_STRING + 64], details[PG_MAX_STRING + 64];
    char site[2 * PG_MAX_STRING + 700];
    int k = pg_wait_parse(kind);
    bool rw_state = k == PG_WAIT_RWLOCK_READ || k == PG_WAIT_RWLOCK_WRITE;
    if (symbol_words(n, name, sizeof name, details, sizeof details))
        snprintf(buf, len, "%s %s (%s%s0x%" PRIx64 ")", render_wait_words(kind), name, details,
                 *details ? ", " : "", address);
    else if (site_words(n, kind, site, sizeof site))
        snprintf(buf, len, "%s%s%s (0x%" PRIx64 ")", rw_state ? render_wait_words(kind) : "",
                 rw_state ? " of " : "", site, address);
    else
        snprintf(buf, len, "%s 0x%" PRIx64, render_wait_words(kind), address);
    return buf;
}
