/* tickraft-ctl metrics: show the node's counters (publisher, log, pipeline) (admin RPC "metrics", docs/ctl.md). */
#include <stdio.h>
#include <string.h>

#include "pub_ctl.h"

const char ctl_metrics_help[] = "show the node's counters (publisher, log, pipeline)";

int ctl_metrics_main(int argc, char **argv)
{
    struct ctl_common o;
    int rc = ctl_common_parse(&o, "metrics", &argc, argv);
    if (rc)
        return rc;
    if (o.help) {
        printf("usage: tickraft-ctl metrics [options]\n\n%s\n\n", ctl_metrics_help);
        ctl_common_help(stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "tickraft-ctl metrics: unexpected argument '%s'\n", argv[1]);
        return CTL_EXIT_USAGE;
    }
    return ctl_admin_print(&o, "metrics", NULL, 0, NULL);
}
