/*
 * The program's process group for `poolguard run` (run_group.c): cmd_run.c prepares the report
 * directory and reads it afterwards; these start the program, pass signals on and watch it.
 */
#ifndef POOLGUARD_RUN_GROUP_H
#define POOLGUARD_RUN_GROUP_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "run_watch.h"

typedef enum { END_EXITED, END_FINDING, END_TIMEOUT, END_SIGNAL } run_end;

/* The program's process group while it runs, 0 otherwise: signals sent to poolguard go to it. */
extern volatile pid_t run_child_group;

/* Passes poolguard's signals on to run_child_group, keeping those it was started with ignored;
 * remembers every disposition and the mask for the program. */
void run_take_signals(void);
/* Forks CMD into its own process group with the shim's environment. Returns the pid, or a
 * negative exit code (-126/-127) when CMD cannot be executed. */
pid_t run_spawn(char **cmd, const char *shim, const char *dir, const char *notify, bool tty);
/* Supervises the group until the program ends, a finding stops it, or the time-out; then kills
 * what is left of the group. */
run_end run_supervise(pid_t pid, const char *dir, int notify_fd, double timeout_s,
                      bool stop_on_finding, bool tty, int *status, run_watch *w);

#endif
