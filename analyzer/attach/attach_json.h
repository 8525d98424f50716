/*
 * The raw report's pieces that attach_report.c (threads, deadlocks, snapshot) and attach_pyfind.c
 * (Python pool findings) both write. Internal to analyzer/attach.
 */
#ifndef POOLGUARD_ATTACH_JSON_H
#define POOLGUARD_ATTACH_JSON_H

#include <stdint.h>

#include <jansson.h>

#include "attach.h"

/* Writes o as one line to fd and releases it. Returns 0 or -errno. */
int ext_put_line(int fd, json_t *o);
uint64_t ext_unix_ms(void);
/* Thread i of p as a finding's or snapshot's thread record, with that role. */
json_t *ext_thread_json(const ext_proc *p, int i, const char *role);

/* The index in p->threads of the native thread behind Python thread pt, or -1. */
struct pg_py_thread;
int ext_native_of(const ext_proc *p, const struct pg_py_thread *pt);
/* Judges p->py with the shim's Python rules and writes the findings one reading proves, numbered
 * from seq + 1. Returns how many, or -errno. */
int ext_write_python_findings(ext_proc *p, int fd, int seq);

#endif
