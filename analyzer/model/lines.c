/*
 * Bounded line reader (see lines.h). Memory use is the cap plus one read chunk, whatever the input.
 */
#include "lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { CHUNK = 64 * 1024 };

struct lines {
    int fd;
    size_t max;
    char *buf;       /* the line being assembled: at most max bytes + NUL */
    size_t len, cap; /* cap grows with the longest line seen, up to max + 1 */
    bool skipping;   /* inside an over-long line: drop bytes until '\n' */
    char *chunk;     /* bytes read but not yet consumed */
    size_t chunk_pos, chunk_len;
    bool eof;
};

lines *lines_new(int fd, size_t max_line)
{
    lines *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->fd = fd;
    l->max = max_line;
    l->cap = max_line + 1 < 4096 ? max_line + 1 : 4096;
    l->buf = malloc(l->cap);
    l->chunk = malloc(CHUNK);
    if (!l->buf || !l->chunk) {
        lines_free(l);
        return NULL;
    }
    return l;
}

void lines_free(lines *l)
{
    if (!l)
        return;
    free(l->buf);
    free(l->chunk);
    free(l);
}

static int refill(lines *l)
{
    for (;;) {
        ssize_t n = read(l->fd, l->chunk, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        l->chunk_pos = 0;
        l->chunk_len = (size_t)n;
        return n > 0;
    }
}

int lines_next(lines *l, bool final, char **line, size_t *len, int *flags)
{
    for (;;) {
        if (l->chunk_pos == l->chunk_len) {
            int r = refill(l);
            if (r < 0)
                return r;
            if (r == 0) {
                /* The rest of an over-long line was already handed out with its start. */
                if (!final || l->skipping || l->len == 0)
                    return 0;
                /* The file ends inside a line: hand it out once, marked. */
                *flags = LINES_TRUNCATED;
                l->buf[l->len] = '\0';
                *line = l->buf;
                *len = l->len;
                l->len = 0;
                return 1;
            }
        }
        char *start = l->chunk + l->chunk_pos;
        size_t avail = l->chunk_len - l->chunk_pos;
        char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        l->chunk_pos += take + (nl ? 1 : 0);
        if (l->skipping) {
            if (nl)
                l->skipping = false;
            continue;
        }
        size_t room = l->max - l->len;
        size_t copy = take < room ? take : room;
        if (l->len + copy + 1 > l->cap) {
            size_t ncap = l->cap;
            while (ncap < l->len + copy + 1)
                ncap *= 2;
            if (ncap > l->max + 1)
                ncap = l->max + 1;
            char *nb = realloc(l->buf, ncap);
            if (!nb)
                return -ENOMEM;
            l->buf = nb;
            l->cap = ncap;
        }
        memcpy(l->buf + l->len, start, copy);
        l->len += copy;
        if (take > room) {
            /* Over the cap: hand out the start now, so that a line without end (a device, a
             * binary file) is never read to its end just to be rejected; skip the rest. */
            l->skipping = !nl;
            *flags = LINES_TOO_LONG;
            l->buf[l->len] = '\0';
            *line = l->buf;
            *len = l->len;
            l->len = 0;
            return 1;
        }
        if (nl) {
            *flags = 0;
            l->buf[l->len] = '\0';
            *line = l->buf;
            *len = l->len;
            l->len = 0;
            return 1;
        }
    }
}
