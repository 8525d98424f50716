/*
 * What the text report's files share, and nothing else includes: the other renderers see
 * render.h only. The report is split by what each part prints:
 *   render_text.c         the headline of a finding or snapshot, the chains (a deadlock's cycle,
 *                         a cycle of lock orders), the closing count, and wrapping to a width
 *   render_text_thread.c  each thread: its wait, its task in a pool, its holds, its stack with
 *                         the runtime's frames folded
 *   render_text_pool.c    a finding's pool: what it is, how poolguard knows it, its queue
 *
 * Read-only over the model; colour and width come in render_opts and are only applied.
 */
#ifndef POOLGUARD_RENDER_TEXT_INT_H
#define POOLGUARD_RENDER_TEXT_INT_H

#include "render.h"

typedef struct tctx {
    FILE *out;
    const render_opts *o;
} tctx;

static inline const char *C(const tctx *c, const char *code)
{
    return c->o->color ? code : "";
}
#define RESET "\033[0m"
#define BOLD "\033[1m"
#define DIM "\033[2m"
#define RED "\033[31m"
#define YELLOW "\033[33m"
#define CYAN "\033[36m"

/* render_text_thread.c: threads and stacks. */

/* A stack, frame by frame, each line starting with indent; the runtime's frames folded. */
void text_print_stack(tctx *c, const pg_stack *s, const char *indent);
/* " at file:line" or " in module" for a frame, into buf. */
const char *text_frame_where(const pg_frame *f, char *buf, size_t len);
/* One thread of finding f (NULL: of a snapshot); a thread that runs shows its stack only when
 * with_stack_when_running. */
void text_print_thread_in(tctx *c, const pg_finding *f, const pg_mthread *t,
                          bool with_stack_when_running);
void text_print_thread(tctx *c, const pg_mthread *t, bool with_stack_when_running);

/* render_text_pool.c: the pool of finding f (f->pool_info.present). */
void text_print_pool(tctx *c, const pg_finding *f);

#endif
