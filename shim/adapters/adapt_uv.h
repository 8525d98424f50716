/*
 * What the two files of the libuv adapter share (adapt_uv.c: the thread pool's requests;
 * adapt_uv_async.c: async handles). Runs on the program's threads: declarations only.
 *
 * The shim does not include uv.h: the few libuv types needed are declared below, and only
 * pointers to them pass through.
 */
#ifndef POOLGUARD_ADAPT_UV_H
#define POOLGUARD_ADAPT_UV_H

#include "pg.h"

#include <errno.h>
#include <stddef.h>

/* libuv 1.x (uv.h): the request and loop stay opaque; the callback types are the public ones. */
typedef struct uv_loop_s uv_loop_t;
typedef struct uv_work_s uv_work_t;
typedef void (*uv_work_cb)(uv_work_t *req);
typedef void (*uv_after_work_cb)(uv_work_t *req, int status);
typedef int (*queue_work_fn)(uv_loop_t *, uv_work_t *, uv_work_cb, uv_after_work_cb);
typedef struct uv_async_s uv_async_t;
typedef struct uv_handle_s uv_handle_t;
typedef void (*uv_async_cb)(uv_async_t *handle);
typedef void (*uv_close_cb)(uv_handle_t *handle);
typedef int (*async_init_fn)(uv_loop_t *, uv_async_t *, uv_async_cb);
typedef int (*async_send_fn)(uv_async_t *);
typedef void (*close_fn)(uv_handle_t *, uv_close_cb);
typedef size_t (*loop_size_fn)(void);
/* libuv's error codes are negated errno values on Unix (uv-errno.h). */
#define UV_ECANCELED_ (-ECANCELED)
#define UV_ENOSYS_ (-ENOSYS)

/* A side table's entry that is free again (0: never used). */
#define UV_TOMB ((uintptr_t)1)

/* A broken invariant of the adapter's tables: said on stderr, then abort(). */
PG_HIDDEN void pg_uv_broken(const char *what);

#endif
