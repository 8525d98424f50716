/*
 * What the files that put findings in the user's words share, and nothing else includes
 * (analyze.h declares what the renderers use). They are split by what they put in words:
 *   describe.c         the sentence of a finding (analyze_describe) and its clauses
 *   describe_names.c   frames, calls, task functions, ordinals, pools
 *   describe_lock.c    locks, by the variable that holds them or the site that made them
 *   describe_python.c  a Python pool's workers and what each waits on
 */
#ifndef POOLGUARD_DESCRIBE_INT_H
#define POOLGUARD_DESCRIBE_INT_H

#include "analyze.h"

/* describe_python.c: "Event.wait()", what a Python worker blocked in (the shim's word b), or
 * NULL for a worker that is idle or running. */
const char *describe_py_blocked_words(const char *b);

#endif
