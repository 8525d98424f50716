/*
 * Python objects read from raw memory (pyremote_int.h): str, int, tuple, list, set, dict,
 * instance attributes, code objects and their line tables, with the layouts of pyoffsets.h.
 * Every pointer may be garbage: each read can fail, each loop is bounded, a type is checked
 * against the interpreter's own type object before its layout is trusted.
 */
#include "pyremote_int.h"

#include <stdio.h>
#include <string.h>

int pyr_read(struct pyr *r, uint64_t addr, void *buf, size_t len)
{
    if (addr < 4096 || r->budget <= 0)
        return -1;
    r->budget--;
    return r->p->read(r->p->read_ctx, addr, buf, len) < 0 ? -1 : 0;
}

uint64_t pyr_ptr(struct pyr *r, uint64_t addr)
{
    uint64_t v = 0;
    return pyr_read(r, addr, &v, sizeof v) < 0 ? 0 : v;
}

int64_t pyr_i64(struct pyr *r, uint64_t addr, int64_t dflt)
{
    int64_t v = 0;
    return pyr_read(r, addr, &v, sizeof v) < 0 ? dflt : v;
}

uint64_t pyr_type(struct pyr *r, uint64_t obj)
{
    return obj ? pyr_ptr(r, obj + 8) : 0; /* ob_type follows ob_refcnt in every version */
}

int pyr_is(struct pyr *r, uint64_t obj, uint64_t type)
{
    return obj && type && pyr_type(r, obj) == type;
}

int pyr_type_name(struct pyr *r, uint64_t type, char *out, size_t cap)
{
    out[0] = 0;
    uint64_t name = type ? pyr_ptr(r, type + (uint64_t)r->o->tp_name) : 0;
    if (!name || cap < 2 || pyr_read(r, name, out, cap - 1) < 0) {
        /* A name near the end of a mapping: read it in smaller pieces. */
        size_t k = 0;
        char ch = 1;
        while (name && k + 1 < cap && ch && pyr_read(r, name + k, &ch, 1) == 0)
            out[k++] = ch;
        out[k] = 0;
        return out[0] != 0;
    }
    out[cap - 1] = 0;
    return out[0] != 0;
}

int pyr_is_sub_named(struct pyr *r, uint64_t obj, const char *name)
{
    uint64_t mro = pyr_ptr(r, pyr_type(r, obj) + (uint64_t)r->o->tp_mro);
    long n = pyr_is(r, mro, r->t_tuple) ? pyr_seq_len(r, mro) : 0;
    char b[64];
    for (long i = 0; i < n && i < 64; i++) {
        const char *base = b;
        if (pyr_type_name(r, pyr_seq_item(r, mro, i), b, sizeof b) && strrchr(b, '.'))
            base = strrchr(b, '.') + 1;
        if (!strcmp(base, name))
            return 1;
    }
    return 0;
}

static size_t put_utf8(char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        if (c >= 0xd800 && c < 0xe000)
            c = 0xfffd; /* a lone surrogate: not UTF-8 */
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    if (c > 0x10ffff)
        c = 0xfffd;
    out[0] = (char)(0xf0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

int pyr_str(struct pyr *r, uint64_t obj, char *out, size_t cap, int tail)
{
    out[0] = 0;
    if (!pyr_is(r, obj, r->t_str) || cap < 8)
        return 0;
    const struct pyoffs *o = r->o;
    int64_t len = pyr_i64(r, obj + (uint64_t)o->uni_length, -1);
    uint32_t state = 0;
    if (len < 0 || pyr_read(r, obj + (uint64_t)o->uni_state, &state, sizeof state) < 0)
        return 0;
    unsigned kind = (state & (unsigned)o->uni_kind_mask) >> 2;
    uint64_t data;
    if ((state & (unsigned)o->uni_compact_bit) && (state & (unsigned)o->uni_ascii_bit))
        data = obj + (uint64_t)o->uni_ascii_size;
    else if (state & (unsigned)o->uni_compact_bit)
        data = obj + (uint64_t)o->uni_compact_size;
    else
        data = pyr_ptr(r, obj + (uint64_t)o->uni_compact_size); /* a legacy string's buffer */
    if (kind != 1 && kind != 2 && kind != 4)
        return 0;
    /* The characters wanted: the first ones, or the last ones of a long file path. */
    int64_t want = (int64_t)cap - 1, from = 0;
    if (len > want && tail)
        from = len - (int64_t)(cap - 4);
    if (len - from > PYR_MAX_STR)
        len = from + PYR_MAX_STR;
    static unsigned char raw[PYR_MAX_STR * 4];
    size_t nbytes = (size_t)(len - from) * kind;
    if (nbytes && pyr_read(r, data + (uint64_t)from * kind, raw, nbytes) < 0)
        return 0;
    size_t k = 0;
    if (from > 0) {
        memcpy(out, "...", 3);
        k = 3;
    }
    for (int64_t i = 0; i < len - from; i++) {
        uint32_t c = kind == 1 ? raw[i]
                     : kind == 2
                         ? (uint32_t)(raw[2 * i] | raw[2 * i + 1] << 8)
                         : (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                               (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
        char u[4];
        size_t n = put_utf8(u, c);
        if (k + n >= cap)
            break;
        memcpy(out + k, u, n);
        k += n;
    }
    out[k] = 0;
    return 1;
}

int pyr_str_eq(struct pyr *r, uint64_t obj, const char *s)
{
    char b[128];
    return strlen(s) < sizeof b - 1 && pyr_str(r, obj, b, sizeof b, 0) && !strcmp(b, s);
}

long pyr_long(struct pyr *r, uint64_t obj, long dflt)
{
    if (!obj || (!pyr_is(r, obj, r->t_int) && !(obj == r->py_true || obj == r->py_false)))
        return dflt;
    int64_t size = pyr_i64(r, obj + (uint64_t)r->o->long_size, 0);
    long ndigits, sign = 1;
    if (r->minor >= 12) { /* lv_tag: digits << 3 | sign (0 positive, 1 zero, 2 negative) */
        ndigits = (long)((uint64_t)size >> 3);
        sign = (size & 3) == 2 ? -1 : 1;
        if ((size & 3) == 1)
            return 0;
    } else {
        ndigits = size < 0 ? -size : size;
        sign = size < 0 ? -1 : 1;
    }
    if (ndigits > 2)
        return dflt; /* more than 60 bits: no count or size poolguard reads is that big */
    uint32_t d[2] = { 0, 0 };
    if (ndigits && pyr_read(r, obj + (uint64_t)r->o->long_digit, d, (size_t)ndigits * 4) < 0)
        return dflt;
    uint64_t v = d[0] | (uint64_t)d[1] << r->o->long_shift;
    return sign * (long)v;
}

long pyr_seq_len(struct pyr *r, uint64_t obj)
{
    int64_t n = pyr_i64(r, obj + (uint64_t)r->o->var_size, 0);
    return n < 0 || n > (1 << 28) ? 0 : (long)n;
}

uint64_t pyr_seq_item(struct pyr *r, uint64_t obj, long i)
{
    uint64_t t = pyr_type(r, obj);
    if (t == r->t_tuple)
        return pyr_ptr(r, obj + (uint64_t)r->o->tuple_items + 8 * (uint64_t)i);
    uint64_t items = pyr_ptr(r, obj + (uint64_t)r->o->list_items);
    return items ? pyr_ptr(r, items + 8 * (uint64_t)i) : 0;
}

long pyr_set_len(struct pyr *r, uint64_t set)
{
    int64_t n = pyr_i64(r, set + (uint64_t)r->o->set_used, -1);
    return n < 0 || n > (1L << 40) ? -1 : (long)n;
}

void pyr_set_each(struct pyr *r, uint64_t set, long max, void (*fn)(struct pyr *, uint64_t, void *),
                  void *arg)
{
    int64_t mask = pyr_i64(r, set + (uint64_t)r->o->set_mask, -1);
    uint64_t table = pyr_ptr(r, set + (uint64_t)r->o->set_table);
    if (mask < 0 || mask > (1 << 16) || !table)
        return;
    long found = 0;
    for (int64_t i = 0; i <= mask && found < max; i++) {
        uint64_t key = pyr_ptr(r, table + 16 * (uint64_t)i); /* setentry: {key, hash} */
        if (!key)
            continue;
        found++; /* a deleted slot's dummy is filtered by the callback's type check */
        fn(r, key, arg);
    }
}

/* Looks name up among a dict keys object's entries; values (a split table) when given. */
static uint64_t keys_get(struct pyr *r, uint64_t keys, uint64_t values, const char *name)
{
    const struct pyoffs *o = r->o;
    int64_t nentries = pyr_i64(r, keys + (uint64_t)o->dk_nentries, -1);
    uint64_t entries;
    size_t esize = 24; /* {hash, key, value} */
    if (r->minor >= 11) {
        uint8_t b[3];
        if (pyr_read(r, keys + (uint64_t)o->dk_size, b, 3) < 0 || b[1] > 40)
            return 0;
        entries = keys + (uint64_t)o->dk_indices + ((uint64_t)1 << b[1]);
        if (b[2] != 0)
            esize = 16; /* unicode keys: {key, value} */
    } else {
        int64_t size = pyr_i64(r, keys + (uint64_t)o->dk_size, -1);
        if (size <= 0 || size > (1L << 30))
            return 0;
        int ix = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffL ? 4 : 8;
        entries = keys + (uint64_t)o->dk_indices + (uint64_t)size * (uint64_t)ix;
    }
    if (nentries < 0 || nentries > 4096)
        return 0; /* instance dicts are small; anything bigger is not what is looked for */
    for (int64_t i = 0; i < nentries; i++) {
        uint64_t e = entries + (uint64_t)i * esize;
        uint64_t key = pyr_ptr(r, e + (esize == 24 ? 8 : 0));
        if (!key || !pyr_str_eq(r, key, name))
            continue;
        if (values)
            return pyr_ptr(r, values + (uint64_t)o->dv_values + 8 * (uint64_t)i);
        return pyr_ptr(r, e + (esize == 24 ? 16 : 8));
    }
    return 0;
}

uint64_t pyr_dict_get(struct pyr *r, uint64_t dict, const char *name)
{
    if (!pyr_is(r, dict, r->t_dict))
        return 0;
    uint64_t keys = pyr_ptr(r, dict + (uint64_t)r->o->dict_keys);
    uint64_t values = pyr_ptr(r, dict + (uint64_t)r->o->dict_values);
    return keys ? keys_get(r, keys, values, name) : 0;
}

uint64_t pyr_attr(struct pyr *r, uint64_t obj, const char *name)
{
    const struct pyoffs *o = r->o;
    uint64_t type = pyr_type(r, obj);
    if (!type)
        return 0;
    uint64_t flags = pyr_ptr(r, type + (uint64_t)o->tp_flags);
    if (r->minor >= 11 && (flags & (uint64_t)o->flag_managed_dict)) {
        uint64_t keys = pyr_ptr(r, type + (uint64_t)o->ht_cached_keys);
        if (r->minor >= 13 && (flags & (uint64_t)o->flag_inline_values)) {
            int64_t basic = pyr_i64(r, type + (uint64_t)o->tp_basicsize, -1);
            uint8_t valid = 0;
            uint64_t values = obj + (uint64_t)basic;
            if (basic > 0 && pyr_read(r, values + 3, &valid, 1) == 0 && valid && keys)
                return keys_get(r, keys, values, name);
        }
        uint64_t word = pyr_ptr(r, obj + (uint64_t)o->managed_dict_offset);
        if (r->minor == 11) {
            uint64_t values = pyr_ptr(r, obj + (uint64_t)o->managed_values_offset);
            if (values && keys)
                return keys_get(r, keys, values, name);
        } else if (r->minor == 12 && (word & 1)) {
            return keys ? keys_get(r, keys, word + 1, name) : 0;
        }
        return pyr_dict_get(r, word, name);
    }
    int64_t off = pyr_i64(r, type + (uint64_t)o->tp_dictoffset, 0);
    if (off <= 0 || off > 4096)
        return 0;
    return pyr_dict_get(r, pyr_ptr(r, obj + (uint64_t)off), name);
}

void pyr_code_names(struct pyr *r, uint64_t code, struct pg_py_func *f)
{
    const struct pyoffs *o = r->o;
    uint64_t name = pyr_ptr(r, code + (uint64_t)(r->minor >= 11 ? o->co_qualname : o->co_name));
    pyr_str(r, name, f->name, sizeof f->name, 0);
    pyr_str(r, pyr_ptr(r, code + (uint64_t)o->co_filename), f->file, sizeof f->file, 1);
}

static int first_line(struct pyr *r, uint64_t code)
{
    int32_t v = 0;
    return pyr_read(r, code + (uint64_t)r->o->co_firstlineno, &v, sizeof v) < 0 ? 0 : v;
}

int pyr_describe(struct pyr *r, uint64_t fn, struct pg_py_func *out, int depth)
{
    memset(out, 0, sizeof *out);
    if (!fn || depth > 4)
        return 0;
    uint64_t t = pyr_type(r, fn);
    if (t && t == r->t_function) {
        uint64_t code = pyr_ptr(r, fn + (uint64_t)r->o->func_code);
        if (pyr_is(r, code, r->t_code)) {
            pyr_code_names(r, code, out);
            out->line = first_line(r, code);
        }
        pyr_str(r, pyr_ptr(r, fn + (uint64_t)r->o->func_qualname), out->name, sizeof out->name, 0);
        return 1;
    }
    if (t && t == r->t_method)
        return pyr_describe(r, pyr_ptr(r, fn + (uint64_t)r->o->meth_func), out, depth + 1);
    char b[PG_PY_NAME];
    if (!pyr_type_name(r, t, b, sizeof b))
        return 0;
    if (!strcmp(b, "functools.partial")) /* partialobject: {head, fn, args, kw, ...} */
        return pyr_describe(r, pyr_ptr(r, fn + 16), out, depth + 1);
    const char *base = strrchr(b, '.') ? strrchr(b, '.') + 1 : b;
    size_t n = strlen(base);
    if (n + 8 > sizeof out->name)
        n = sizeof out->name - 8;
    memcpy(out->name, base, n);
    memcpy(out->name + n, " object", 8);
    return 1;
}

/* A line table's varint (3.11+): 6 bits a byte, bit 6 says more follow. */
static unsigned varint(const unsigned char *t, long n, long *i)
{
    unsigned v = 0, shift = 0;
    while (*i < n && shift < 30) {
        unsigned char b = t[(*i)++];
        v |= (unsigned)(b & 63) << shift;
        shift += 6;
        if (!(b & 64))
            break;
    }
    return v;
}

static int svarint(const unsigned char *t, long n, long *i)
{
    unsigned v = varint(t, n, i);
    return (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
}

int pyr_code_line(struct pyr *r, uint64_t code, long addr)
{
    int line = first_line(r, code);
    uint64_t tab = pyr_ptr(r, code + (uint64_t)r->o->co_linetable);
    long n = tab ? pyr_seq_len(r, tab) : 0; /* a bytes object */
    static unsigned char t[65536];
    if (n <= 0 || n > (long)sizeof t || addr < 0 ||
        pyr_read(r, tab + (uint64_t)r->o->bytes_sval, t, (size_t)n) < 0)
        return line;
    if (r->minor <= 9) { /* co_lnotab: (address delta, line delta) byte pairs */
        long a = 0;
        for (long i = 0; i + 1 < n; i += 2) {
            a += t[i];
            if (a > addr)
                break;
            line += (signed char)t[i + 1];
        }
        return line;
    }
    if (r->minor == 10) { /* (address delta, line delta or -128 for none) byte pairs */
        long a = 0;
        for (long i = 0; i + 1 < n; i += 2) {
            long end = a + t[i];
            signed char d = (signed char)t[i + 1];
            if (d != -128)
                line += d;
            if (addr >= a && addr < end)
                return line;
            a = end;
        }
        return line;
    }
    /* 3.11+ location table: entries of (code, length in code units) and their line forms. */
    long unit = addr / 2, at = 0;
    for (long i = 0; i < n;) {
        unsigned char b = t[i++];
        if (!(b & 0x80))
            break;
        int kind = (b >> 3) & 15;
        long len = (b & 7) + 1;
        int delta = 0;
        if (kind == 15) {
            delta = 0;
        } else if (kind == 14) {
            delta = svarint(t, n, &i);
            varint(t, n, &i), varint(t, n, &i), varint(t, n, &i);
        } else if (kind == 13) {
            delta = svarint(t, n, &i);
        } else if (kind >= 10) {
            delta = kind - 10;
            i += 2;
        } else {
            i += 1;
        }
        line += delta;
        if (unit >= at && unit < at + len)
            return line;
        at += len;
    }
    return line;
}
