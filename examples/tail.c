/* Example: print live events from a tickraft cluster as JSON lines.
 *
 *   tickraft-example-tail [--instrument GLOB] [--earliest] URL [URL...]
 *
 * Shows the basic SDK loop: open with a node list, subscribe with a filter,
 * poll, and keep the cursor so a restart could resume where it stopped.
 * Failover between the URLs is automatic. Stops on SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tickraft/client.h"

static volatile sig_atomic_t stop;

static void on_sigint(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    const char *nodes[16];
    size_t n_nodes = 0;
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_LATEST};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--instrument") == 0 && i + 1 < argc)
            so.instrument = argv[++i];
        else if (strcmp(argv[i], "--earliest") == 0)
            so.start = TR_CLIENT_START_EARLIEST;
        else if (n_nodes < 16)
            nodes[n_nodes++] = argv[i];
    }
    if (!n_nodes) {
        fprintf(stderr, "usage: %s [--instrument GLOB] [--earliest] URL [URL...]\n", argv[0]);
        return 2;
    }
    signal(SIGINT, on_sigint);
    signal(SIGPIPE, SIG_IGN);

    struct tr_client_options co = {.nodes = nodes, .n_nodes = n_nodes};
    struct tr_client *c;
    struct tr_client_sub *s;
    struct tr_error err;
    if (tr_client_open(&c, &co, &err) || tr_client_subscribe(c, &so, &s, &err)) {
        fprintf(stderr, "tail: %s\n", err.msg);
        return 1;
    }
    struct tr_buf line;
    tr_buf_init(&line);
    struct tr_client_msg m;
    while (!stop) {
        int rc = tr_client_sub_poll(s, &m, 500, &err);
        if (rc == 0 || rc == TR_ECONNREFUSED)
            continue; /* nothing yet, or every node down for the moment */
        if (rc < 0) {
            fprintf(stderr, "tail: %s\n", err.msg);
            break;
        }
        if (m.type == TR_CLIENT_FAILOVER) {
            fprintf(stderr, "tail: resumed on %s\n", m.node);
            continue;
        }
        if (m.type == TR_CLIENT_FELL_BEHIND) {
            fprintf(stderr, "tail: fell behind retention, some events were not seen\n");
            continue;
        }
        line.len = 0;
        if (tr_event_to_json(&m.ev, &line) == 0)
            printf("%.*s\n", (int)line.len, (const char *)line.data);
    }
    tr_buf_free(&line);
    tr_client_sub_free(s);
    tr_client_close(c);
    return 0;
}
