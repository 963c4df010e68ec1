/* A stand-in node process for the kill -9 test (test_client_kill9): opens
 * the durable log in DIR, appends seqs FROM..TO of N instruments (fsynced),
 * starts the publisher on URL, prints "ready" and serves until killed.
 *
 *   client_pubd DIR URL FROM TO N */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "client_harness.h"

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: client_pubd DIR URL FROM TO N\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct ch_node n;
    memset(&n, 0, sizeof n);
    snprintf(n.dir, sizeof n.dir, "%s", argv[1]);
    snprintf(n.url, sizeof n.url, "%s", argv[2]);
    if (ch_log_open(&n, 0))
        return 1;
    if (ch_write(n.log, atoi(argv[5]), strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10),
                 0)) {
        tr_log_close(n.log, NULL);
        return 1;
    }
    /* a killed predecessor leaves its ipc socket file behind */
    if (strncmp(n.url, "ipc://", 6) == 0)
        unlink(n.url + 6);
    if (ch_pub_open(&n, NULL)) {
        fprintf(stderr, "client_pubd: cannot serve on %s\n", n.url);
        tr_log_close(n.log, NULL); /* keep its data for the next start */
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;)
        pause();
}
