/* Test harness for tickraft-sim integration tests: starts the simulator as
 * a process on a free loopback port (--port 0, port read from its stdout),
 * stops it by pid, and small WebSocket/HTTP expectations on top of the raw
 * client in sim/rawclient.c. */
#ifndef TR_TEST_SIM_HARNESS_H
#define TR_TEST_SIM_HARNESS_H

#include <sys/types.h>

#include "sim.h"

struct simproc {
    pid_t pid;
    int port;
};

/* argv: extra arguments after the program name, NULL-terminated. Returns 0
 * or -1. */
int simproc_start(struct simproc *p, const char *const *args);
/* SIGTERM, wait (SIGKILL after 5 s). Returns the exit status. */
int simproc_stop(struct simproc *p);

/* Reads frames until one contains `needle`; returns it (caller frees) or
 * NULL after timeout_ms total or on close. If `close_code` is not NULL, a
 * close frame stores its code there (1006 for EOF without close frame) and
 * returns NULL. */
char *ws_expect(struct sim_rc *c, const char *needle, int timeout_ms, int *close_code);
/* Reads until the connection ends; returns the close code (1006: none). */
int ws_wait_close(struct sim_rc *c, int timeout_ms);
/* GET/POST returning status; body (caller frees) optional. */
int http_get(int port, const char *path, char **body);
int sim_ctl(int port, const char *fault_and_args);
/* Counts lines of a file containing `needle` (NULL: all lines). */
long file_count(const char *path, const char *needle);
void sleep_ms(int ms);

#endif
