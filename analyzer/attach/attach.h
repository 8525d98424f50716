/*
 * Reading a process from outside: what `poolguard attach PID` (cmd_attach.c, ptrace) and
 * `poolguard core FILE` (core.c, a core dump) share. A front end fills an ext_proc (threads with
 * their registers, a libdw session that knows the modules and can unwind, a memory reader); this
 * module unwinds the stacks, decides from each thread's blocking system call and the glibc lock
 * words what it waits for, runs the shim's own proof (shim/detect/graph.c, linked, not copied) and writes
 * a raw report in the shim's format (docs/report-format.md), which the ordinary report path then
 * renders.
 *
 * glibc's lock words are foreign layouts: this module decodes them through the shim's own decoder,
 * shim/core/glibc.h (x86_64, the layouts of glibc 2.34 to 2.40, checked at build time against
 * <pthread.h>; the target's glibc version is not known here, so no run-time gate) and finds the thread descriptor's tid word from the
 * threads themselves, refusing to guess when it cannot be found. Nothing here writes to the
 * target: memory is only read.
 */
#ifndef POOLGUARD_ATTACH_H
#define POOLGUARD_ATTACH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <elfutils/libdwfl.h>

#include "cli.h"

enum { EXT_MAX_FRAMES = 128 };

/* What a thread waits on, as read from outside. */
typedef struct ext_wait {
    const char *kind; /* "mutex", "join", "cond", ... (report-format names); NULL: running */
    uint64_t address; /* the object (a mutex, the joined thread's pthread_t, a futex word) */
    bool timed;
    bool shared;  /* process-shared: another process could wake it */
    pid_t owner;  /* mutex or write-locked rwlock owner; 0 unknown */
    pid_t target; /* joined thread; 0 unknown */
} ext_wait;

typedef struct ext_thread {
    pid_t tid;
    char name[64];  /* "" when not known (cores do not keep thread names) */
    bool have_regs; /* stopped and read; otherwise it counts as running */
    long sysno;     /* the system call it is in, -1 for none (orig_rax on x86_64) */
    long sysret;    /* its return register: -ERESTART* while the call is interrupted */
    uint64_t args[6];
    uint64_t fs_base; /* the thread pointer: glibc's struct pthread */
    uint64_t pcs[EXT_MAX_FRAMES];
    int npcs;
    ext_wait wait;   /* filled by ext_analyze */
    int stop_signal; /* attach: a signal it stopped with, given back at detach */
} ext_thread;

struct pg_py_state;

typedef int (*ext_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

typedef struct ext_proc {
    const char *source; /* "attach" or "core" */
    pid_t pid, ppid;
    char *exe;   /* may be NULL */
    char **argv; /* NULL-terminated, may be NULL */
    ext_thread *threads;
    size_t nthreads;
    Dwfl *dwfl; /* modules reported, threads attached */
    ext_read_fn read;
    void *read_ctx;
    /* Every thread was read and nothing outside the threads can wake them (no signal handler
     * for an asynchronous signal): a whole-program hang can be proven. */
    bool can_prove_hang;
    /* Filled by ext_analyze. */
    void *graph; /* private */
    /* Filled by ext_python (pyremote.h): the CPython interpreter read from memory, or NULL;
     * py_status is ext_read_python's return (-ENOENT: no interpreter). */
    struct pg_py_state *py;
    int py_status;
} ext_proc;

/* Unwinds every thread with registers through p->dwfl. Returns 0 or -errno. */
int ext_unwind(ext_proc *p);
/* Decides what each thread waits on, reading the target's memory, and solves the wait-for graph.
 * Must run while the memory is still readable (for attach: before detaching). */
int ext_analyze(ext_proc *p);
/* Writes the raw report to fd: header, modules, findings; with all_threads, also a snapshot of
 * every thread. Returns the number of findings, or -errno. */
int ext_write_report(ext_proc *p, int fd, bool all_threads);
void ext_proc_release(ext_proc *p);

/* The options attach and core share: the rendering ones of cli.h plus their own. */
typedef struct ext_cli {
    cli_opts o;
    const char *raw;  /* --raw FILE: keep the raw report */
    bool all_threads; /* --all-threads */
} ext_cli;

/* Parses the options of `poolguard <cmd>`; returns the index of the first operand, or -1 after
 * printing help (*exit_code 0) or an error (*exit_code PG_EXIT_ERROR). */
int ext_cli_parse(ext_cli *c, const char *cmd, const char *usage, int argc, char **argv,
                  int *exit_code);
/* Writes the report of p, renders it as `poolguard report` does, and returns the exit code. */
int ext_cli_finish(ext_cli *c, ext_proc *p);

/* Attaches to pid as `poolguard attach` does and writes its raw report to path (created; with
 * all_threads, a snapshot of every thread too), without rendering it: how `poolguard run` takes
 * the time-out snapshot of a program that runs outside the shim. Returns 0, or PG_EXIT_ERROR after
 * saying why on stderr. */
int ext_attach_to_file(pid_t pid, const char *path, bool all_threads);

int cmd_attach(int argc, char **argv);
int cmd_core(int argc, char **argv);

#endif
