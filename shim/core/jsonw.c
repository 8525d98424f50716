/*
 * The report's JSON writer. Pure: it knows nothing of the shim's state, allocates nothing and
 * writes only to the descriptor it is given, so the unit tests drive it directly. Strings are
 * escaped for JSON and any byte sequence that is not valid UTF-8 is replaced, so that a thread name
 * or a path with odd bytes cannot make the line unreadable.
 */
#include "jsonw.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void pg_jw_init(struct pg_jw *w, int fd, char *buf, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->buf = buf;
    w->cap = cap;
}

static int drain(struct pg_jw *w)
{
    if (w->fd < 0) {
        w->err = -ENOSPC;
        return -1;
    }
    size_t off = 0;
    while (off < w->len) {
        ssize_t n = write(w->fd, w->buf + off, w->len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            w->err = -errno;
            w->len = 0;
            return -1;
        }
        off += (size_t)n;
    }
    w->len = 0;
    return 0;
}

static void put(struct pg_jw *w, const char *s, size_t n)
{
    while (n > 0) {
        if (w->len == w->cap && drain(w) < 0)
            return;
        size_t room = w->cap - w->len;
        size_t k = n < room ? n : room;
        memcpy(w->buf + w->len, s, k);
        w->len += k;
        s += k;
        n -= k;
    }
}

static void putc1(struct pg_jw *w, char c)
{
    put(w, &c, 1);
}

/* Before any value: a comma if it is not the first in its container. */
static void pre(struct pg_jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0) {
        if (w->count[w->depth - 1])
            putc1(w, ',');
        w->count[w->depth - 1] = 1;
    }
}

static void open_(struct pg_jw *w, char c)
{
    pre(w);
    putc1(w, c);
    if (w->depth < PG_JW_DEPTH)
        w->count[w->depth] = 0;
    w->depth++;
}

static void close_(struct pg_jw *w, char c)
{
    if (w->depth > 0)
        w->depth--;
    putc1(w, c);
}

void pg_jw_obj(struct pg_jw *w)
{
    open_(w, '{');
}
void pg_jw_obj_end(struct pg_jw *w)
{
    close_(w, '}');
}
void pg_jw_arr(struct pg_jw *w)
{
    open_(w, '[');
}
void pg_jw_arr_end(struct pg_jw *w)
{
    close_(w, ']');
}

static void str_body(struct pg_jw *w, const char *s, size_t n);

void pg_jw_key(struct pg_jw *w, const char *k)
{
    pre(w);
    str_body(w, k, strlen(k));
    putc1(w, ':');
    w->after_key = 1;
}

/* Length of a valid UTF-8 sequence starting at s (at most n bytes), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        len = 2, min = 0x80, c &= 0x1f;
    else if ((c & 0xf0) == 0xe0)
        len = 3, min = 0x800, c &= 0x0f;
    else if ((c & 0xf8) == 0xf0)
        len = 4, min = 0x10000, c &= 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return len;
}

static void str_body(struct pg_jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    putc1(w, '"');
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            put(w, e, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            put(w, e, 6);
            i++;
        } else {
            size_t k = utf8_len(p + i, n - i);
            if (k == 0) {
                put(w, "\\ufffd", 6);
                i++;
            } else {
                put(w, s + i, k);
                i += k;
            }
        }
    }
    putc1(w, '"');
}

void pg_jw_strn(struct pg_jw *w, const char *s, size_t n)
{
    pre(w);
    str_body(w, s, n);
}

void pg_jw_str(struct pg_jw *w, const char *s)
{
    if (!s) {
        pg_jw_null(w);
        return;
    }
    pre(w);
    str_body(w, s, strlen(s));
}

void pg_jw_int(struct pg_jw *w, long long v)
{
    char tmp[24];
    int i = sizeof tmp;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    pre(w);
    put(w, tmp + i, sizeof tmp - (size_t)i);
}

void pg_jw_hex(struct pg_jw *w, uintptr_t v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[24];
    int i = sizeof tmp;
    tmp[--i] = '"';
    do {
        tmp[--i] = hex[v & 15];
        v >>= 4;
    } while (v);
    tmp[--i] = 'x';
    tmp[--i] = '0';
    tmp[--i] = '"';
    pre(w);
    put(w, tmp + i, sizeof tmp - (size_t)i);
}

void pg_jw_bool(struct pg_jw *w, int v)
{
    pre(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

void pg_jw_null(struct pg_jw *w)
{
    pre(w);
    put(w, "null", 4);
}

int pg_jw_line(struct pg_jw *w)
{
    putc1(w, '\n');
    w->depth = 0;
    w->after_key = 0;
    if (w->fd >= 0)
        drain(w);
    return w->err;
}
