/*
 * A streaming JSON writer with a fixed buffer: no allocation, so the watchdog can use it at any
 * time. Output goes to a file descriptor whenever the buffer fills and at pg_jw_flush(); a line
 * longer than the buffer is simply written in several pieces. Commas are inserted automatically.
 */
#ifndef POOLGUARD_JSONW_H
#define POOLGUARD_JSONW_H

#include <stddef.h>
#include <stdint.h>

#define PG_JW_DEPTH 32

struct pg_jw {
    int fd; /* -1: keep everything in the buffer (tests); overflow sets err */
    char *buf;
    size_t cap, len;
    int err; /* a write failed or the buffer overflowed: the output is incomplete */
    int depth;
    unsigned char count[PG_JW_DEPTH]; /* values written at each open level (0, 1 = "more") */
    int after_key;
};

void pg_jw_init(struct pg_jw *w, int fd, char *buf, size_t cap);
void pg_jw_obj(struct pg_jw *w);
void pg_jw_obj_end(struct pg_jw *w);
void pg_jw_arr(struct pg_jw *w);
void pg_jw_arr_end(struct pg_jw *w);
void pg_jw_key(struct pg_jw *w, const char *k);
void pg_jw_str(struct pg_jw *w, const char *s);
void pg_jw_strn(struct pg_jw *w, const char *s, size_t n);
void pg_jw_int(struct pg_jw *w, long long v);
void pg_jw_hex(struct pg_jw *w, uintptr_t v);
void pg_jw_bool(struct pg_jw *w, int v);
void pg_jw_null(struct pg_jw *w);
/* Ends the current line ("\n") and writes everything out. Returns 0 or -errno. */
int pg_jw_line(struct pg_jw *w);

#endif
