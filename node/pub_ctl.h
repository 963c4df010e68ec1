/* Shared plumbing of the tickraft-ctl subcommands that talk to a node's
 * publisher (node/ctl_status.c, ctl_tail.c, ...): common options, the
 * client, one-line errors with documented exit codes, table printing. */
#ifndef TICKRAFT_NODE_PUB_CTL_H
#define TICKRAFT_NODE_PUB_CTL_H

#include <stdio.h>

#include "tickraft/client.h"

/* Exit codes (docs/ctl.md). */
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1        /* the node answered with an error / the check failed */
#define CTL_EXIT_USAGE 2       /* bad command line */
#define CTL_EXIT_UNREACHABLE 3 /* no node answered */
#define CTL_EXIT_AUTH 4        /* bad or missing token, admin disabled */

#define CTL_MAX_NODES 16

struct ctl_common {
    const char *cmd;                    /* subcommand name, for messages */
    const char *nodes[CTL_MAX_NODES];
    size_t n_nodes;
    const char *token;
    const char *tls_ca, *tls_cert; /* --tls-ca / --tls-cert, or $TICKRAFT_TLS_CA / _CERT */
    int json;
    int help;
    char node_buf[1024];
    char token_buf[256];
};

/* Takes --node URL[,URL...] (repeatable; default $TICKRAFT_NODES or
 * TR_PROTO_DEFAULT_URL), --token T / --token-file F (default
 * $TICKRAFT_TOKEN), --json, --help out of argv, compacting the rest in
 * place (argv[0] stays). Returns 0 or CTL_EXIT_USAGE after printing why. */
int ctl_common_parse(struct ctl_common *o, const char *cmd, int *argc, char **argv);
/* The common options' help lines. */
void ctl_common_help(FILE *out);
/* Opens a client for o's nodes; prints and returns an exit code on failure. */
int ctl_client_open(const struct ctl_common *o, struct tr_client **c);
/* Prints "tickraft-ctl <cmd>: <message>" on stderr and returns the exit code
 * for `rc`. */
int ctl_fail(const struct ctl_common *o, int rc, const struct tr_error *err);
/* Prints a table: aligned columns, or a JSON array of objects with --json. */
void ctl_print_table(FILE *out, const struct tr_client_table *t, int json);
/* Runs admin `cmd` with args and prints the table; returns the exit code. */
int ctl_admin_print(const struct ctl_common *o, const char *cmd, const char *const *args,
                    size_t nargs, struct tr_client_table *keep);
/* Parses a time: integer ns since the epoch, or "YYYY-MM-DDTHH:MM:SS[.fff]Z".
 * 0 or -1. */
int ctl_parse_time(const char *s, int64_t *ns);
/* Writes `s` as a JSON string (quotes and escapes). */
void ctl_json_str(FILE *out, const char *s);

#endif
