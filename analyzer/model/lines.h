/*
 * Bounded line reader over a file descriptor. Raw reports can be huge, binary or still being
 * written, so lines are read in fixed chunks, never longer than a cap (the rest of an over-long
 * line is skipped), and a partial last line can either wait for more data (live polling) or be
 * handed out as truncated (the file is final).
 */
#ifndef POOLGUARD_LINES_H
#define POOLGUARD_LINES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lines lines;

enum {
    LINES_TOO_LONG = 1,  /* longer than the cap: its start, returned as soon as the cap is hit */
    LINES_TRUNCATED = 2, /* the file ended without a newline after this line */
};

/* Takes no ownership of fd. max_line is the cap in bytes. */
lines *lines_new(int fd, size_t max_line);
void lines_free(lines *l);
/* Returns 1 and a NUL-terminated line (without '\n'; valid until the next call), 0 at the end of
 * the data available now, or -errno. With final, a partial last line is returned with
 * LINES_TRUNCATED; without, it is kept until more data arrives. */
int lines_next(lines *l, bool final, char **line, size_t *len, int *flags);

#endif
