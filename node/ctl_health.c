/* tickraft-ctl health: check the node's health; exit 1 when a check fails (admin RPC "health", docs/ctl.md). */
#include <stdio.h>
#include <string.h>

#include "pub_ctl.h"

const char ctl_health_help[] = "check the node's health; exit 1 when a check fails";

int ctl_health_main(int argc, char **argv)
{
    struct ctl_common o;
    int rc = ctl_common_parse(&o, "health", &argc, argv);
    if (rc)
        return rc;
    if (o.help) {
        printf("usage: tickraft-ctl health [options]\n\n%s\n\n", ctl_health_help);
        ctl_common_help(stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "tickraft-ctl health: unexpected argument '%s'\n", argv[1]);
        return CTL_EXIT_USAGE;
    }
    struct tr_client_table t;
    rc = ctl_admin_print(&o, "health", NULL, 0, &t);
    if (rc)
        return rc;
    size_t state = t.n_cols;
    for (size_t c = 0; c < t.n_cols; c++)
        if (strcmp(t.cols[c], "state") == 0)
            state = c;
    for (size_t r = 0; state < t.n_cols && r < t.n_rows; r++)
        if (strcmp(t.cells[r * t.n_cols + state], "ok") != 0)
            rc = CTL_EXIT_FAIL;
    tr_client_table_free(&t);
    return rc;
}
